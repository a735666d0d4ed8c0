//! The per-version report of issue 7 / docs/ARCHITECTURE.md §4.4: for each model version, the ratings its
//! clips got, their mean, the win rate against the blind baseline clips shown beside them, and
//! the training pool's size; plus an SVG plot of mean rating per version ([`plot`]).
//!
//! Ratings are scored with the selection's own rules ([`crate::select::Normaliser`]): flagged
//! (spam) ratings never count, and `r` is normalised per rater over the whole store.

pub mod plot;

use std::collections::{BTreeMap, BTreeSet};

use refrain_engine::feedback::{FeedbackStore, ModelVersion, PoolSample, RatedClip, Since};
use serde::Serialize;

use crate::select::{Normaliser, RatingInput, SelectConfig};

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The store failed to read.
    #[error(transparent)]
    Store(#[from] refrain_engine::feedback::FeedbackError),
    /// Drawing or writing the plot failed.
    #[error("cannot draw the plot {path}: {reason}")]
    Plot {
        /// The output file.
        path: String,
        /// What plotters said.
        reason: String,
    },
}

/// One version's line of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionStats {
    /// The model version (0 = shipped base).
    pub version: u32,
    /// Counted (unflagged) ratings of clips this version made (baseline clips excluded).
    pub ratings_used: usize,
    /// Mean normalised rating `r` of those; `None` without ratings.
    pub mean_rating: Option<f32>,
    /// Counted ratings of blind baseline clips shown while this version was current.
    pub baseline_ratings: usize,
    /// Probability that a rating of this version's clip beats a rating of a baseline clip
    /// shown beside it (ties count half: the Mann–Whitney AUC); `None` when either side has no
    /// ratings.
    pub win_rate: Option<f32>,
    /// Training-pool samples live after this version's selection round: admitted in a version
    /// ≤ it and not replaced or purged by then.
    pub pool_size: usize,
}

/// The version a rated clip is evidence for.
///
/// A clip the current version made belongs to its `model_version`. A blind baseline clip is
/// made by the parent of the version current at the time, and is evidence *against* that
/// current version: it belongs to the latest registered child of its `model_version`
/// registered before the clip was made, or, with none registered, to `model_version + 1`.
fn session_version(rc: &RatedClip, versions: &[ModelVersion]) -> u32 {
    let clip = &rc.clip;
    if !clip.is_baseline {
        return clip.model_version;
    }
    versions
        .iter()
        .filter(|v| v.parent == Some(clip.model_version) && v.created_ms <= clip.created_ms)
        .map(|v| v.version)
        .max()
        .unwrap_or(clip.model_version.saturating_add(1))
}

/// Pool samples live after `version`'s selection round.
fn pool_size_at(history: &[PoolSample], version: u32) -> usize {
    history
        .iter()
        .filter(|s| {
            s.added_in_version <= version && s.removed_in_version.is_none_or(|r| r > version)
        })
        .count()
}

/// AUC of `own` over `baseline`: P(own > base) + ½ P(own = base) over all pairs.
fn win_rate(own: &[f32], baseline: &[f32]) -> Option<f32> {
    if own.is_empty() || baseline.is_empty() {
        return None;
    }
    let mut score = 0.0f64;
    for &a in own {
        for &b in baseline {
            score += match a.total_cmp(&b) {
                std::cmp::Ordering::Greater => 1.0,
                std::cmp::Ordering::Equal => 0.5,
                std::cmp::Ordering::Less => 0.0,
            };
        }
    }
    Some((score / (own.len() * baseline.len()) as f64) as f32)
}

/// The report over plain data (what [`from_store`] reads), one line per version that has
/// clips, ratings, pool samples or a registration, lowest first.
pub fn compute(
    rated: &[RatedClip],
    versions: &[ModelVersion],
    pool_history: &[PoolSample],
    cfg: &SelectConfig,
) -> Vec<VersionStats> {
    let inputs: Vec<RatingInput> = rated
        .iter()
        .map(|rc| RatingInput::from(&rc.rating))
        .collect();
    let norm = Normaliser::from_history(&inputs, cfg);
    let mut own: BTreeMap<u32, Vec<f32>> = BTreeMap::new();
    let mut base: BTreeMap<u32, Vec<f32>> = BTreeMap::new();
    let mut all: BTreeSet<u32> = versions.iter().map(|v| v.version).collect();
    all.extend(pool_history.iter().map(|s| s.added_in_version));
    for (rc, input) in rated.iter().zip(&inputs) {
        let v = session_version(rc, versions);
        all.insert(v);
        let s = norm.score(input);
        if s.flagged {
            continue;
        }
        let side = if rc.clip.is_baseline {
            &mut base
        } else {
            &mut own
        };
        side.entry(v).or_default().push(s.r);
    }
    all.into_iter()
        .map(|version| {
            let mine = own.get(&version).map(Vec::as_slice).unwrap_or(&[]);
            let theirs = base.get(&version).map(Vec::as_slice).unwrap_or(&[]);
            VersionStats {
                version,
                ratings_used: mine.len(),
                mean_rating: (!mine.is_empty())
                    .then(|| mine.iter().sum::<f32>() / mine.len() as f32),
                baseline_ratings: theirs.len(),
                win_rate: win_rate(mine, theirs),
                pool_size: pool_size_at(pool_history, version),
            }
        })
        .collect()
}

/// Reads everything the report needs from `store` and computes it with the default rules.
pub fn from_store(store: &FeedbackStore) -> Result<Vec<VersionStats>, ReportError> {
    let rated = store.ratings_with_clips(Since::All)?;
    let versions = store.model_versions()?;
    let history = store.pool_history()?;
    Ok(compute(
        &rated,
        &versions,
        &history,
        &SelectConfig::default(),
    ))
}

/// The report as a plain-text table (one line per version).
pub fn table(stats: &[VersionStats]) -> String {
    let opt = |v: Option<f32>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"));
    let mut out = String::from("version  ratings  mean_r  baseline  win_rate  pool\n");
    for s in stats {
        out.push_str(&format!(
            "{:>7}  {:>7}  {:>6}  {:>8}  {:>8}  {:>4}\n",
            s.version,
            s.ratings_used,
            opt(s.mean_rating),
            s.baseline_ratings,
            opt(s.win_rate),
            s.pool_size
        ));
    }
    out
}

#[cfg(test)]
mod tests;
