//! `refrain-trainer pretrain`: train the autoencoder or the UNet on the corpus.
use anyhow::{Context, Result};
use refrain_trainer::model::{AutoencoderConfig, UnetConfig};
use refrain_trainer::pretrain::{self, PretrainOptions, Stage};
use refrain_trainer::training::Backend;
use std::io::IsTerminal;
use std::path::PathBuf;

/// Arguments of `refrain-trainer pretrain`.
#[derive(clap::Args)]
pub struct Args {
    /// Which network to train.
    #[arg(long, value_enum)]
    stage: Stage,
    /// The corpus directory (`refrain-trainer corpus`).
    #[arg(long)]
    corpus: PathBuf,
    /// Total steps to reach (a resumed run stops at the same total).
    #[arg(long)]
    steps: usize,
    /// Checkpoint directory of this stage (outside git).
    #[arg(long)]
    out: PathBuf,
    /// Continue from the checkpoint in --out (starts fresh when there is none).
    #[arg(long)]
    resume: bool,
    /// Batch size (default: 8 for the autoencoder, 16 for the UNet, or the checkpoint's).
    #[arg(long)]
    batch: Option<usize>,
    /// Peak learning rate (default: 3e-4 / 2e-4, or the checkpoint's).
    #[arg(long)]
    lr: Option<f64>,
    /// Tensor backend (`cuda` needs a build with `--features cuda`).
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
    /// UNet stage: the autoencoder's checkpoint directory (default: <out>/../autoencoder).
    #[arg(long)]
    autoencoder: Option<PathBuf>,
    /// Held-out loss every N steps.
    #[arg(long, default_value_t = 100)]
    eval_every: usize,
    /// Checkpoint every N steps.
    #[arg(long, default_value_t = 100)]
    checkpoint_every: usize,
    /// Model sizes for a fresh run, as JSON (`AutoencoderConfig` or `UnetConfig`; default: the
    /// crate defaults). Ignored on resume: the checkpoint's sizes win.
    #[arg(long)]
    model: Option<String>,
    /// Autoencoder stage: train on random crops of this many frames (default: whole windows).
    #[arg(long)]
    crop: Option<usize>,
    /// Autoencoder stage: weight of the loss on frame-to-frame and band-to-band changes, which
    /// keeps onsets and harmonics sharp (default: the checkpoint's, 1 for a fresh run).
    #[arg(long)]
    detail_weight: Option<f32>,
    /// Seed of a fresh run.
    #[arg(long, default_value_t = 0x5eed)]
    seed: u64,
}

/// Runs one stage and prints its summary.
pub fn run(args: &Args) -> Result<()> {
    let mut options = PretrainOptions::new(
        args.stage,
        args.corpus.clone(),
        args.out.clone(),
        args.steps,
    );
    options.resume = args.resume;
    options.batch = args.batch;
    options.lr = args.lr;
    options.backend = args.backend;
    options.autoencoder_dir = args.autoencoder.clone();
    options.eval_every = args.eval_every;
    options.checkpoint_every = args.checkpoint_every;
    options.seed = args.seed;
    options.crop_frames = args.crop;
    options.detail_weight = args.detail_weight;
    options.progress = std::io::stderr().is_terminal();
    if let Some(json) = &args.model {
        match args.stage {
            Stage::Autoencoder => {
                options.autoencoder = serde_json::from_str::<AutoencoderConfig>(json)
                    .context("--model is not an AutoencoderConfig")?
            }
            Stage::Unet => {
                options.unet = serde_json::from_str::<UnetConfig>(json)
                    .context("--model is not a UnetConfig")?
            }
        }
    }
    let report = pretrain::pretrain(&options)?;
    println!(
        "{:?}: step {}, train loss {}, held-out loss {}, {} ms/step, checkpoint in {}",
        args.stage,
        report.step,
        fmt(report.train_loss),
        fmt(report.heldout_loss),
        report
            .ms_per_step
            .map_or_else(|| "-".into(), |m| format!("{m:.0}")),
        args.out.join("checkpoint").display()
    );
    Ok(())
}

fn fmt(v: Option<f32>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.5}"))
}
