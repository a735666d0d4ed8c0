//! Property tests of the learning rules (docs/ARCHITECTURE.md §4.4) over plain structs, without SQLite.

use proptest::prelude::*;
use refrain_engine::feedback::{ClipId, PoolId, PoolSample};
use refrain_trainer::select::{
    cosine_distance, is_accept, purge, select, Candidate, Normaliser, PoolEntry, RatingInput,
    SelectConfig, Slot,
};

/// Conditionings clustered around three directions, so that neighbourhoods within the merge
/// radius and ε happen often.
fn latent() -> impl Strategy<Value = Vec<f32>> {
    let bases = [[1.0f32, 0.0, 0.0], [0.0, 1.0, 0.0], [0.6, 0.8, 0.0]];
    (0..bases.len(), prop::array::uniform3(-0.15f32..0.15))
        .prop_map(move |(i, n)| bases[i].iter().zip(n).map(|(b, d)| b + d).collect())
}

fn rating() -> impl Strategy<Value = RatingInput> {
    (
        prop::sample::select(vec!["ann", "bo", "cy"]),
        any::<bool>(),
        prop::option::of(1u8..=5),
        0u64..8000,
        1000u64..8000,
    )
        .prop_map(|(rater, accepted, stars, listen_ms, clip_ms)| RatingInput {
            rater_id: rater.into(),
            accepted,
            stars,
            listen_ms,
            clip_ms,
        })
}

/// A top-of-scale rating heard for under a quarter of the clip, by any rater.
fn spam() -> impl Strategy<Value = RatingInput> {
    (
        prop::sample::select(vec!["ann", "bo", "spammer"]),
        any::<bool>(),
        1000u64..8000,
        0.0f64..0.2499,
    )
        .prop_map(|(rater, stars, clip_ms, frac)| RatingInput {
            rater_id: rater.into(),
            accepted: true,
            stars: stars.then_some(5),
            listen_ms: (clip_ms as f64 * frac) as u64,
            clip_ms,
        })
}

/// A rated clip: its rating, conditioning and whether it is a blind baseline clip.
type Rated = (RatingInput, Vec<f32>, bool);

fn rated() -> impl Strategy<Value = Rated> {
    (rating(), latent(), prop::bool::weighted(0.2))
}

fn pool() -> impl Strategy<Value = Vec<PoolEntry>> {
    prop::collection::vec((latent(), 0.0f32..=1.0), 0..8).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (condition, score))| PoolEntry {
                slot: Slot::Stored(PoolId(i as i64 + 1)),
                clip: ClipId(1000 + i as i64),
                condition,
                score,
            })
            .collect()
    })
}

/// Scores `rated` (normalising over all of them) into candidates with clip ids 1, 2, ...
fn candidates(rated: &[Rated], cfg: &SelectConfig) -> Vec<Candidate> {
    let inputs: Vec<RatingInput> = rated.iter().map(|r| r.0.clone()).collect();
    let scored = Normaliser::score_all(&inputs, cfg);
    rated
        .iter()
        .zip(scored)
        .enumerate()
        .map(|(i, ((_, condition, baseline), scored))| Candidate {
            clip: ClipId(i as i64 + 1),
            is_baseline: *baseline,
            condition: Some(condition.clone()),
            scored,
        })
        .collect()
}

/// The pool as (clip, score) pairs, in order.
fn contents(pool: &[PoolEntry]) -> Vec<(ClipId, f32)> {
    pool.iter().map(|e| (e.clip, e.score)).collect()
}

