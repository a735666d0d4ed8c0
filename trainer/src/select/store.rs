//! Applies the rules to a [`FeedbackStore`]: reads ratings and the pool, runs [`select`] or
//! [`purge`], and writes the result back with the store's pool API.
//!
//! Each pool write is its own transaction (the store's contract). Should a round fail half way,
//! running it again over the same ratings is safe: clips already in the pool are skipped
//! ([`SkipReason::AlreadyInPool`]), and a clip that was replaced loses to its replacement.

use std::collections::HashMap;

use refrain_engine::feedback::{
    ClipId, FeedbackStore, NewPoolSample, PoolId, PoolSample, RatingId, Since,
};

use super::genetic::{
    conditioning_latent, select, Candidate, Decision, PoolEntry, SkipReason, Slot,
};
use super::purge::{purge, PurgeReason};
use super::rating::{Normaliser, RatingInput};
use super::{SelectConfig, SelectError};

/// What [`select_from_store`] did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SelectionReport {
    /// Ratings considered.
    pub ratings: usize,
    /// Of those, flagged as spam.
    pub flagged: usize,
    /// Candidates added as new samples.
    pub added: usize,
    /// Candidates that replaced their nearest sample.
    pub replaced: usize,
    /// Candidates that did not beat their nearest sample within the merge radius.
    pub lost: usize,
    /// Baseline score updates.
    pub score_updates: usize,
    /// Ratings that did not touch the pool for another reason (rejected, unconditioned, ...).
    pub skipped: usize,
    /// Pool size after the round.
    pub pool_size: usize,
    /// Each rating with its decision, oldest first.
    pub decisions: Vec<(RatingId, Decision)>,
}

/// The per-rater normaliser over the store's whole history ([`Since::All`]), so a rater's
/// scale does not shift with the window of ratings being scored.
pub fn store_normaliser(
    store: &FeedbackStore,
    cfg: &SelectConfig,
) -> Result<Normaliser, SelectError> {
    let history: Vec<RatingInput> = store
        .ratings_since(Since::All)?
        .iter()
        .map(RatingInput::from)
        .collect();
    Ok(Normaliser::from_history(&history, cfg))
}

/// What [`purge_store`] did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PurgeReport {
    /// Dropped samples with their reasons.
    pub dropped: Vec<(PoolId, PurgeReason)>,
    /// Pool size after the purge.
    pub remaining: usize,
}

