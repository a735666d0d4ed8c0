//! `refrain vary` and `refrain sample`: generate clips and write WAV + JSON sidecars.
use super::{model_dir, song};
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use refrain_engine::audio::{self, Audio};
use refrain_engine::model::Provider;
use refrain_engine::pipeline::detail::DEFAULT_DETAIL;
use refrain_engine::pipeline::tempo::BarFit;
use refrain_engine::pipeline::{GenerateRequest, Pipeline, Progress, SeamSteps, SongInput};
use std::ops::ControlFlow;
use std::path::PathBuf;

/// Options shared by `vary` and `sample`.
#[derive(clap::Args)]
pub struct Common {
    /// DDIM steps over the full schedule.
    #[arg(long, default_value_t = 50)]
    steps: usize,
    /// Number of variations (seeds seed, seed+1, ...).
    #[arg(long, default_value_t = 4)]
    count: usize,
    /// First seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// DDIM η: 0 is deterministic, 1 adds fresh noise each step.
    #[arg(long, default_value_t = 0.0)]
    eta: f64,
    /// Execution provider: auto, cpu or cuda.
    #[arg(long, default_value = "auto")]
    provider: Provider,
    /// Model version: a directory, or the name of a version installed in the data dir's
    /// `models/` (an import such as `teticio--latent-audio-diffusion-256`); default: the current
    /// version, else the shipped base.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Output sample rate (default: the first song's, or 44100 Hz).
    #[arg(long)]
    rate: Option<u32>,
    /// Where to write clip-<seed>.wav and clip-<seed>.json.
    #[arg(long)]
    out: PathBuf,
    /// Mel to audio: griffin-lim, pghi or neural (default: the model version's, see the
    /// README's Vocoders). A neural vocoder that cannot load falls back to Griffin-Lim with a
    /// warning.
    #[arg(long)]
    vocoder: Option<String>,
    /// Clip length in bars at --bpm: the songs' bars (from --offset, taken as a bar line, else
    /// the loudest bar) are stretched into the model's window, longer clips are continued
    /// window by window, and each clip is exactly this many bars and loops without a step.
    #[arg(long, requires = "bpm")]
    bars: Option<u32>,
    /// The songs' tempo in beats per minute (with --bars).
    #[arg(long, requires = "bars")]
    bpm: Option<f64>,
    /// Beats per bar (with --bars; 3 for 3/4, 3.5 for 7/8).
    #[arg(long, default_value_t = 4.0)]
    beats_per_bar: f64,
}

impl Common {
    /// The bars and tempo asked for, if any.
    fn fit(&self) -> Option<BarFit> {
        Some(BarFit {
            bpm: self.bpm?,
            beats_per_bar: self.beats_per_bar,
            bars: self.bars?,
        })
    }
}

/// Arguments of `refrain vary`.
#[derive(clap::Args)]
pub struct VaryArgs {
    /// Songs to vary (several are merged with SLERP).
    #[arg(required = true)]
    songs: Vec<PathBuf>,
    /// Merge weights, comma-separated (default: equal).
    #[arg(long, value_delimiter = ',')]
    weights: Vec<f32>,
    /// Window start in seconds for every song (default: each song's loudest window).
    #[arg(long)]
    offset: Option<f64>,
    /// How far the variations may move from the songs, in (0, 1].
    #[arg(long, default_value_t = 0.5)]
    strength: f64,
    /// How much of the songs' fine detail the autoencoder loses is added back, in [0, 1]
    /// (scaled by how much of the songs the strength keeps; 0 = off).
    #[arg(long, default_value_t = DEFAULT_DETAIL)]
    detail: f64,
    #[command(flatten)]
    common: Common,
}

/// Runs `refrain vary`.
pub fn vary(args: &VaryArgs) -> Result<()> {
    if !args.weights.is_empty() && args.weights.len() != args.songs.len() {
        bail!(
            "{} weights for {} songs",
            args.weights.len(),
            args.songs.len()
        );
    }
    let mut songs = Vec::new();
    for (i, path) in args.songs.iter().enumerate() {
        let weight = args.weights.get(i).copied().unwrap_or(1.0);
        songs.push(song::load(path, args.offset, weight)?);
    }
    let rate = args.common.rate.unwrap_or(songs[0].audio.sample_rate);
    generate(songs, (args.strength, args.detail), rate, &args.common)
}

