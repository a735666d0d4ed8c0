//! `refrain roundtrip`: song → model-rate window → mel → vocoder → song rate, with metrics.
use super::{model_dir, song};
use anyhow::{Context, Result};
use refrain_engine::audio::{self, Audio};
use refrain_engine::model::Provider;
use refrain_engine::pipeline::{self, PreparedSong};
use refrain_engine::spectrogram::{self, AudioConfig, GriffinLim, MelTransform, Spectrum};
use refrain_engine::{locator, vocoder};
use std::path::PathBuf;

/// Arguments of `refrain roundtrip`.
#[derive(clap::Args)]
pub struct Args {
    /// The song (WAV, FLAC, MP3 or OGG).
    song: PathBuf,
    /// Where to write original.wav and roundtrip.wav.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// Start of the window in seconds (default: the loudest window).
    #[arg(long)]
    offset: Option<f64>,
    /// Griffin-Lim iterations (default: the config's; the griffin-lim vocoder only).
    #[arg(long)]
    iters: Option<usize>,
    /// The vocoder (griffin-lim, pghi, neural), or `all` for one WAV per vocoder
    /// (`roundtrip-<name>.wav`) to compare by ear.
    #[arg(long, default_value = vocoder::DEFAULT)]
    vocoder: String,
    /// Seed for the vocoder's random initial phases.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Also pass the mel through this model version's autoencoder (encode → decode), to hear
    /// what the latent keeps.
    #[arg(long)]
    model: Option<PathBuf>,
}

/// Runs the round trip and prints what it wrote and how close it is.
pub fn run(args: &Args) -> Result<()> {
    let mut model = args
        .model
        .as_deref()
        .map(|dir| model_dir::load(dir, Provider::Cpu))
        .transpose()?;
    let config = model
        .as_ref()
        .map_or_else(AudioConfig::default, |m| m.manifest().audio.clone());
    let song = song::load(&args.song, args.offset, 1.0)?;
    let song_rate = song.audio.sample_rate;
    // The same window choice (and refusals) as generation, so what this plays is what vary hears.
    let PreparedSong { window, usage } = pipeline::prepare(&song, &config, None)?;

    let mut transform = MelTransform::new(&config)?;
    let (mut mel, reference) = transform.mel_db(&window)?;
    spectrogram::to_unit(&mut mel.data, config.top_db);
    let mut through = "the mel spectrogram".to_string();
    let decoded = match model.as_mut() {
        Some(model) => {
            let latent = model.encode(&mel)?;
            let decoded = model.decode(&latent)?;
            let l1 = mean_abs_diff(&mel.data, &decoded.data);
            let m = model.manifest();
            through = format!("the autoencoder of {} v{}", m.name, m.version);
            println!("autoencoder: mel L1 (model range [-1,1]) {l1:.4} for encode → decode");
            decoded
        }
        None => mel.clone(),
    };
    let iters = args.iters.unwrap_or(config.griffin_lim_iters);
    let names: Vec<&str> = if args.vocoder == "all" {
        vocoder::NAMES.to_vec()
    } else if vocoder::NAMES.contains(&args.vocoder.as_str()) {
        vec![args.vocoder.as_str()]
    } else {
        return Err(vocoder::VocoderError::Unknown(args.vocoder.clone()).into());
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let write = |path: &PathBuf, samples: &[f32]| -> Result<()> {
        let mut back = audio::resample(samples, config.sample_rate, song_rate)?;
        // A round trip can overshoot a source that peaks near 0 dBFS; the 24-bit file would
        // clip it, so it is scaled under full scale instead (and says so).
        let peak = back.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let note = if peak > 1.0 {
            let gain = audio::PEAK_CEILING / peak;
            back.iter_mut().for_each(|x| *x *= gain);
            format!(
                " (peak {:+.2} dBFS scaled down {:.2} dB so it does not clip)",
                20.0 * peak.log10(),
                -20.0 * gain.log10()
            )
        } else {
            String::new()
        };
        audio::write_wav_pcm24(path, &Audio::from_mono(song_rate, back))?;
        println!("wrote {}{note}", path.display());
        Ok(())
    };
    println!(
        "window: {:.2} s from {:.2} s of {} ({} Hz → {} Hz → {} Hz), through {through}",
        config.window_secs(),
        usage.offset_s,
        args.song.display(),
        song_rate,
        config.sample_rate,
        song_rate
    );
    write(&args.out.join("original.wav"), &window)?;
    let mut x = Spectrum::default();
    transform.stft().forward(&window, &mut x);
    for name in names {
        let rebuilt = if name == vocoder::GRIFFIN_LIM {
            transform.from_model(&decoded, GriffinLim::fast(iters, args.seed))?
        } else {
            let (mut v, warning) = vocoder::resolve(name, &config, &locator::shipped_vocoder())?;
            if let Some(warning) = warning {
                eprintln!("warning: {warning}");
                if args.vocoder == "all" {
                    // Griffin-Lim has its own file already.
                    continue;
                }
            }
            v.render(&decoded, args.seed)?
        };
        // The model range drops absolute level (ref = max); restore it from the analysis.
        let gain = reference.sqrt();
        let rebuilt: Vec<f32> = rebuilt.iter().map(|x| x * gain).collect();
        let mut y = Spectrum::default();
        transform.stft().forward(&rebuilt, &mut y);
        let convergence = spectrogram::spectral_convergence(&x, &y);
        let mel_back = transform.to_model(&rebuilt)?;
        let mel_l1 = mean_abs_diff(&mel.data, &mel_back.data);
        let detail = if name == vocoder::GRIFFIN_LIM {
            format!(" ({iters} iterations, fast, momentum 0.99)")
        } else {
            String::new()
        };
        println!(
            "{name}{detail}: spectral convergence {convergence:.4}   mel L1 (model range [-1,1]) {mel_l1:.4}"
        );
        let file = if args.vocoder == "all" {
            format!("roundtrip-{name}.wav")
        } else {
            "roundtrip.wav".to_string()
        };
        write(&args.out.join(file), &rebuilt)?;
    }
    Ok(())
}

fn mean_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len().max(1) as f32
}