/// One selection round: the ratings selected by `since` (normally [`Since::Version`] of the
/// current version, so each rating is offered once) compete for the pool, and admitted samples
/// are recorded as added in `version` (the version this round trains).
///
/// Normalisation ranges come from each rater's whole history ([`Since::All`]), not just from
/// `since`, so a rater's scale does not shift with the window. A clip whose conditioning cannot
/// be merged (latents of mixed sizes) is skipped with a warning rather than failing the round.
pub fn select_from_store(
    store: &mut FeedbackStore,
    since: Since,
    version: u32,
    cfg: &SelectConfig,
) -> Result<SelectionReport, SelectError> {
    cfg.validate()?;
    let norm = store_normaliser(store, cfg)?;
    let rated = store.ratings_with_clips(since)?;
    let mut ids = Vec::with_capacity(rated.len());
    let mut candidates = Vec::with_capacity(rated.len());
    for rc in &rated {
        let scored = norm.score(&RatingInput::from(&rc.rating));
        let condition = conditioning_latent(&rc.conditioning).unwrap_or_else(|e| {
            tracing::warn!(clip = %rc.clip.id, error = %e, "cannot merge the clip's conditioning; skipping it");
            None
        });
        ids.push(rc.rating.id);
        candidates.push(Candidate {
            clip: rc.clip.id,
            is_baseline: rc.clip.is_baseline,
            condition,
            scored,
        });
    }
    let pool: Vec<PoolEntry> = store
        .pool_samples()?
        .into_iter()
        .map(|s| PoolEntry {
            slot: Slot::Stored(s.id),
            clip: s.clip_id,
            condition: s.condition_latent,
            score: s.score,
        })
        .collect();
    let selection = select(&pool, &candidates, cfg);

    // Write the decisions in order; `created[n]` gets its row id when it is written, before any
    // later decision can refer to `Slot::New(n)`.
    let mut created: Vec<PoolId> = Vec::with_capacity(selection.created.len());
    let resolve = |slot: Slot, created: &[PoolId]| -> Result<PoolId, SelectError> {
        match slot {
            Slot::Stored(id) => Ok(id),
            Slot::New(n) => created
                .get(n)
                .copied()
                .ok_or(SelectError::Inconsistent(format!(
                    "decision refers to new sample {n} before it was written"
                ))),
        }
    };
    let new_sample = |n: usize| -> Result<NewPoolSample, SelectError> {
        let e = selection
            .created
            .get(n)
            .ok_or(SelectError::Inconsistent(format!(
                "decision names new sample {n}, the round created {}",
                selection.created.len()
            )))?;
        Ok(NewPoolSample {
            condition_latent: e.condition.clone(),
            clip_id: e.clip,
            score: e.score,
            added_in_version: version,
        })
    };
    let mut report = SelectionReport {
        ratings: rated.len(),
        pool_size: selection.pool.len(),
        ..SelectionReport::default()
    };
    for (decision, &rating) in selection.decisions.iter().zip(&ids) {
        match decision {
            Decision::Added { new, .. } => {
                created.push(store.add_pool_sample(&new_sample(*new)?)?);
                report.added += 1;
            }
            Decision::Replaced { old, new, .. } => {
                let old = resolve(*old, &created)?;
                created.push(store.replace_pool_sample(old, &new_sample(*new)?)?);
                report.replaced += 1;
            }
            Decision::ScoreUpdated { slot, score } => {
                store.set_pool_score(resolve(*slot, &created)?, *score)?;
                report.score_updates += 1;
            }
            Decision::Lost { .. } => report.lost += 1,
            Decision::Skipped(SkipReason::Flagged) => {
                report.flagged += 1;
                report.skipped += 1;
            }
            Decision::Skipped(_) => report.skipped += 1,
        }
        report.decisions.push((rating, decision.clone()));
    }
    tracing::info!(
        ratings = report.ratings,
        flagged = report.flagged,
        added = report.added,
        replaced = report.replaced,
        lost = report.lost,
        pool = report.pool_size,
        "selection round for version {version}"
    );
    Ok(report)
}

/// The purge cycle before fine-tuning `next_version`: drops what [`purge`] says, recording
/// `next_version` as the version they were removed in.
pub fn purge_store(
    store: &mut FeedbackStore,
    next_version: u32,
    cfg: &SelectConfig,
) -> Result<PurgeReport, SelectError> {
    cfg.validate()?;
    let pool = store.pool_samples()?;
    let dropped = purge(&pool, next_version, cfg);
    let ids: Vec<PoolId> = dropped.iter().map(|(id, _)| *id).collect();
    store.remove_pool_samples(&ids, next_version)?;
    tracing::info!(
        dropped = ids.len(),
        remaining = pool.len() - ids.len(),
        "purged the pool before version {next_version}"
    );
    Ok(PurgeReport {
        remaining: pool.len() - ids.len(),
        dropped,
    })
}

/// The live pool with each sample's confidence `ω`, the fine-tune's loss weight.
///
/// A sample's `ω` is that of the latest counted (unflagged) rating of its clip: the rating that
/// admitted it, or a later one (a blind baseline clip re-rated). It is recomputed here, with
/// normalisation over the whole current history, rather than stored, so it follows the rater's
/// current scale. A sample whose clip has no counted rating gets `ω = 0` (it cannot teach).
pub fn pool_weights(
    store: &FeedbackStore,
    cfg: &SelectConfig,
) -> Result<Vec<(PoolSample, f32)>, SelectError> {
    cfg.validate()?;
    let ratings = store.ratings_since(Since::All)?;
    let inputs: Vec<RatingInput> = ratings.iter().map(RatingInput::from).collect();
    let norm = Normaliser::from_history(&inputs, cfg);
    // Ratings come oldest first, so the last insert per clip is its latest counted rating.
    let mut omega: HashMap<ClipId, f32> = HashMap::new();
    for (rating, input) in ratings.iter().zip(&inputs) {
        let s = norm.score(input);
        if !s.flagged {
            omega.insert(rating.clip_id, s.omega);
        }
    }
    Ok(store
        .pool_samples()?
        .into_iter()
        .map(|s| {
            let w = omega.get(&s.clip_id).copied().unwrap_or(0.0);
            (s, w)
        })
        .collect())
}
