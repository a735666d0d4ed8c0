//! Genetic selection (docs/ARCHITECTURE.md §4.4): each candidate competes with the pool sample whose
//! conditioning is nearest, and a rating on a blind baseline clip updates the baseline's score.
//!
//! **The baseline's score.** A blind baseline clip is a clip the parent version made. Once such
//! a clip is in the pool (it was admitted like any accepted clip), it is the incumbent of its
//! niche: the sample later candidates must beat. Its score is stored as that pool sample's
//! `score` column (`training_pool.score`), and every counted (unflagged) rating of the clip,
//! accepted or not, overwrites it with that rating's normalised `r` ([`Decision::ScoreUpdated`]).
//! The latest opinion wins rather than a running mean: the score is the bar a candidate must
//! clear, and a producer who now dislikes the baseline should let better clips replace it at
//! once. A baseline clip not yet in the pool is an ordinary candidate.
//!
//! Any other clip already in the pool is not a candidate again (a clip never competes with
//! itself), so running the selection twice over the same ratings admits nothing new.

use refrain_engine::feedback::{ClipId, ConditioningSong, PoolId};
use refrain_engine::latent::{cosine_similarity, merge, LatentError};

use super::rating::Scored;
use super::SelectConfig;

/// Cosine distance `1 − cos(a, b)`; latents of different lengths (different model families) are
/// never neighbours, so they get the largest distance, 2.
pub fn cosine_distance(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 2.0;
    }
    1.0 - cosine_similarity(a, b)
}

/// A clip's conditioning latent: the weighted SLERP merge of its songs' latents, in merge order.
/// `None` for an unconditional clip (no songs), which has no niche to compete in.
pub fn conditioning_latent(songs: &[ConditioningSong]) -> Result<Option<Vec<f32>>, LatentError> {
    if songs.is_empty() {
        return Ok(None);
    }
    let latents: Vec<&[f32]> = songs.iter().map(|s| s.latent.as_slice()).collect();
    let weights: Vec<f32> = songs.iter().map(|s| s.weight).collect();
    merge(&latents, Some(&weights)).map(Some)
}

/// Where a pool sample lives: already in the store, or the n-th sample this round created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    /// A stored pool row.
    Stored(PoolId),
    /// The n-th sample created by this selection round (index into [`Selection::created`]).
    New(usize),
}

/// A pool sample as the rules see it.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolEntry {
    /// Where it lives.
    pub slot: Slot,
    /// Its clip.
    pub clip: ClipId,
    /// Its conditioning latent.
    pub condition: Vec<f32>,
    /// Its score `r`.
    pub score: f32,
}

/// A rated clip offered to the selection.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The rated clip.
    pub clip: ClipId,
    /// Whether it is a blind baseline clip.
    pub is_baseline: bool,
    /// Its conditioning latent (`None`: unconditional or unmergeable).
    pub condition: Option<Vec<f32>>,
    /// The per-rating rules' outcome for this rating.
    pub scored: Scored,
}

/// Why a rating did not change the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// Flagged as spam: never counts.
    Flagged,
    /// Rejected (or under 4 stars): rejected clips never enter the pool.
    NotAccepted,
    /// No conditioning latent to compare.
    NoConditioning,
    /// The clip is already in the pool (and is not a baseline clip).
    AlreadyInPool,
}

/// What the selection did with one candidate.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Nothing within the merge radius: added as new sample `new`.
    Added {
        /// Index into [`Selection::created`].
        new: usize,
        /// Distance to the nearest sample (`None`: the pool was empty).
        nearest_distance: Option<f32>,
    },
    /// Beat the nearest sample `old`, within the merge radius: replaced it by `new`.
    Replaced {
        /// The replaced sample.
        old: Slot,
        /// Index into [`Selection::created`].
        new: usize,
        /// Their distance.
        distance: f32,
    },
    /// Within the merge radius of `nearest` but did not beat its score: not admitted.
    Lost {
        /// The sample it lost to.
        nearest: Slot,
        /// Their distance.
        distance: f32,
    },
    /// A rating of a blind baseline clip in the pool set its sample's score.
    ScoreUpdated {
        /// The baseline clip's sample.
        slot: Slot,
        /// The new score.
        score: f32,
    },
    /// Did not touch the pool.
    Skipped(SkipReason),
}

/// The result of a selection round: one decision per candidate, the samples it created, and the
/// pool after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// One per candidate, in order.
    pub decisions: Vec<Decision>,
    /// Created samples, indexed by [`Slot::New`].
    pub created: Vec<PoolEntry>,
    /// The pool after the round.
    pub pool: Vec<PoolEntry>,
}

/// Runs genetic selection over `candidates` in order (oldest rating first), starting from `pool`.
///
/// Per candidate: flagged → skipped; a baseline clip already in the pool → its score is set to
/// `r`; not accepted, unconditioned or already in the pool → skipped; otherwise find the sample
/// with the nearest conditioning (ties: the older sample). Farther than the merge radius (or an
/// empty pool) → added. Within it → replaces that sample if `r` is strictly greater than its
/// score (ties keep the incumbent, so equal clips do not churn), else it is lost.
pub fn select(pool: &[PoolEntry], candidates: &[Candidate], cfg: &SelectConfig) -> Selection {
    let mut pool = pool.to_vec();
    let mut created = Vec::new();
    let mut decisions = Vec::with_capacity(candidates.len());
    for c in candidates {
        let d = decide(&mut pool, &mut created, c, cfg);
        decisions.push(d);
    }
    Selection {
        decisions,
        created,
        pool,
    }
}

fn decide(
    pool: &mut Vec<PoolEntry>,
    created: &mut Vec<PoolEntry>,
    c: &Candidate,
    cfg: &SelectConfig,
) -> Decision {
    if c.scored.flagged {
        return Decision::Skipped(SkipReason::Flagged);
    }
    let own = pool.iter_mut().find(|e| e.clip == c.clip);
    if let (true, Some(entry)) = (c.is_baseline, own) {
        entry.score = c.scored.r;
        return Decision::ScoreUpdated {
            slot: entry.slot,
            score: c.scored.r,
        };
    }
    if !c.scored.candidate {
        return Decision::Skipped(SkipReason::NotAccepted);
    }
    let Some(condition) = &c.condition else {
        return Decision::Skipped(SkipReason::NoConditioning);
    };
    if pool.iter().any(|e| e.clip == c.clip) {
        return Decision::Skipped(SkipReason::AlreadyInPool);
    }
    let nearest = pool
        .iter()
        .enumerate()
        .map(|(i, e)| (i, cosine_distance(condition, &e.condition)))
        // `min_by` keeps the first of equal distances: the older sample.
        .min_by(|a, b| a.1.total_cmp(&b.1));
    // The candidate as a new sample: created this round, so it lives in a `Slot::New`.
    let new = created.len();
    let entry = PoolEntry {
        slot: Slot::New(new),
        clip: c.clip,
        condition: condition.clone(),
        score: c.scored.r,
    };
    match nearest {
        Some((i, distance)) if cfg.genetic && distance <= cfg.merge_radius => {
            let old = pool[i].slot;
            if c.scored.r > pool[i].score {
                created.push(entry.clone());
                pool[i] = entry;
                Decision::Replaced { old, new, distance }
            } else {
                Decision::Lost {
                    nearest: old,
                    distance,
                }
            }
        }
        nearest => {
            created.push(entry.clone());
            pool.push(entry);
            Decision::Added {
                new,
                nearest_distance: nearest.map(|(_, d)| d),
            }
        }
    }
}
