//! Unit tests of genetic selection and the purge, with hand-computed distances.

use refrain_engine::feedback::{ClipId, ConditioningSong, PoolId, PoolSample, SongId};

use super::genetic::{conditioning_latent, cosine_distance, select};
use super::*;

fn scored(r: f32, candidate: bool) -> Scored {
    Scored {
        raw: r,
        r,
        listened: 1.0,
        omega: confidence(r, 1.0),
        flagged: false,
        candidate,
    }
}

fn cand(clip: i64, condition: &[f32], r: f32) -> Candidate {
    Candidate {
        clip: ClipId(clip),
        is_baseline: false,
        condition: Some(condition.to_vec()),
        scored: scored(r, true),
    }
}

fn entry(id: i64, clip: i64, condition: &[f32], score: f32) -> PoolEntry {
    PoolEntry {
        slot: Slot::Stored(PoolId(id)),
        clip: ClipId(clip),
        condition: condition.to_vec(),
        score,
    }
}

fn cfg() -> SelectConfig {
    SelectConfig::default()
}

#[test]
fn distances_by_hand() {
    // cos([1,0],[1,0.1]) = 1/√1.01 = 0.995037 → distance 0.004963.
    assert!((cosine_distance(&[1.0, 0.0], &[1.0, 0.1]) - 0.004963).abs() < 1e-6);
    assert!((cosine_distance(&[1.0, 0.0], &[0.0, 1.0]) - 1.0).abs() < 1e-6);
    assert_eq!(cosine_distance(&[1.0], &[1.0, 0.0]), 2.0);
}

