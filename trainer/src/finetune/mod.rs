//! Fine-tuning (issue 7 item 3, docs/ARCHITECTURE.md §4.4): one selection round over the new ratings, the
//! purge, then the current version's UNet trained on the pool with the confidence-weighted
//! diffusion loss, guarded by a held-out loss, and published as version N+1.
//!
//! The parent's UNet is read back from its ONNX initializers and the child is written by
//! patching them ([`crate::onnx`]), so a fine-tune never depends on the exporter, and the
//! encoder/decoder are the parent's files (hard links where the file system allows).
mod data;
mod dpo;
mod fit;
mod lock;
mod network;
mod pairs;
mod publish;

pub use data::{load_guard, Guard, GuardSource, TrainingSet};
pub use dpo::{batch_loss, dpo_loss, DpoSetup, Pair, PairErrors, DEFAULT_BETA};
pub use fit::{FitOutcome, FitParams};
pub use lock::{lock_data_dir, TrainerLock, LOCK_FILE};
pub use network::{load_network, load_unet, ParentUnet};
pub use pairs::{build_pairs, pairs_from_store, ClipPair, PairCandidate};
pub use publish::{next_version_number, write_version, EXPORT_PAUSE_ENV};

use crate::select::{
    pool_weights, purge_store, select_from_store, store_normaliser, RatingInput, SelectConfig,
    SelectError,
};
use crate::training::Backend;
use refrain_engine::feedback::{now_ms, FeedbackError, FeedbackStore, ModelVersion, Since};
use refrain_engine::locator;
use refrain_engine::manifest::{self, Manifest, ManifestError};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

/// How a clip's loss weight is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// ω = (r + l) / 2 from the clip's rating and listening time (docs/ARCHITECTURE.md §4.4).
    #[default]
    Weighted,
    /// ω = 1 for every pool sample: the "no confidence weight" ablation.
    Fixed,
}

/// What a fine-tune learns from (issue 14).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// The confidence-weighted ε-loss on the pool's accepted clips (docs/ARCHITECTURE.md §4.4).
    Weighted,
    /// Diffusion-DPO on pairs of one request's clips rated differently ([`dpo`]).
    Dpo,
    /// The sum of both; the default: `cargo xtask bench loop` measured it best (README), and
    /// with no pairs it is exactly `weighted`.
    #[default]
    Both,
}

impl Objective {
    /// Whether the pool's weighted ε-loss is part of it.
    pub fn uses_pool(self) -> bool {
        matches!(self, Self::Weighted | Self::Both)
    }

    /// Whether preference pairs are part of it.
    pub fn uses_pairs(self) -> bool {
        matches!(self, Self::Dpo | Self::Both)
    }
}

/// What `refrain-trainer train` does.
#[derive(Debug, Clone)]
pub struct FinetuneOptions {
    /// The data dir: `feedback.sqlite` and `models/` (docs/ARCHITECTURE.md §4.2).
    pub data_dir: PathBuf,
    /// The shipped base, used when `models/current` names nothing.
    pub shipped_base: PathBuf,
    /// Optimisation.
    pub fit: FitParams,
    /// The learning rules' constants (and the "no selection" ablation switch).
    pub select: SelectConfig,
    /// Loss weights (and the "no confidence" ablation).
    pub confidence: Confidence,
    /// Which loss: the weighted pool, DPO pairs, or both.
    pub objective: Objective,
    /// Refuse to train on fewer pool samples with a non-zero weight than this.
    pub min_pool: usize,
    /// Where tensors live.
    pub backend: Backend,
    /// Show a progress bar.
    pub progress: bool,
}

impl FinetuneOptions {
    /// Whether a round with `pool` usable samples trains the pool part of the objective: the
    /// one rule for the round's "nothing to train" check and the fine-tune loop.
    pub(crate) fn trains_pool(&self, pool: usize) -> bool {
        self.objective.uses_pool() && pool >= self.min_pool.max(1)
    }

    /// Whether a round with `pairs` preference pairs trains the DPO part.
    pub(crate) fn trains_pairs(&self, pairs: usize) -> bool {
        self.objective.uses_pairs() && pairs > 0
    }

