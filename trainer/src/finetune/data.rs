//! What a fine-tune learns from (the pool's clip latents with their weights) and what guards it
//! (held-out latents it must not forget).
use super::{Confidence, FinetuneError};
use crate::versions::GUARD_FILE;
use refrain_engine::feedback::{FeedbackStore, PoolId, PoolSample};
use refrain_engine::manifest::Manifest;
use std::path::Path;

/// Guard sets larger than this are subsampled evenly: each check runs one forward per latent.
const MAX_GUARD: usize = 32;

/// The pool as training data: each sample's clip latent (the UNet's x0) and its loss weight.
#[derive(Debug, Clone)]
pub struct TrainingSet {
    ids: Vec<PoolId>,
    latents: Vec<Vec<f32>>,
    weights: Vec<f32>,
}

impl TrainingSet {
    /// Reads the latent of every pool sample with a non-zero weight. `Confidence::Fixed` sets
    /// every such weight to 1 (the ablation). A clip whose latent does not fit the model (made
    /// by a model with another latent shape) is left out with a warning.
    pub fn gather(
        store: &FeedbackStore,
        weighted: &[(PoolSample, f32)],
        confidence: Confidence,
        model: &Manifest,
    ) -> Result<Self, FinetuneError> {
        let len = model.latent.len();
        let mut set = Self {
            ids: Vec::new(),
            latents: Vec::new(),
            weights: Vec::new(),
        };
        for (sample, omega) in weighted {
            if !(omega.is_finite() && *omega > 0.0) {
                continue;
            }
            let clip = store.generation(sample.clip_id)?;
            if clip.latent.len() != len || clip.latent.iter().any(|v| !v.is_finite()) {
                tracing::warn!(
                    clip = %sample.clip_id,
                    "clip latent has {} values (model: {len}) or is not finite; leaving it out",
                    clip.latent.len()
                );
                continue;
            }
            set.ids.push(sample.id);
            set.latents.push(clip.latent);
            set.weights.push(match confidence {
                Confidence::Weighted => *omega,
                Confidence::Fixed => 1.0,
            });
        }
        Ok(set)
    }

    /// Builds a set directly (tests, simulations).
    pub fn from_parts(ids: Vec<PoolId>, latents: Vec<Vec<f32>>, weights: Vec<f32>) -> Self {
        Self {
            ids,
            latents,
            weights,
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.latents.len()
    }

    /// Whether there is nothing to learn from.
    pub fn is_empty(&self) -> bool {
        self.latents.is_empty()
    }

    /// Sample `i`'s latent.
    pub fn latent(&self, i: usize) -> &[f32] {
        &self.latents[i]
    }

    /// Sample `i`'s loss weight.
    pub fn weight(&self, i: usize) -> f32 {
        self.weights[i]
    }

    /// Mean loss weight (0 when empty).
    pub fn mean_weight(&self) -> f32 {
        if self.weights.is_empty() {
            0.0
        } else {
            self.weights.iter().sum::<f32>() / self.weights.len() as f32
        }
    }

    /// The pool rows trained on, for `mark_pool_selected`.
    pub fn pool_ids(&self) -> Vec<PoolId> {
        self.ids.clone()
    }
}

/// Where the guard latents came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardSource {
    /// Held-out corpus windows shipped with the version ([`GUARD_FILE`]).
    Corpus,
    /// The producer's captured songs, encoded by this model (no corpus file shipped).
    Songs,
}

/// The latents the held-out loss is measured on.
#[derive(Debug, Clone)]
pub struct Guard {
    /// Where they came from.
    pub source: GuardSource,
    /// Scaled latents.
    pub latents: Vec<Vec<f32>>,
}

/// The guard for fine-tuning the version in `dir`: its [`GUARD_FILE`] when it ships one, else
/// the store's song latents (real music through this model's encoder, the next best held-out
/// set). Without either there is nothing to guard with, and the fine-tune refuses to run.
pub fn load_guard(
    dir: &Path,
    manifest: &Manifest,
    store: &FeedbackStore,
) -> Result<Guard, FinetuneError> {
    let len = manifest.latent.len();
    let path = dir.join(GUARD_FILE);
    let (source, latents) = if manifest.files.contains_key(GUARD_FILE) {
        let bytes = std::fs::read(&path).map_err(FinetuneError::io(&path))?;
        if len == 0 || bytes.len() % (4 * len) != 0 {
            return Err(FinetuneError::Model(format!(
                "{}: {} bytes is not a whole number of {len}-value latents",
                path.display(),
                bytes.len()
            )));
        }
        let values: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let latents = values.chunks(len).map(<[f32]>::to_vec).collect();
        (GuardSource::Corpus, latents)
    } else {
        (GuardSource::Songs, song_latents(store, manifest)?)
    };
    let latents: Vec<Vec<f32>> = latents
        .into_iter()
        .filter(|l| l.iter().all(|v| v.is_finite()))
        .collect();
    if latents.is_empty() {
        return Err(FinetuneError::NothingToTrain(format!(
            "no held-out latents to guard against forgetting: {} has no {GUARD_FILE} and the store has no songs of this model's latent size",
            dir.display()
        )));
    }
    let all: Vec<usize> = (0..latents.len()).collect();
    let keep = crate::training::spread(&all, MAX_GUARD);
    Ok(Guard {
        source,
        latents: keep.into_iter().map(|i| latents[i].clone()).collect(),
    })
}

/// The store's song latents that fit `manifest`'s latent shape and are finite: the
/// producer's own music through the model's encoder.
pub fn song_latents(
    store: &FeedbackStore,
    manifest: &Manifest,
) -> Result<Vec<Vec<f32>>, FinetuneError> {
    let len = manifest.latent.len();
    Ok(store
        .songs()?
        .into_iter()
        .map(|s| s.latent)
        .filter(|l| l.len() == len && l.iter().all(|v| v.is_finite()))
        .collect())
}
