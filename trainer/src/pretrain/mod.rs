//! Pretraining on the corpus (docs/ARCHITECTURE.md §6): the autoencoder first, then the UNet on cached
//! latents of the frozen autoencoder.
//!
//! Each stage writes into its own directory: `state.json` (step, configs, losses — written last,
//! so it is the commit point of a checkpoint), `model.bpk` and `optim.bpk` (burn's burnpack
//! records; the optimizer state is keyed by the parameter ids stored in `model.bpk`), `ema.bpk`
//! for the UNet, and `loss.jsonl` (one line per logged step). All randomness of step `n` comes
//! from a ChaCha8 stream seeded by `(seed, n)`, so the RNG state *is* the step number and a
//! resumed run draws exactly what an uninterrupted run would have.
mod autoencoder;
mod data;
mod latents;
mod run;
mod speed;
mod state;
mod unet;
pub mod version;

pub use autoencoder::Autoencoder;
pub use latents::{LatentCache, LATENTS_FILE};
pub use state::{
    append_loss, checkpoint_dir, commit, load_module, load_optimizer, read_loss_log, save_module,
    save_optimizer, truncate_loss_log, CorpusSummary, LossRecord, TrainState, LOSS_LOG, STATE_FILE,
};

use crate::corpus::CorpusError;
use crate::model::{AutoencoderConfig, ModelError, UnetConfig};
use crate::training::Backend;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Which network a pretraining run trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The mel autoencoder (L1 reconstruction + a small KL term).
    Autoencoder,
    /// The latent noise predictor, on latents of a frozen autoencoder.
    Unet,
}

/// Everything a pretraining run needs.
#[derive(Debug, Clone)]
pub struct PretrainOptions {
    /// Which network to train.
    pub stage: Stage,
    /// The corpus directory (`refrain-trainer corpus`).
    pub corpus: PathBuf,
    /// Checkpoint directory of this stage.
    pub out: PathBuf,
    /// For the UNet stage: the autoencoder's checkpoint directory (frozen, encodes the corpus).
    pub autoencoder_dir: Option<PathBuf>,
    /// Total steps to reach (a resumed run stops at the same total).
    pub steps: usize,
    /// Continue from the checkpoint in `out` instead of starting over.
    pub resume: bool,
    /// Windows (or latents) per step; `None` = the stage default or the checkpoint's.
    pub batch: Option<usize>,
    /// Adam learning rate; `None` = the stage default or the checkpoint's.
    pub lr: Option<f64>,
    /// Linear learning-rate warm-up, in steps.
    pub warmup: usize,
    /// Held-out loss every this many steps (and at the end).
    pub eval_every: usize,
    /// Windows in the fixed held-out subset.
    pub eval_windows: usize,
    /// Checkpoint every this many steps (and at the end).
    pub checkpoint_every: usize,
    /// Seed of all the run's randomness (kept from the checkpoint on resume).
    pub seed: u64,
    /// Autoencoder sizes for a fresh run.
    pub autoencoder: AutoencoderConfig,
    /// UNet sizes for a fresh run.
    pub unet: UnetConfig,
    /// Weight of the KL term of the autoencoder loss (per element, both terms are means).
    pub kl_weight: f32,
    /// Autoencoder stage: train on random crops of this many frames (`None` = whole windows).
    pub crop_frames: Option<usize>,
    /// Weight of the autoencoder's detail term ([`crate::model::autoencoder::detail_loss`]);
    /// `None` = the checkpoint's, or [`DEFAULT_DETAIL_WEIGHT`] for a fresh run.
    pub detail_weight: Option<f32>,
    /// Decay of the UNet weights' exponential moving average.
    pub ema_decay: f32,
    /// Tensor backend.
    pub backend: Backend,
    /// Draw an indicatif progress bar (off for tests and non-terminals).
    pub progress: bool,
}

impl PretrainOptions {
    /// Defaults for `stage` with the default model sizes.
    pub fn new(stage: Stage, corpus: PathBuf, out: PathBuf, steps: usize) -> Self {
        Self {
            stage,
            corpus,
            out,
            autoencoder_dir: None,
            steps,
            resume: false,
            batch: None,
            lr: None,
            warmup: 50,
            eval_every: 100,
            eval_windows: 32,
            checkpoint_every: 100,
            seed: 0x5eed,
            autoencoder: AutoencoderConfig::default(),
            unet: UnetConfig::default(),
            kl_weight: 1e-5,
            crop_frames: None,
            detail_weight: None,
            ema_decay: 0.999,
            backend: Backend::Cpu,
            progress: false,
        }
    }

    /// The batch size of a fresh run of this stage.
    pub fn default_batch(stage: Stage) -> usize {
        match stage {
            Stage::Autoencoder => 8,
            Stage::Unet => 16,
        }
    }

    /// The learning rate of a fresh run of this stage.
    pub fn default_lr(stage: Stage) -> f64 {
        match stage {
            Stage::Autoencoder => 3e-4,
            Stage::Unet => 2e-4,
        }
    }
}

/// Detail-term weight of a fresh autoencoder run: at 1 the term is about as large as the plain
/// L1 early in training, enough to keep onsets without ringing.
pub const DEFAULT_DETAIL_WEIGHT: f32 = 1.0;

/// What a finished run reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PretrainReport {
    /// Step reached.
    pub step: usize,
    /// Mean training loss over the last logged interval.
    pub train_loss: Option<f32>,
    /// Last held-out loss.
    pub heldout_loss: Option<f32>,
    /// Mean wall time per training step in this invocation (ms), data preparation included.
    pub ms_per_step: Option<f64>,
}

/// Why pretraining or export failed.
#[derive(Debug, thiserror::Error)]
pub enum PretrainError {
    /// The corpus could not be read.
    #[error(transparent)]
    Corpus(#[from] CorpusError),
    /// A model configuration could not build a network.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A checkpoint or log file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// burn could not save or load a record.
    #[error("{}: {message}", path.display())]
    Record {
        /// The record file.
        path: PathBuf,
        /// burn's message.
        message: String,
    },
    /// JSON could not be read or written.
    #[error("{}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// serde_json's error.
        source: serde_json::Error,
    },
    /// The options or the checkpoint do not allow the run; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// The engine refused something (schedule, manifest, model).
    #[error("{0}")]
    Engine(String),
    /// ONNX export failed.
    #[error(transparent)]
    Export(#[from] crate::onnx::ExportFailure),
    /// The backend asked for is not in this build.
    #[error(transparent)]
    Backend(#[from] crate::training::NoCudaBackend),
}

impl PretrainError {
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn engine(e: impl std::fmt::Display) -> Self {
        Self::Engine(e.to_string())
    }
}

/// Runs (or resumes) one pretraining stage up to `options.steps` total steps.
pub fn pretrain(options: &PretrainOptions) -> Result<PretrainReport, PretrainError> {
    if options.steps == 0 || options.eval_every == 0 || options.checkpoint_every == 0 {
        return Err(PretrainError::Invalid(
            "steps, eval_every and checkpoint_every must be at least 1".into(),
        ));
    }
    std::fs::create_dir_all(&options.out).map_err(PretrainError::io(&options.out))?;
    match options.stage {
        Stage::Autoencoder => autoencoder::run(options),
        Stage::Unet => unet::run(options),
    }
}
