//! `refrain-trainer evaluate`: measure an exported version on the corpus's held-out windows.
use anyhow::Result;
use refrain_engine::model::{Model, ModelOptions, Provider};
use refrain_trainer::corpus::Corpus;
use refrain_trainer::evaluate::{autoencoder_metrics, sample_metrics};
use std::path::PathBuf;

/// Arguments of `refrain-trainer evaluate`.
#[derive(clap::Args)]
pub struct Args {
    /// The model version directory (default: the shipped base, found by the engine's locator).
    #[arg(long)]
    model: Option<PathBuf>,
    /// The corpus whose held-out windows are measured.
    #[arg(long)]
    corpus: PathBuf,
    /// Held-out windows for the mel L1.
    #[arg(long, default_value_t = 32)]
    windows: usize,
    /// Of those, windows re-read from their source audio for spectral convergence.
    #[arg(long, default_value_t = 8)]
    audio_windows: usize,
    /// Variations and unconditional samples to draw (0 skips the UNet).
    #[arg(long, default_value_t = 4)]
    samples: usize,
    /// DDIM steps per sample.
    #[arg(long, default_value_t = 25)]
    steps: usize,
    /// Image-to-image strength of the variations.
    #[arg(long, default_value_t = 0.5)]
    strength: f64,
}

/// Prints the metrics as JSON (for the model card).
pub fn run(args: &Args) -> Result<()> {
    let options = ModelOptions {
        provider: Provider::Cpu,
        ..ModelOptions::default()
    };
    let mut model = Model::load(&super::roundtrip::model_dir(args.model.as_deref()), options)?;
    let corpus = Corpus::open(&args.corpus)?;
    let ae = autoencoder_metrics(&mut model, &corpus, args.windows, args.audio_windows)?;
    let samples = if args.samples > 0 {
        Some(sample_metrics(
            &mut model,
            &corpus,
            args.samples,
            args.steps,
            args.strength,
        )?)
    } else {
        None
    };
    let report = serde_json::json!({ "autoencoder": ae, "samples": samples });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