    /// Defaults for `data_dir` and `shipped_base`.
    pub fn new(data_dir: PathBuf, shipped_base: PathBuf) -> Self {
        Self {
            data_dir,
            shipped_base,
            fit: FitParams::default(),
            select: SelectConfig::default(),
            confidence: Confidence::Weighted,
            objective: Objective::default(),
            min_pool: 1,
            backend: Backend::Cpu,
            progress: false,
        }
    }
}

/// Why a fine-tune did not publish.
#[derive(Debug, thiserror::Error)]
pub enum FinetuneError {
    /// The feedback store failed.
    #[error("feedback store: {0}")]
    Store(#[from] FeedbackError),
    /// Selection or purge failed.
    #[error(transparent)]
    Select(#[from] SelectError),
    /// The parent version (or the written child) is not a valid version directory.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// Too little to learn from.
    #[error("nothing to train on: {0}")]
    NothingToTrain(String),
    /// The held-out loss rose past the tolerance before the first accepted check.
    #[error("the held-out corpus loss rose from {before:.5} (the base's) to {after:.5} within the first {steps} steps, past the tolerance: no version published (lower the learning rate, or roll back: the versions since the base have used up the forgetting budget)")]
    Forgetting {
        /// Held-out loss the tolerance is measured from (the base's).
        before: f32,
        /// Held-out loss at the first check.
        after: f32,
        /// Steps run before the check.
        steps: usize,
    },
    /// Loading, training or exporting the network failed.
    #[error("{0}")]
    Model(String),
    /// Another trainer holds this data directory.
    #[error("another refrain-trainer is training on this data directory ({0} is locked); wait for it to finish")]
    Busy(PathBuf),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

impl FinetuneError {
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn model(e: impl std::fmt::Display) -> Self {
        Self::Model(e.to_string())
    }
}

/// What a fine-tune did, also stored as the version's metrics.
#[derive(Debug, Clone, Serialize)]
pub struct FinetuneReport {
    /// The version trained from.
    pub parent: u32,
    /// The version published.
    pub version: u32,
    /// Its directory.
    pub dir: PathBuf,
    /// Ratings offered to selection this round.
    pub ratings: usize,
    /// Of those, flagged as spam.
    pub flagged: usize,
    /// Samples added / replaced by selection.
    pub added: usize,
    /// Samples that replaced their nearest neighbour.
    pub replaced: usize,
    /// Samples dropped by the purge.
    pub purged: usize,
    /// Pool samples trained on (non-zero weight).
    pub pool: usize,
    /// Mean loss weight over those.
    pub mean_weight: f32,
    /// How the loss was weighted.
    pub confidence: Confidence,
    /// Which loss was trained.
    pub objective: Objective,
    /// Preference pairs trained on (0 unless the objective uses them).
    pub pairs: usize,
    /// Whether genetic selection ran (false: the "no selection" ablation).
    pub genetic: bool,
    /// What the guard measured and where training stopped.
    pub fit: FitOutcome,
    /// Ratings before this time (unix ms) were offered to this round's selection.
    pub ratings_until_ms: i64,
    /// Wall time of the whole round.
    pub seconds: f64,
}

/// Runs one round: select, purge, fine-tune, publish `v<N+1>`, register it in the store.
pub fn train_next_version(options: &FinetuneOptions) -> Result<FinetuneReport, FinetuneError> {
    let started = Instant::now();
    options.fit.validate()?;
    let _lock = lock::lock_data_dir(&options.data_dir)?;
    let parent_dir = locator::current_version_dir(&options.data_dir, &options.shipped_base);
    let parent = Manifest::load(&parent_dir)?;
    parent.verify_files(&parent_dir, &parent_dir.join(manifest::MANIFEST_FILE))?;
    let mut store = FeedbackStore::open(&options.data_dir)?;
    let registered = store.model_versions()?;
    let since = ratings_to_offer(&registered, parent.version);
    // Ratings made from here on (even while this round trains) are the next round's.
    let ratings_until_ms = now_ms();
    let version = next_version_number(&options.data_dir, &store, parent.version)?;
    tracing::info!(
        "fine-tuning version {} ({}) into version {version}",
        parent.version,
        parent_dir.display()
    );
    let selection = select_from_store(&mut store, since, version, &options.select)?;
    let purge = purge_store(&mut store, version, &options.select)?;
    let weighted = pool_weights(&store, &options.select)?;
    let set = TrainingSet::gather(&store, &weighted, options.confidence, &parent)?;
    let mut pairs = if options.objective.uses_pairs() {
        pairs::pairs_from_store(&store, since, &options.select, parent.latent.len())?
    } else {
        Vec::new()
    };
    // The "no confidence" ablation reaches the pairs too (weight ω_w·ω_l → 1).
    pairs::apply_confidence(&mut pairs, options.confidence);
    // `both` trains on whichever part has data (a producer who rates one clip per request has
    // no pairs); nothing to train only when every part it uses is empty.
    if !options.trains_pairs(pairs.len()) && !options.trains_pool(set.len()) {
        let mut why = Vec::new();
        if options.objective.uses_pairs() {
            why.push(format!(
                "no preference pairs among {} ratings this round (two clips of one request rated differently by one producer; {} flagged)",
                selection.ratings, selection.flagged
            ));
        }
        if options.objective.uses_pool() {
            why.push(format!(
                "{} usable pool samples (need {}); {} ratings this round, {} flagged, {} lost to their nearest sample",
                set.len(),
                options.min_pool.max(1),
                selection.ratings,
                selection.flagged,
                selection.lost
            ));
        }
        return Err(FinetuneError::NothingToTrain(why.join("; ")));
    }
    let guard = load_guard(&parent_dir, &parent, &store)?;
    let prior = if options.fit.prior_share > 0.0 {
        data::song_latents(&store, &parent)?
    } else {
        Vec::new()
    };
    let fit = fit::fine_tune(&parent_dir, &parent, &set, &pairs, &prior, &guard, options)?;
    let mut report = FinetuneReport {
        parent: parent.version,
        version,
        dir: locator::version_dir(&options.data_dir, version),
        ratings: selection.ratings,
        flagged: selection.flagged,
        added: selection.added,
        replaced: selection.replaced,
        purged: purge.dropped.len(),
        pool: set.len(),
        mean_weight: set.mean_weight(),
        confidence: options.confidence,
        objective: options.objective,
        pairs: pairs.len(),
        genetic: options.select.genetic,
        fit: fit.outcome,
        ratings_until_ms,
        seconds: 0.0,
    };
    report.seconds = started.elapsed().as_secs_f64();
    let metrics = serde_json::to_value(&report).map_err(FinetuneError::model)?;
    report.dir = write_version(
        &options.data_dir,
        &parent_dir,
        &parent,
        version,
        &fit.unet_onnx,
        &metrics,
    )?;
    if !registered.iter().any(|v| v.version == parent.version) {
        store.add_model_version(parent.version, parent.parent, &serde_json::json!({}))?;
    }
    store.add_model_version(version, Some(parent.version), &metrics)?;
    if options.objective.uses_pool() {
        store.mark_pool_selected(&set.pool_ids(), version)?;
    }
    tracing::info!(
        "published version {version}: {} samples, {} steps kept, held-out {:.5} → {:.5}",
        report.pool,
        report.fit.kept_step,
        report.fit.guard_before,
        report.fit.guard_after
    );
    Ok(report)
}

/// The ratings a round offers to selection: those since the parent's round cut-off, else since
/// the parent was registered, else all (the first round). Offering a rating twice is harmless:
/// selection skips clips already in the pool and a loser loses again.
fn ratings_to_offer(registered: &[ModelVersion], parent: u32) -> Since {
    let Some(v) = registered.iter().find(|v| v.version == parent) else {
        return Since::All;
    };
    match v
        .metrics
        .get("ratings_until_ms")
        .and_then(serde_json::Value::as_i64)
    {
        Some(ms) => Since::Time(ms),
        None => Since::Version(parent),
    }
}

/// Usable (unflagged) ratings the next round would offer to selection: what `watch` waits for.
pub fn pending_ratings(options: &FinetuneOptions) -> Result<usize, FinetuneError> {
    let dir = locator::current_version_dir(&options.data_dir, &options.shipped_base);
    let current = Manifest::load(&dir)?;
    let store = FeedbackStore::open(&options.data_dir)?;
    let since = ratings_to_offer(&store.model_versions()?, current.version);
    let norm = store_normaliser(&store, &options.select)?;
    Ok(store
        .ratings_since(since)?
        .iter()
        .filter(|r| !norm.score(&RatingInput::from(*r)).flagged)
        .count())
}