proptest! {
    #[test]
    fn confidence_is_a_weight(ratings in prop::collection::vec(rating(), 0..40)) {
        for s in Normaliser::score_all(&ratings, &SelectConfig::default()) {
            prop_assert!((0.0..=1.0).contains(&s.omega), "{s:?}");
            prop_assert!((0.0..=1.0).contains(&s.r), "{s:?}");
        }
    }

    #[test]
    fn normalisation_keeps_each_raters_order(ratings in prop::collection::vec(rating(), 0..40)) {
        let scored = Normaliser::score_all(&ratings, &SelectConfig::default());
        for (a, sa) in ratings.iter().zip(&scored) {
            for (b, sb) in ratings.iter().zip(&scored) {
                if a.rater_id == b.rater_id && !sa.flagged && !sb.flagged && sa.raw < sb.raw {
                    prop_assert!(sa.r <= sb.r, "{a:?} {sa:?} / {b:?} {sb:?}");
                }
            }
        }
    }

    #[test]
    fn spam_never_changes_the_pool(
        start in pool(),
        honest in prop::collection::vec(rated(), 0..24),
        spam in prop::collection::vec((spam(), latent(), any::<bool>(), any::<prop::sample::Index>()), 1..8),
    ) {
        let cfg = SelectConfig::default();
        let mut mixed = honest.clone();
        for (rating, condition, baseline, at) in spam {
            mixed.insert(at.index(mixed.len() + 1), (rating, condition, baseline));
        }
        // Spam ratings get clip ids of their own (renumbering honest clips changes nothing,
        // since each candidate is a distinct clip either way).
        let clean = select(&start, &candidates(&honest, &cfg), &cfg);
        let dirty = select(&start, &candidates(&mixed, &cfg), &cfg);
        let score = |p: &[PoolEntry]| p.iter().map(|e| (e.condition.clone(), e.score)).collect::<Vec<_>>();
        prop_assert_eq!(score(&clean.pool), score(&dirty.pool));
    }

    #[test]
    fn a_clip_that_does_not_beat_its_nearest_never_enters(
        start in pool().prop_filter("non-empty", |p| !p.is_empty()),
        pick in any::<prop::sample::Index>(),
        nudge in prop::array::uniform3(-0.01f32..0.01),
        r in 0.0f32..=1.0,
    ) {
        let cfg = SelectConfig::default();
        let target = &start[pick.index(start.len())];
        let condition: Vec<f32> = target.condition.iter().zip(nudge).map(|(c, d)| c + d).collect();
        let nearest = start
            .iter()
            .min_by(|a, b| cosine_distance(&condition, &a.condition)
                .total_cmp(&cosine_distance(&condition, &b.condition)));
        let Some(nearest) = nearest else { return Ok(()) };
        let score = r.min(nearest.score);
        let c = Candidate {
            clip: ClipId(1),
            is_baseline: false,
            condition: Some(condition.clone()),
            scored: refrain_trainer::select::Scored {
                raw: score, r: score, listened: 1.0, omega: 1.0, flagged: false, candidate: true,
            },
        };
        let s = select(&start, &[c], &cfg);
        if cosine_distance(&condition, &nearest.condition) <= cfg.merge_radius {
            prop_assert_eq!(contents(&s.pool), contents(&start));
        }
    }

    #[test]
    fn rejected_clips_never_enter(start in pool(), rated in prop::collection::vec(rated(), 0..24)) {
        let cfg = SelectConfig::default();
        let cands = candidates(&rated, &cfg);
        let s = select(&start, &cands, &cfg);
        for ((r, _, _), c) in rated.iter().zip(&cands) {
            if !is_accept(r.accepted, r.stars) {
                prop_assert!(s.pool.iter().all(|e| e.clip != c.clip), "{r:?} entered");
            }
        }
        // And no clip is ever in the pool twice.
        let mut clips: Vec<_> = s.pool.iter().map(|e| e.clip).collect();
        clips.sort();
        clips.dedup();
        prop_assert_eq!(clips.len(), s.pool.len());
    }

    #[test]
    fn no_two_samples_within_epsilon_after_a_purge(
        samples in prop::collection::vec((latent(), prop::sample::select(vec![0.0f32, 0.25, 0.5, 0.75, 1.0]), 0u32..6, prop::option::of(0u32..6)), 0..16),
        eps in 0.0f32..0.05,
    ) {
        let cfg = SelectConfig { purge_epsilon: eps, ..SelectConfig::default() };
        let pool: Vec<PoolSample> = samples
            .into_iter()
            .enumerate()
            .map(|(i, (condition_latent, score, added, sel))| PoolSample {
                id: PoolId(i as i64 + 1),
                condition_latent,
                clip_id: ClipId(i as i64 + 1),
                score,
                added_in_version: added,
                replaced_by: None,
                removed_in_version: None,
                last_selected_version: sel,
            })
            .collect();
        let dropped: Vec<PoolId> = purge(&pool, 6, &cfg).into_iter().map(|(id, _)| id).collect();
        let kept: Vec<&PoolSample> = pool.iter().filter(|s| !dropped.contains(&s.id)).collect();
        for a in &kept {
            for b in &kept {
                if a.id != b.id {
                    let d = cosine_distance(&a.condition_latent, &b.condition_latent);
                    prop_assert!(d > eps, "{:?} and {:?} at {d}", a.id, b.id);
                }
            }
        }
    }
}
