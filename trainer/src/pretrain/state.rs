//! A stage's checkpoint: `state.json` (the commit point), burnpack records, and the loss log.
use super::{PretrainError, Stage};
use crate::corpus::Corpus;
use crate::model::{AutoencoderConfig, UnetConfig};
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use refrain_engine::spectrogram::AudioConfig;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// File name of a stage's checkpoint state.
pub const STATE_FILE: &str = "state.json";
/// File name of a stage's loss log (JSON lines of [`LossRecord`]).
pub const LOSS_LOG: &str = "loss.jsonl";

/// What the model card and manifest say about the corpus a stage trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorpusSummary {
    /// Corpus directory at training time.
    pub dir: PathBuf,
    /// Windows in the corpus.
    pub windows: usize,
    /// Of which held out.
    pub heldout_windows: usize,
    /// Total audio, seconds.
    pub duration_s: f64,
    /// `name (licenses): windows` per source.
    pub sources: Vec<String>,
}

impl CorpusSummary {
    /// Summarises an opened corpus.
    pub fn of(corpus: &Corpus) -> Self {
        let m = &corpus.manifest;
        Self {
            dir: corpus.dir.clone(),
            windows: m.windows,
            heldout_windows: m.heldout_windows,
            duration_s: m.duration_s,
            sources: m
                .sources
                .iter()
                .map(|s| {
                    format!(
                        "{} ({}): {} windows",
                        s.name,
                        s.licenses.join(", "),
                        s.windows
                    )
                })
                .collect(),
        }
    }
}

/// A stage's progress and configuration, written after every checkpoint's records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// The stage.
    pub stage: Stage,
    /// Steps completed.
    pub step: usize,
    /// Seed of the run's randomness (with `step`, the whole RNG state).
    pub seed: u64,
    /// Batch size.
    pub batch: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Warm-up steps.
    pub warmup: usize,
    /// Audio configuration of the corpus (becomes the manifest's `audio`).
    pub audio: AudioConfig,
    /// The corpus trained on.
    pub corpus: CorpusSummary,
    /// Autoencoder sizes (the UNet stage records its frozen autoencoder's).
    pub autoencoder: AutoencoderConfig,
    /// UNet sizes (UNet stage only).
    #[serde(default)]
    pub unet: Option<UnetConfig>,
    /// Autoencoder KL weight (autoencoder stage).
    #[serde(default)]
    pub kl_weight: Option<f32>,
    /// Frames per training crop (autoencoder stage; `None` = whole windows).
    #[serde(default)]
    pub crop_frames: Option<usize>,
    /// Weight of the detail term (autoencoder stage; `None`: checkpoints from before it, 0).
    #[serde(default)]
    pub detail_weight: Option<f32>,
    /// EMA decay (UNet stage).
    #[serde(default)]
    pub ema_decay: Option<f32>,
    /// Step at which the UNet's weight average last restarted (UNet stage; `None` = 0): a new
    /// autoencoder means new latents, and an average over weights fitted to the old ones would
    /// export a blend of two models.
    #[serde(default)]
    pub ema_since: Option<usize>,
    /// Step of the frozen autoencoder checkpoint the latents came from (UNet stage).
    #[serde(default)]
    pub autoencoder_step: Option<usize>,
    /// Standard deviation of the encoder's posterior means on the held-out subset.
    #[serde(default)]
    pub latent_std: Option<f32>,
    /// Latent scale (1 / std of the cached training latents; UNet stage).
    #[serde(default)]
    pub latent_scale: Option<f32>,
    /// Mean training loss over the last logged interval.
    #[serde(default)]
    pub train_loss: Option<f32>,
    /// Last held-out loss.
    #[serde(default)]
    pub heldout_loss: Option<f32>,
}

impl TrainState {
    /// Reads `<checkpoint dir>/state.json`, or `None` when there is none.
    pub fn load(dir: &Path) -> Result<Option<Self>, PretrainError> {
        let path = dir.join(STATE_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(PretrainError::io(&path))?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|source| PretrainError::Json { path, source })
    }

    /// Writes `<dir>/state.json` (inside a checkpoint being written).
    pub fn save(&self, dir: &Path) -> Result<(), PretrainError> {
        let path = dir.join(STATE_FILE);
        let text = serde_json::to_vec_pretty(self).map_err(|source| PretrainError::Json {
            path: path.clone(),
            source,
        })?;
        std::fs::write(&path, text).map_err(PretrainError::io(&path))
    }
}

