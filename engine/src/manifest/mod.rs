//! The model version directory's `manifest.json` (docs/ARCHITECTURE.md §4.1); where versions live is
//! [`crate::locator`]'s job.
//!
//! The manifest is the single source of truth for a model version's audio configuration, latent
//! shape, noise schedule and file hashes: nothing else in the engine or the trainer hard-codes
//! these values. [`Manifest::load`] refuses anything inconsistent with an error that names the
//! manifest file and the offending field, so a broken model never gets as far as ONNX Runtime.

mod fsutil;
mod validate;

pub use fsutil::{rename_over, rfc3339_utc, sha256_file, sync_dir, write_atomic};

use crate::spectrogram::AudioConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The manifest format this engine reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// File name of the manifest inside a model version directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// ONNX files every model version must list in `files` (docs/ARCHITECTURE.md §4.1).
pub const REQUIRED_FILES: [&str; 3] = ["encoder.onnx", "decoder.onnx", "unet.onnx"];

/// Everything known about one model version; serialises to exactly the docs/ARCHITECTURE.md §4.1 layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT_VERSION`]; a reader refuses any other value rather than guessing.
    pub format_version: u32,
    /// Human-readable model name (for example `refrain-base`).
    pub name: String,
    /// Version number: 0 is the shipped base, fine-tunes count up from there.
    pub version: u32,
    /// Version this one was fine-tuned from; `None` for the base.
    #[serde(default)]
    pub parent: Option<u32>,
    /// Creation time, RFC 3339 (for example `2026-11-01T12:00:00Z`).
    pub created: String,
    /// Audio and spectrogram parameters the encoder was trained on.
    pub audio: AudioConfig,
    /// Shape and scale of the autoencoder latent.
    pub latent: LatentConfig,
    /// The diffusion noise schedule the UNet was trained with.
    pub schedule: ScheduleConfig,
    /// UNet inputs that are not implied by the latent shape.
    pub unet: UnetConfig,
    /// File name (relative to the version directory) → lowercase hex sha256.
    pub files: BTreeMap<String, String>,
    /// Batch sizes of the exported UNet graph when the exporter fixed them; `None` = dynamic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_sizes: Option<Vec<usize>>,
    /// Free-form training summary (corpus, steps, final loss, rating stats); not interpreted here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<serde_json::Value>,
    /// The vocoder this version renders with (one of [`crate::vocoder::NAMES`]); `None` =
    /// [`crate::vocoder::DEFAULT`]. A name that cannot be loaded falls back to Griffin-Lim with
    /// a warning rather than refusing the version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vocoder: Option<String>,
}

/// Latent tensor layout `[B, channels, height, width]` and the factor applied after encoding.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatentConfig {
    /// Latent channels C.
    pub channels: usize,
    /// Latent height H.
    pub height: usize,
    /// Latent width W.
    pub width: usize,
    /// Multiplier taking the encoder output to roughly unit variance (as Stable Diffusion's 0.18215).
    pub scale: f32,
}

impl LatentConfig {
    /// Number of f32 values in one latent (C·H·W).
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// True when any dimension is zero (never the case for a validated manifest).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How the betas are spaced over the training timesteps (diffusers' names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BetaSchedule {
    /// `linspace(beta_start, beta_end, T)`.
    Linear,
    /// `linspace(sqrt(beta_start), sqrt(beta_end), T)²` (Stable Diffusion).
    ScaledLinear,
    /// The cosine schedule of Nichol & Dhariwal, capped at β = 0.999; ignores beta_start/end.
    SquaredcosCapV2,
}

/// What the UNet predicts. Only ε-prediction is implemented; the enum keeps the door open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prediction {
    /// The network predicts the added noise ε.
    Epsilon,
}

/// The diffusion schedule shared by the trainer and the sampler (`engine::ddim`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Number of training timesteps T (diffusers default 1000).
    pub num_train_timesteps: usize,
    /// β at t = 0 for the linear schedules.
    pub beta_start: f64,
    /// β at t = T−1 for the linear schedules.
    pub beta_end: f64,
    /// Spacing of the betas.
    pub beta_schedule: BetaSchedule,
    /// What the UNet outputs.
    pub prediction: Prediction,
    /// Clamp each step's estimate of the clean sample to [−1, 1] (diffusers' `clip_sample`, on
    /// in the audio-diffusion family's schedulers); absent means off.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub clip_sample: bool,
}

impl Default for ScheduleConfig {
    /// diffusers' DDPM/DDIM defaults: 1000 linear steps from 1e-4 to 0.02, ε-prediction.
    fn default() -> Self {
        Self {
            num_train_timesteps: 1000,
            beta_start: 1e-4,
            beta_end: 0.02,
            beta_schedule: BetaSchedule::Linear,
            prediction: Prediction::Epsilon,
            clip_sample: false,
        }
    }
}

/// UNet parameters the engine needs to feed the network.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnetConfig {
    /// Width of the sinusoidal timestep embedding fed as the `temb` input.
    pub embedding_dim: usize,
}

