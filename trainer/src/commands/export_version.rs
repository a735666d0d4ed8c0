//! `refrain-trainer export`: a model version directory from pretraining checkpoints.
use anyhow::{Context, Result};
use refrain_engine::model::{Model, ModelOptions, Provider};
use refrain_trainer::pretrain::version::{export_version, ExportOptions};
use std::path::PathBuf;

/// Arguments of `refrain-trainer export`.
#[derive(clap::Args)]
pub struct Args {
    /// Checkpoint root holding `autoencoder/` and `unet/` (as written by `pretrain`).
    #[arg(long)]
    checkpoints: PathBuf,
    /// The version directory to write (e.g. models/base).
    #[arg(long)]
    out: PathBuf,
    /// The manifest's model name.
    #[arg(long, default_value = "refrain-base")]
    name: String,
    /// Batch size baked into graphs whose batch axis cannot be dynamic.
    #[arg(long, default_value_t = 1)]
    fixed_batch: usize,
    /// The pretraining corpus: its held-out windows' latents ship as the fine-tune's
    /// forgetting guard (guard.latents). Without it, fine-tunes guard with the producer's songs.
    #[arg(long)]
    corpus: Option<PathBuf>,
}

/// Exports, then loads the result through the engine to prove it is usable.
pub fn run(args: &Args) -> Result<()> {
    let manifest = export_version(&ExportOptions {
        checkpoints: args.checkpoints.clone(),
        out: args.out.clone(),
        name: args.name.clone(),
        fixed_batch: args.fixed_batch,
        corpus: args.corpus.clone(),
    })?;
    let options = ModelOptions {
        provider: Provider::Cpu,
        ..ModelOptions::default()
    };
    Model::load(&args.out, options)
        .with_context(|| format!("the exported {} does not load", args.out.display()))?;
    println!(
        "exported {} v{} to {} (latent {}×{}×{}, scale {:.4}); it loads through ONNX Runtime",
        manifest.name,
        manifest.version,
        args.out.display(),
        manifest.latent.channels,
        manifest.latent.height,
        manifest.latent.width,
        manifest.latent.scale
    );
    Ok(())
}