/// Runs `refrain sample` (unconditional).
pub fn sample(common: &Common) -> Result<()> {
    generate(
        Vec::new(),
        (1.0, 0.0),
        common.rate.unwrap_or(44_100),
        common,
    )
}

/// `(strength, detail)` only matter with songs.
fn generate(
    songs: Vec<SongInput>,
    (strength, detail): (f64, f64),
    rate: u32,
    common: &Common,
) -> Result<()> {
    if common.count == 0 {
        bail!("--count must be at least 1");
    }
    let dir = model_dir::resolve(common.model.as_deref())?;
    let model = model_dir::load(&dir, common.provider)?;
    for warning in model.warnings() {
        eprintln!("warning: {warning}");
    }
    let m = model.manifest();
    println!(
        "model: {} v{} ({}) on {}",
        m.name,
        m.version,
        dir.display(),
        model.provider()
    );
    let mut pipeline = Pipeline::new(model)?;
    if let Some(name) = &common.vocoder {
        pipeline.set_vocoder(name)?;
    }
    if let Some(warning) = pipeline.vocoder_warning() {
        eprintln!("warning: {warning}");
    }
    let seeds: Vec<u64> = (0..common.count as u64)
        .map(|i| common.seed.wrapping_add(i))
        .collect();
    let request = GenerateRequest {
        songs,
        strength,
        detail,
        steps: common.steps,
        eta: common.eta,
        seeds,
        output_rate: rate,
        // Named again in the request: a request without one means the version's own.
        vocoder: common.vocoder.clone(),
        fit: common.fit(),
    };
    let bar = ProgressBar::new(common.steps as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let (clips, timings) = pipeline.generate(&request, &mut |p| {
        match p {
            Progress::Encoding => bar.set_message("encoding"),
            Progress::Step { step, total } => {
                bar.set_length(total as u64);
                bar.set_position(step as u64);
                bar.set_message("denoising");
            }
            Progress::Rendering { clip, total } => {
                bar.set_message(format!("render {}/{total}", clip + 1))
            }
        }
        ControlFlow::Continue(())
    })?;
    bar.finish_and_clear();
    std::fs::create_dir_all(&common.out)
        .with_context(|| format!("creating {}", common.out.display()))?;
    for clip in &clips {
        let stem = common.out.join(format!("clip-{}", clip.params.seed));
        let wav = stem.with_extension("wav");
        audio::write_wav_pcm24(
            &wav,
            &Audio::from_mono(clip.params.sample_rate, clip.audio.clone()),
        )?;
        if let Some(fit) = clip.params.fit {
            let info = fit.loop_info(clip.audio.len(), clip.params.sample_rate);
            audio::append_loop_chunks(&wav, &info)?;
        }
        let sidecar = serde_json::json!({
            "params": clip.params,
            "vocoder": pipeline.vocoder_name(),
            "timings_s": timings,
        });
        let json = stem.with_extension("json");
        std::fs::write(&json, serde_json::to_string_pretty(&sidecar)? + "\n")
            .with_context(|| format!("writing {}", json.display()))?;
        match clip.params.fit {
            Some(fit) => {
                let seam = SeamSteps::of(&clip.audio);
                println!(
                    "wrote {} (+ .json): {} bars at {} BPM, {} samples; loop seam step {:.4} {} largest step inside {:.4}",
                    wav.display(),
                    fit.bars,
                    fit.bpm,
                    clip.audio.len(),
                    seam.seam,
                    if seam.is_seamless() { "≤" } else { ">" },
                    seam.body_max
                );
            }
            None => println!("wrote {} (+ .json)", wav.display()),
        }
    }
    println!(
        "{} clip(s) in {:.2} s (resample {:.3}, mel {:.3}, encode {:.3}, unet {:.3}, decode {:.3}, vocoder {:.3}, out {:.3})",
        clips.len(),
        timings.total(),
        timings.resample_in,
        timings.mel,
        timings.encode,
        timings.unet,
        timings.decode,
        timings.vocoder,
        timings.resample_out
    );
    Ok(())
}
