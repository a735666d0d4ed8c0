//! Which rated clips the fine-tune learns from: the learning rules of docs/ARCHITECTURE.md §4.4.
//!
//! The rules are pure functions over plain structs, so they can be property-tested without
//! SQLite; [`store`] is the thin layer that reads a [`refrain_engine::feedback::FeedbackStore`],
//! runs them and writes the pool back.
//!
//! - [`rating`] — listening fraction `l`, rating `r`, per-rater min–max normalisation,
//!   confidence `ω = (r + l) / 2`, the spam flag, and which ratings are candidates.
//! - [`genetic`] — genetic selection of candidates against the nearest pool sample, and the blind
//!   baseline score update.
//! - [`mod@purge`] — the purge cycle run before each fine-tune.
//!
//! Distances between conditionings are cosine distances `1 − cos(a, b)` (0 = same direction,
//! 1 = orthogonal, 2 = opposite) of the clips' conditioning latents: the weighted SLERP merge of
//! their songs' latents ([`refrain_engine::latent::merge`]), the same latent the engine noised.
//!
//! A round in order: [`select_from_store`] (ratings since the last version compete for the pool),
//! [`purge_store`] (before the fine-tune), [`pool_weights`] (each live sample with its `ω`), and
//! after the fine-tune the store's `mark_pool_selected`. Pool scores are the normalised `r` at
//! admission: they are not rescaled later when a rater's range widens.

pub mod genetic;
pub mod purge;
pub mod rating;
pub mod store;

use serde::{Deserialize, Serialize};

pub use genetic::{
    conditioning_latent, cosine_distance, select, Candidate, Decision, PoolEntry, Selection,
    SkipReason, Slot,
};
pub use purge::{purge, PurgeReason};
pub use rating::{
    confidence, is_accept, is_spam, listening_fraction, raw_rating, Normaliser, RaterRange,
    RatingInput, Scored,
};
pub use store::{
    pool_weights, purge_store, select_from_store, store_normaliser, PurgeReport, SelectionReport,
};

/// Why the selection could not run.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    /// The feedback store failed to read or write.
    #[error(transparent)]
    Store(#[from] refrain_engine::feedback::FeedbackError),
    /// A [`SelectConfig`] field is outside its meaningful range.
    #[error("invalid selection config {field}: {reason}")]
    Config {
        /// The field at fault.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A selection round's decisions contradict each other (a bug in this module, reported
    /// rather than panicking half way through writing the pool).
    #[error("inconsistent selection round: {0}")]
    Inconsistent(String),
}

/// The tunable constants of docs/ARCHITECTURE.md §4.4. [`Default`] gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SelectConfig {
    /// A candidate replaces its nearest pool sample (if it beats it) when their conditionings are
    /// within this cosine distance; farther away it is added. Default 0.02 (≈ 11° of arc): two
    /// clips of the same songs with merge weights differing by up to ~13 % count as the same
    /// niche, while different song choices (near-orthogonal latents, distance ≈ 1) never do.
    /// So the pool keeps the best clip per conditioning niche and stays diverse across niches.
    pub merge_radius: f32,
    /// Purge: a sample within this cosine distance of a better one is dropped. Default 0.01,
    /// half the merge radius: the purge only removes near-duplicates that selection let
    /// through (two additions that drifted together, or a baseline score update that reordered
    /// neighbours); a larger ε would thin out niches selection deliberately kept apart.
    pub purge_epsilon: f32,
    /// Purge: a sample neither admitted nor selected by a fine-tune in the last K versions is
    /// dropped. Default 3: survives one or two fine-tunes that subsample the pool, but a sample
    /// the trainer has stopped using for three versions no longer shapes the model.
    pub stale_after_versions: u32,
    /// A rater's ratings are min–max normalised once they have at least this many counted
    /// (unflagged) ratings. Default 5, the paper's threshold: fewer ratings give a range too
    /// noisy to rescale by.
    pub min_ratings_to_normalise: usize,
    /// A top-of-scale rating heard for less than this fraction of the clip is flagged as spam.
    /// Default 0.25, the paper's threshold: nobody can judge a 6 s clip from under 1.5 s.
    pub spam_listen_threshold: f32,
    /// Genetic selection and the purge's near-duplicate rule. `false` is the "no selection"
    /// ablation of `refrain-trainer simulate`: every counted accepted clip enters the pool and
    /// only staleness purges. Default `true`.
    pub genetic: bool,
}

impl Default for SelectConfig {
    fn default() -> Self {
        Self {
            merge_radius: 0.02,
            purge_epsilon: 0.01,
            stale_after_versions: 3,
            min_ratings_to_normalise: 5,
            spam_listen_threshold: 0.25,
            genetic: true,
        }
    }
}

impl SelectConfig {
    /// Checks every field's range (distances in [0, 2], threshold in [0, 1], K ≥ 1, at least
    /// 2 ratings to normalise since a range needs two values).
    pub fn validate(&self) -> Result<(), SelectError> {
        let bad = |field, reason: String| Err(SelectError::Config { field, reason });
        for (field, v) in [
            ("merge_radius", self.merge_radius),
            ("purge_epsilon", self.purge_epsilon),
        ] {
            if !(0.0..=2.0).contains(&v) {
                return bad(field, format!("{v} is not a cosine distance in [0, 2]"));
            }
        }
        if !(0.0..=1.0).contains(&self.spam_listen_threshold) {
            return bad(
                "spam_listen_threshold",
                format!("{} is not a fraction in [0, 1]", self.spam_listen_threshold),
            );
        }
        if self.stale_after_versions == 0 {
            return bad(
                "stale_after_versions",
                "0 would purge every sample before it is ever used".into(),
            );
        }
        if self.min_ratings_to_normalise < 2 {
            return bad(
                "min_ratings_to_normalise",
                format!(
                    "{} ratings cannot span a range",
                    self.min_ratings_to_normalise
                ),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        SelectConfig::default().validate().unwrap();
    }

    #[test]
    fn out_of_range_fields_are_named() {
        let cfg = SelectConfig {
            merge_radius: 3.0,
            ..SelectConfig::default()
        };
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("merge_radius"), "{err}");
        let cfg = SelectConfig {
            stale_after_versions: 0,
            ..SelectConfig::default()
        };
        assert!(cfg.validate().is_err());
        let cfg = SelectConfig {
            spam_listen_threshold: f32::NAN,
            ..SelectConfig::default()
        };
        assert!(cfg.validate().is_err());
    }
}

#[cfg(test)]
mod rule_tests;
