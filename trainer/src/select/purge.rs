//! The purge cycle (docs/ARCHITECTURE.md §4.4), run before each fine-tune: samples not selected in the last
//! K versions are dropped, and so are samples within ε of a better one.
//!
//! Staleness is applied first, and the ε rule then compares only the survivors: a sample that
//! is itself being dropped must not take a live neighbour down with it.
//!
//! "Better" is a strict total order: the higher score, and between equal scores the older
//! sample (lower pool id), as in selection, where a tie keeps the incumbent. Being total, it
//! guarantees that after a purge no two samples are within ε of each other: of any such pair
//! the worse one is dropped. Every sample is compared against the survivors of the staleness
//! rule as they were, not against the result of earlier drops, so the outcome does not depend
//! on the pool's order.

use std::cmp::Ordering;

use refrain_engine::feedback::{PoolId, PoolSample};

use super::genetic::cosine_distance;
use super::SelectConfig;

/// Why a sample was purged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PurgeReason {
    /// Neither admitted nor selected in the last K versions.
    Stale {
        /// The last version that admitted or selected it.
        last_seen: u32,
    },
    /// Within ε of a better sample.
    NearBetter {
        /// The better sample.
        better: PoolId,
        /// Their cosine distance.
        distance: f32,
    },
}

/// The last version that admitted or selected `s`.
fn last_seen(s: &PoolSample) -> u32 {
    s.last_selected_version
        .map_or(s.added_in_version, |v| v.max(s.added_in_version))
}

/// `Greater` when `a` is better than `b` (higher score; on equal scores, the older sample).
fn better(a: &PoolSample, b: &PoolSample) -> Ordering {
    a.score.total_cmp(&b.score).then_with(|| b.id.cmp(&a.id))
}

/// Which of the active samples in `pool` to drop before fine-tuning `next_version`, each with
/// its reason, in pool order.
///
/// Stale: `next_version − last_seen > K`, where `last_seen` is the later of the version that
/// admitted the sample and the last version that selected it (the last K versions before
/// `next_version` are `next_version − K ..= next_version − 1`). Samples already removed
/// (`removed_in_version` set) are ignored.
pub fn purge(
    pool: &[PoolSample],
    next_version: u32,
    cfg: &SelectConfig,
) -> Vec<(PoolId, PurgeReason)> {
    let active: Vec<&PoolSample> = pool
        .iter()
        .filter(|s| s.removed_in_version.is_none())
        .collect();
    let mut dropped = Vec::new();
    let mut live = Vec::new();
    for s in active {
        let seen = last_seen(s);
        if next_version.saturating_sub(seen) > cfg.stale_after_versions {
            dropped.push((s.id, PurgeReason::Stale { last_seen: seen }));
        } else {
            live.push(s);
        }
    }
    // Without genetic selection (an ablation) near-duplicates are what the pool is made of.
    for s in live.iter().filter(|_| cfg.genetic) {
        // The nearest better neighbour within ε names the reason; any one would do.
        let near_better = live
            .iter()
            .filter(|t| t.id != s.id && better(t, s) == Ordering::Greater)
            .map(|t| {
                (
                    t.id,
                    cosine_distance(&s.condition_latent, &t.condition_latent),
                )
            })
            .filter(|(_, d)| *d <= cfg.purge_epsilon)
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((better, distance)) = near_better {
            dropped.push((s.id, PurgeReason::NearBetter { better, distance }));
        }
    }
    dropped.sort_by_key(|(id, _)| *id);
    dropped
}