#[test]
fn conditioning_is_the_slerp_merge() {
    let song = |id, w, l: &[f32]| ConditioningSong {
        song_id: SongId(id),
        weight: w,
        latent: l.to_vec(),
    };
    assert_eq!(conditioning_latent(&[]).unwrap(), None);
    // Two orthogonal unit latents, equal weights: halfway along the arc, (√½, √½).
    let m = conditioning_latent(&[song(1, 1.0, &[1.0, 0.0]), song(2, 1.0, &[0.0, 1.0])])
        .unwrap()
        .unwrap();
    assert!(
        (m[0] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6
            && (m[1] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6
    );
    assert!(conditioning_latent(&[song(1, 1.0, &[1.0]), song(2, 1.0, &[0.0, 1.0])]).is_err());
}

#[test]
fn empty_pool_admits() {
    let s = select(&[], &[cand(1, &[1.0, 0.0], 0.0)], &cfg());
    assert_eq!(
        s.decisions,
        [Decision::Added {
            new: 0,
            nearest_distance: None
        }]
    );
    assert_eq!(s.pool.len(), 1);
}

#[test]
fn better_candidate_within_radius_replaces_its_nearest() {
    // Nearest of [0.1, 1] is B = [0, 1] (distance 0.004963 ≤ 0.02), score 0.1 < 0.5.
    let pool = [
        entry(1, 10, &[1.0, 0.0], 0.9),
        entry(2, 20, &[0.0, 1.0], 0.1),
    ];
    let s = select(&pool, &[cand(3, &[0.1, 1.0], 0.5)], &cfg());
    let Decision::Replaced { old, new, distance } = s.decisions[0] else {
        panic!("{:?}", s.decisions[0]);
    };
    assert_eq!((old, new), (Slot::Stored(PoolId(2)), 0));
    assert!((distance - 0.004963).abs() < 1e-6);
    let clips: Vec<i64> = s.pool.iter().map(|e| e.clip.0).collect();
    assert_eq!(clips, [10, 3]);
}

#[test]
fn candidate_that_does_not_beat_its_nearest_is_lost() {
    let pool = [entry(1, 10, &[1.0, 0.0], 0.5)];
    // An equal score does not beat the incumbent.
    let s = select(&pool, &[cand(2, &[1.0, 0.1], 0.5)], &cfg());
    assert!(matches!(s.decisions[0], Decision::Lost { .. }));
    assert_eq!(s.pool, pool);
    assert!(s.created.is_empty());
}

#[test]
fn candidate_outside_the_radius_is_added_whatever_its_score() {
    // [1, 1] is 0.2929 from [1, 0]: an empty neighbourhood, so even r = 0 is admitted.
    let pool = [entry(1, 10, &[1.0, 0.0], 1.0)];
    let s = select(&pool, &[cand(2, &[1.0, 1.0], 0.0)], &cfg());
    let Decision::Added {
        nearest_distance: Some(d),
        ..
    } = s.decisions[0]
    else {
        panic!("{:?}", s.decisions[0]);
    };
    assert!((d - 0.292_893).abs() < 1e-5);
    assert_eq!(s.pool.len(), 2);
}

#[test]
fn a_sample_created_this_round_can_be_replaced_in_it() {
    let cands = [cand(1, &[1.0, 0.0], 0.5), cand(2, &[1.0, 0.05], 0.75)];
    let s = select(&[], &cands, &cfg());
    assert_eq!(
        s.decisions[1],
        Decision::Replaced {
            old: Slot::New(0),
            new: 1,
            distance: cosine_distance(&[1.0, 0.05], &[1.0, 0.0])
        }
    );
    assert_eq!(s.pool.len(), 1);
    assert_eq!(s.pool[0].clip, ClipId(2));
}

#[test]
fn skips_flagged_rejected_unconditioned_and_pooled_clips() {
    let pool = [entry(1, 10, &[1.0, 0.0], 0.5)];
    let mut flagged = cand(2, &[0.0, 1.0], 1.0);
    flagged.scored.flagged = true;
    let mut rejected = cand(3, &[0.0, 1.0], 0.0);
    rejected.scored.candidate = false;
    let mut bare = cand(4, &[0.0, 1.0], 1.0);
    bare.condition = None;
    let again = cand(10, &[0.0, 1.0], 1.0);
    let s = select(&pool, &[flagged, rejected, bare, again], &cfg());
    use SkipReason::*;
    let want = [Flagged, NotAccepted, NoConditioning, AlreadyInPool].map(Decision::Skipped);
    assert_eq!(s.decisions, want);
    assert_eq!(s.pool, pool);
}

#[test]
fn baseline_rating_sets_the_baselines_score() {
    // Clip 10 is a blind baseline clip in the pool with score 0.8; it is now rated 2★
    // (r = 0.25, rejected): its sample's score becomes 0.25, and a 0.5 candidate in its
    // niche, which would have lost to 0.8, now replaces it.
    let pool = [entry(1, 10, &[1.0, 0.0], 0.8)];
    let mut baseline = cand(10, &[1.0, 0.0], 0.25);
    baseline.is_baseline = true;
    baseline.scored.candidate = false;
    let s = select(&pool, &[baseline, cand(2, &[1.0, 0.1], 0.5)], &cfg());
    assert_eq!(
        s.decisions[0],
        Decision::ScoreUpdated {
            slot: Slot::Stored(PoolId(1)),
            score: 0.25
        }
    );
    assert!(matches!(s.decisions[1], Decision::Replaced { .. }));
    // A baseline clip not in the pool is an ordinary candidate.
    let mut fresh = cand(20, &[0.0, 1.0], 0.75);
    fresh.is_baseline = true;
    let s = select(&pool, &[fresh], &cfg());
    assert!(matches!(s.decisions[0], Decision::Added { .. }));
}

fn sample(id: i64, condition: &[f32], score: f32, added: u32, sel: Option<u32>) -> PoolSample {
    PoolSample {
        id: PoolId(id),
        condition_latent: condition.to_vec(),
        clip_id: ClipId(id),
        score,
        added_in_version: added,
        replaced_by: None,
        removed_in_version: None,
        last_selected_version: sel,
    }
}

#[test]
fn purge_drops_samples_not_selected_in_the_last_k_versions() {
    // Before version 5 with K = 3, the last three versions are 2, 3, 4.
    let pool = [
        sample(1, &[1.0, 0.0], 0.5, 2, None),     // added in 2: kept
        sample(2, &[0.0, 1.0], 0.5, 1, None),     // added in 1, never selected: stale
        sample(3, &[1.0, 1.0], 0.5, 1, Some(4)),  // selected in 4: kept
        sample(4, &[1.0, -1.0], 0.5, 0, Some(1)), // last seen in 1: stale
    ];
    let dropped = purge(&pool, 5, &cfg());
    assert_eq!(
        dropped,
        [
            (PoolId(2), PurgeReason::Stale { last_seen: 1 }),
            (PoolId(4), PurgeReason::Stale { last_seen: 1 })
        ]
    );
}

#[test]
fn purge_drops_samples_within_epsilon_of_a_better_one() {
    // A–B 0.004963 and B–C 0.004771 are within ε = 0.01; A–C 0.019419 is not.
    // B is best, so A and C both go, each naming B; D is far from all.
    let pool = [
        sample(1, &[1.0, 0.0], 0.5, 1, None),
        sample(2, &[1.0, 0.1], 0.75, 1, None),
        sample(3, &[1.0, 0.2], 0.6, 1, None),
        sample(4, &[0.0, 1.0], 0.1, 1, None),
    ];
    let dropped = purge(&pool, 2, &cfg());
    let ids: Vec<_> = dropped.iter().map(|(id, _)| id.0).collect();
    assert_eq!(ids, [1, 3]);
    let PurgeReason::NearBetter { better, distance } = dropped[1].1 else {
        panic!("{:?}", dropped[1]);
    };
    assert_eq!(better, PoolId(2));
    assert!((distance - 0.004771).abs() < 1e-5, "{distance}");
}

#[test]
fn purge_ties_keep_the_older_and_stale_samples_take_nobody_with_them() {
    let pool = [
        sample(1, &[1.0, 0.0], 0.5, 1, None),
        sample(2, &[1.0, 0.0], 0.5, 1, None),
    ];
    assert_eq!(purge(&pool, 2, &cfg())[0].0, PoolId(2));
    // Sample 1 is better but stale: it goes, and sample 2 stays.
    let pool = [
        sample(1, &[1.0, 0.0], 0.9, 0, None),
        sample(2, &[1.0, 0.0], 0.5, 4, None),
    ];
    assert_eq!(
        purge(&pool, 4, &cfg()),
        [(PoolId(1), PurgeReason::Stale { last_seen: 0 })]
    );
}

#[test]
fn without_genetic_selection_every_accepted_clip_is_added() {
    let pool = [entry(1, 10, &[1.0, 0.0], 0.9)];
    let off = SelectConfig {
        genetic: false,
        ..cfg()
    };
    // Same conditioning, worse score: lost with selection, added without.
    let c = [cand(2, &[1.0, 0.0], 0.1)];
    assert!(matches!(
        select(&pool, &c, &cfg()).decisions[0],
        Decision::Lost { .. }
    ));
    let s = select(&pool, &c, &off);
    assert!(matches!(s.decisions[0], Decision::Added { .. }));
    assert_eq!(s.pool.len(), 2);
    // A rejected clip still never enters.
    let mut rejected = cand(3, &[0.0, 1.0], 0.0);
    rejected.scored.candidate = false;
    assert!(matches!(
        select(&pool, &[rejected], &off).decisions[0],
        Decision::Skipped(SkipReason::NotAccepted)
    ));
}

#[test]
fn without_genetic_selection_the_purge_keeps_near_duplicates() {
    let pool = [
        sample(1, &[1.0, 0.0], 0.9, 1, None),
        sample(2, &[1.0, 0.0], 0.1, 1, None),
    ];
    assert_eq!(purge(&pool, 2, &cfg()).len(), 1);
    let off = SelectConfig {
        genetic: false,
        ..cfg()
    };
    assert!(purge(&pool, 2, &off).is_empty());
}
