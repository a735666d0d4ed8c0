//! `refrain-trainer roundtrip`: what the model keeps of a song — the DSP round trip, the
//! autoencoder round trip and one variation of its loudest window, without and with Detail, as
//! WAV files.
use anyhow::{bail, Context, Result};
use refrain_engine::audio::{self, Audio};
use refrain_engine::ddim::{DdimParams, Sampler, Start};
use refrain_engine::model::{Model, ModelOptions, Provider};
use refrain_engine::pipeline::detail::{self, DEFAULT_DETAIL};
use refrain_engine::spectrogram::MelTransform;
use refrain_trainer::evaluate::{analyse, mel_l1, render, sample, spectral_convergence};
use std::path::PathBuf;

/// Arguments of `refrain-trainer roundtrip`.
#[derive(clap::Args)]
pub struct Args {
    /// The song (WAV, FLAC, MP3 or OGG).
    #[arg(default_value = "examples/loop.wav")]
    song: PathBuf,
    /// The model version directory (default: the shipped base, found by the engine's locator).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Where to write the WAV files.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// Image-to-image strength of the variation.
    #[arg(long, default_value_t = 0.5)]
    strength: f64,
    /// DDIM steps of the variation.
    #[arg(long, default_value_t = 25)]
    steps: usize,
    /// Seed of the variation.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Writes original.wav, dsp.wav, autoencoder.wav, variation.wav and variation-detail.wav (the
/// same variation with the song's detail added back, as the plugin plays it by default) and
/// prints how close each is.
pub fn run(args: &Args) -> Result<()> {
    let options = ModelOptions {
        provider: Provider::Cpu,
        ..ModelOptions::default()
    };
    let dir = model_dir(args.model.as_deref());
    let mut model = Model::load(&dir, options)
        .with_context(|| format!("loading the model {}", dir.display()))?;
    let config = model.manifest().audio.clone();
    let song = audio::read_file(&args.song)?;
    let mono = audio::resample(&song.mono(), song.sample_rate, config.sample_rate)?;
    let len = config.window_samples();
    let start = audio::loudest_window(&mono, len, config.hop_length);
    let window = audio::fit_length(&mono[start.min(mono.len())..], len);
    if window.iter().all(|x| *x == 0.0) {
        bail!("{} is silent: nothing to round-trip", args.song.display());
    }
    let mut t = MelTransform::new(&config)?;
    let (mel, reference) = analyse(&mut t, &window)?;
    let latent = model.encode(&mel)?;
    let back = model.decode(&latent)?;
    let sampler = Sampler::from_manifest(model.manifest())?;
    let params = DdimParams {
        steps: args.steps,
        eta: 0.0,
    };
    let start_at = Start::Latent {
        latent: &latent,
        strength: args.strength,
    };
    let varied = sample(&mut model, &sampler, start_at, args.seed, &params)?;
    let variation = model.decode(&varied)?;
    let gain = detail::gain(
        sampler.schedule(),
        args.steps,
        args.strength,
        DEFAULT_DETAIL,
    )?;
    let detailed = detail::with_song_detail(&variation, &mel, &back, gain);

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let dsp = render(&mut t, &mel, reference)?;
    let ae = render(&mut t, &back, reference)?;
    let var = render(&mut t, &variation, reference)?;
    let var_detail = render(&mut t, &detailed, reference)?;
    for (name, samples) in [
        ("original", &window),
        ("dsp", &dsp),
        ("autoencoder", &ae),
        ("variation", &var),
        ("variation-detail", &var_detail),
    ] {
        let path = args.out.join(format!("{name}.wav"));
        audio::write_wav(
            &path,
            &Audio::from_mono(config.sample_rate, samples.clone()),
        )?;
        println!("wrote {}", path.display());
    }
    println!(
        "{} {} on {:.2} s from {:.2} s of {}",
        model.manifest().name,
        model.manifest().version,
        config.window_secs(),
        start as f64 / f64::from(config.sample_rate),
        args.song.display()
    );
    println!(
        "spectral convergence vs original: dsp {:.4}, autoencoder {:.4}, variation {:.4}, with detail {:.4}",
        spectral_convergence(&mut t, &window, &dsp),
        spectral_convergence(&mut t, &window, &ae),
        spectral_convergence(&mut t, &window, &var),
        spectral_convergence(&mut t, &window, &var_detail)
    );
    println!(
        "mel L1 (model range): autoencoder {:.4}; variation (strength {}, {} steps) vs autoencoder {:.4}",
        mel_l1(&back.data, &mel.data),
        args.strength,
        args.steps,
        mel_l1(&variation.data, &back.data)
    );
    Ok(())
}

/// `--model`, else the shipped base by the engine's locator rule (with the data dir when there
/// is one), as the `refrain` CLI finds it.
pub fn model_dir(explicit: Option<&std::path::Path>) -> PathBuf {
    explicit.map_or_else(
        || {
            refrain_engine::locator::shipped_base(
                refrain_engine::locator::data_dir().ok().as_deref(),
            )
        },
        std::path::Path::to_path_buf,
    )
}