/// One line of `loss.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LossRecord {
    /// Step just completed.
    pub step: usize,
    /// Mean training loss since the previous line.
    pub loss: f32,
    /// Held-out loss, when it was measured at this step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heldout: Option<f32>,
    /// Mean ms per step since the previous line.
    pub ms_per_step: f64,
}

/// Reads a loss log (missing file = empty).
pub fn read_loss_log(dir: &Path) -> Result<Vec<LossRecord>, PretrainError> {
    let path = dir.join(LOSS_LOG);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(PretrainError::io(&path)(e)),
    };
    // A line cut short by a kill is dropped rather than failing the resume.
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

/// Keeps only the log lines up to `step` (a run killed after its last checkpoint logged steps
/// that the resumed run will redo).
pub fn truncate_loss_log(dir: &Path, step: usize) -> Result<(), PretrainError> {
    let kept: Vec<LossRecord> = read_loss_log(dir)?
        .into_iter()
        .filter(|r| r.step <= step)
        .collect();
    let mut text = String::new();
    for r in &kept {
        text.push_str(&serde_json::to_string(r).unwrap_or_default());
        text.push('\n');
    }
    let path = dir.join(LOSS_LOG);
    std::fs::write(&path, text).map_err(PretrainError::io(&path))
}

/// Appends one line to the loss log.
pub fn append_loss(dir: &Path, record: &LossRecord) -> Result<(), PretrainError> {
    let path = dir.join(LOSS_LOG);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(PretrainError::io(&path))?;
    let line = serde_json::to_string(record).map_err(|source| PretrainError::Json {
        path: path.clone(),
        source,
    })?;
    writeln!(file, "{line}").map_err(PretrainError::io(&path))
}

/// Saves a module as `<dir>/<name>` (inside a checkpoint being written; see [`commit`]).
pub fn save_module<M: Module>(module: &M, dir: &Path, name: &str) -> Result<(), PretrainError> {
    let path = dir.join(name);
    module
        .clone()
        .save_file(&path)
        .map_err(|e| PretrainError::Record {
            path,
            message: e.to_string(),
        })
}

/// Loads `<dir>/<name>` into `module` (same structure; the stored parameter ids come along).
pub fn load_module<M: Module>(module: M, dir: &Path, name: &str) -> Result<M, PretrainError> {
    let path = dir.join(name);
    module
        .try_load_file(&path)
        .map_err(|e| PretrainError::Record {
            path,
            message: e.to_string(),
        })
}

/// Saves the optimizer state as `<dir>/optim.bpk`.
pub fn save_optimizer(optim: &ModuleOptimizer, dir: &Path) -> Result<(), PretrainError> {
    let path = dir.join("optim.bpk");
    optim.save(&path).map_err(|e| PretrainError::Record {
        path,
        message: e.to_string(),
    })
}

/// Loads `<dir>/optim.bpk` into a fresh optimizer.
pub fn load_optimizer(
    optim: ModuleOptimizer,
    dir: &Path,
) -> Result<ModuleOptimizer, PretrainError> {
    let path = dir.join("optim.bpk");
    optim.load(&path).map_err(|e| PretrainError::Record {
        path,
        message: e.to_string(),
    })
}

/// The checkpoint directory of a stage's output directory, when one was committed: `checkpoint/`,
/// or `checkpoint.old/` when a kill struck between the two renames of [`commit`].
pub fn checkpoint_dir(out: &Path) -> Option<PathBuf> {
    ["checkpoint", "checkpoint.old"]
        .iter()
        .map(|d| out.join(d))
        .find(|d| d.join(STATE_FILE).is_file())
}

/// Writes a checkpoint as a whole: `write` fills `checkpoint.new/`, which then replaces
/// `checkpoint/` by renames, so model, optimizer, EMA and state always come from one step.
pub fn commit(
    out: &Path,
    write: impl FnOnce(&Path) -> Result<(), PretrainError>,
) -> Result<(), PretrainError> {
    let new = out.join("checkpoint.new");
    let current = out.join("checkpoint");
    let old = out.join("checkpoint.old");
    let _ = std::fs::remove_dir_all(&new);
    std::fs::create_dir_all(&new).map_err(PretrainError::io(&new))?;
    write(&new)?;
    let _ = std::fs::remove_dir_all(&old);
    if current.exists() {
        std::fs::rename(&current, &old).map_err(PretrainError::io(&current))?;
    }
    std::fs::rename(&new, &current).map_err(PretrainError::io(&current))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}