/// Why a manifest or a model directory pointer could not be used. Every variant names the file,
/// and validation failures name the field.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The manifest is not valid JSON, or a field has the wrong type.
    #[error("{}: field `{field}`: {source}", path.display())]
    Json {
        /// The manifest file.
        path: PathBuf,
        /// The top-level field being decoded (`(document)` for a syntax error).
        field: String,
        /// serde_json's message (with line and column for syntax errors).
        source: serde_json::Error,
    },
    /// A field parsed but its value is unusable.
    #[error("{}: field `{field}`: {problem}", path.display())]
    Invalid {
        /// The manifest file.
        path: PathBuf,
        /// Dotted path of the field, e.g. `audio.n_fft` or `files.unet.onnx`.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A file listed in `files` is not in the version directory.
    #[error("{}: field `files.{name}`: file {} does not exist", manifest.display(), file.display())]
    MissingFile {
        /// The manifest file.
        manifest: PathBuf,
        /// The name as listed in `files`.
        name: String,
        /// Where it was looked for.
        file: PathBuf,
    },
    /// A file's content does not match its listed sha256.
    #[error(
        "{}: field `files.{name}`: sha256 of {} is {actual}, manifest says {expected}",
        manifest.display(),
        file.display()
    )]
    ShaMismatch {
        /// The manifest file.
        manifest: PathBuf,
        /// The name as listed in `files`.
        name: String,
        /// The file that was hashed.
        file: PathBuf,
        /// Hash listed in the manifest.
        expected: String,
        /// Hash of the file on disk.
        actual: String,
    },
    /// Neither `REFRAIN_HOME`, `XDG_DATA_HOME` nor `HOME` gives a usable data directory.
    #[error("no data directory: set REFRAIN_HOME (or HOME) to an absolute path")]
    NoDataDir,
}

impl ManifestError {
    /// The field the error is about, when it is about one: the dotted path for value and type
    /// errors (`audio.n_fft`, `schedule`), the listed file name for file errors (`unet.onnx`).
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Json { field, .. } | Self::Invalid { field, .. } => Some(field),
            Self::MissingFile { name, .. } | Self::ShaMismatch { name, .. } => Some(name),
            Self::Io { .. } | Self::NoDataDir => None,
        }
    }
}

impl Manifest {
    /// Reads `<dir>/manifest.json`, validates every field, and checks that each listed file exists
    /// with the listed sha256 (streamed, so large ONNX files are not read into memory at once).
    pub fn load(dir: &Path) -> Result<Manifest, ManifestError> {
        let manifest = Self::load_unverified(dir)?;
        manifest.verify_files(dir, &dir.join(MANIFEST_FILE))?;
        Ok(manifest)
    }

    /// Reads and validates `<dir>/manifest.json` without hashing its files: for listings, which
    /// must stay fast with 800 MB versions installed.
    pub fn load_unverified(dir: &Path) -> Result<Manifest, ManifestError> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| ManifestError::Io {
            path: path.clone(),
            source,
        })?;
        let manifest = Self::parse(&text, &path)?;
        manifest.validate(&path)?;
        Ok(manifest)
    }

    /// Parses manifest JSON without touching the filesystem; `path` is used only in messages.
    /// Fields are decoded one at a time so that a type error names the field it is in.
    pub fn parse(text: &str, path: &Path) -> Result<Manifest, ManifestError> {
        validate::parse(text, path)
    }

    /// Checks field values (not the files); `path` is used only in messages.
    pub fn validate(&self, path: &Path) -> Result<(), ManifestError> {
        validate::check(self, path)
    }

    /// Checks that every file in `files` exists under `dir` and has the listed sha256.
    pub fn verify_files(&self, dir: &Path, manifest_path: &Path) -> Result<(), ManifestError> {
        for (name, expected) in &self.files {
            let file = dir.join(name);
            if !file.is_file() {
                return Err(ManifestError::MissingFile {
                    manifest: manifest_path.to_path_buf(),
                    name: name.clone(),
                    file,
                });
            }
            let actual = sha256_file(&file)?;
            if !actual.eq_ignore_ascii_case(expected) {
                return Err(ManifestError::ShaMismatch {
                    manifest: manifest_path.to_path_buf(),
                    name: name.clone(),
                    file,
                    expected: expected.clone(),
                    actual,
                });
            }
        }
        Ok(())
    }

    /// Writes `<dir>/manifest.json` as pretty JSON, atomically (temp file, fsync, rename, fsync
    /// of the directory), so a reader sees the old manifest or the new one, never half of one.
    /// Refuses to write a manifest that would not validate.
    pub fn write(&self, dir: &Path) -> Result<(), ManifestError> {
        let path = dir.join(MANIFEST_FILE);
        self.validate(&path)?;
        let mut text =
            serde_json::to_string_pretty(self).map_err(|source| ManifestError::Json {
                path: path.clone(),
                field: "(document)".into(),
                source,
            })?;
        text.push('\n');
        write_atomic(&path, text.as_bytes())
    }

    /// Recomputes `files` from the given names under `dir` (what an exporter calls last).
    pub fn hash_files(&mut self, dir: &Path, names: &[&str]) -> Result<(), ManifestError> {
        for name in names {
            let digest = sha256_file(&dir.join(name))?;
            self.files.insert((*name).to_string(), digest);
        }
        Ok(())
    }

    /// True when the UNet graph accepts a batch of `k` latents in one call.
    pub fn supports_batch(&self, k: usize) -> bool {
        match &self.batch_sizes {
            None => k >= 1,
            Some(sizes) => sizes.contains(&k),
        }
    }
}
