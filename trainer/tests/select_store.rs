//! Selection and purge through a real (temporary) feedback store: songs, clips and ratings
//! written with the store's API, then `select_from_store` / `purge_store`, then the pool read
//! back.

use refrain_engine::feedback::{
    ClipId, FeedbackStore, NewGeneration, NewRating, NewSong, Since, SongAudio, SongId,
};
use refrain_trainer::select::{
    pool_weights, purge_store, select_from_store, Decision, PurgeReason, SelectConfig, SkipReason,
};

const CLIP_MS: u64 = 6000;

fn song(store: &mut FeedbackStore, latent: [f32; 4]) -> SongId {
    store
        .add_song(NewSong {
            source: "test".into(),
            sample_rate: 22_050,
            duration_s: 0.01,
            wav: SongAudio::Samples(vec![0.0; 220]),
            latent: latent.to_vec(),
        })
        .unwrap()
}

fn clip(store: &mut FeedbackStore, songs: &[(SongId, f32)], baseline: bool) -> ClipId {
    store
        .add_generation(NewGeneration {
            song_ids: songs.iter().map(|s| s.0).collect(),
            weights: songs.iter().map(|s| s.1).collect(),
            seed: 7,
            strength: 0.5,
            steps: 10,
            eta: 0.0,
            detail: 0.0,
            model_version: 0,
            is_baseline: baseline,
            audio: vec![0.0; 220],
            sample_rate: 22_050,
            latent: vec![0.5; 4],
            request: None,
        })
        .unwrap()
}

fn rate(store: &mut FeedbackStore, clip: ClipId, accepted: bool, stars: Option<u8>, listen: u64) {
    let r = NewRating::new(clip, accepted, stars, listen, CLIP_MS, "ann");
    store.add_rating(&r).unwrap();
}

#[test]
fn selection_and_purge_through_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = FeedbackStore::open(dir.path()).unwrap();
    let cfg = SelectConfig::default();
    let a = song(&mut store, [1.0, 0.0, 0.0, 0.0]);
    let b = song(&mut store, [0.0, 1.0, 0.0, 0.0]);
    let c = song(&mut store, [0.0, 0.0, 1.0, 0.0]);

    // Round 1 (for version 1), rater "ann" with four ratings: no normalisation yet.
    let a1 = clip(&mut store, &[(a, 1.0)], false); // 3★: not accepted
    let a2 = clip(&mut store, &[(a, 1.0)], false); // Accept: r = 1, enters
    let ab = clip(&mut store, &[(a, 1.0), (b, 1.0)], true); // baseline, 4★: enters
    let spam = clip(&mut store, &[(c, 1.0)], false); // 5★ after 1 s: flagged
    rate(&mut store, a1, true, Some(3), CLIP_MS);
    rate(&mut store, a2, true, None, CLIP_MS);
    rate(&mut store, ab, true, Some(4), CLIP_MS);
    rate(&mut store, spam, true, Some(5), 1000);
    let report = select_from_store(&mut store, Since::All, 1, &cfg).unwrap();
    assert_eq!(
        (report.ratings, report.added, report.flagged, report.skipped),
        (4, 2, 1, 2)
    );
    assert_eq!(
        report.decisions[0].1,
        Decision::Skipped(SkipReason::NotAccepted)
    );
    let pool = store.pool_samples().unwrap();
    let clips: Vec<_> = pool.iter().map(|s| (s.clip_id, s.score)).collect();
    assert_eq!(clips, [(a2, 1.0), (ab, 0.75)]);
    // The pool stores the merged conditioning: (a, b) at equal weights is halfway, (√½, √½).
    assert!((pool[1].condition_latent[0] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
    store
        .add_model_version(1, Some(0), &serde_json::json!({}))
        .unwrap();

    // Round 2 (for version 2): the baseline clip is rated 2★ again (its score drops to the new
    // normalised r), a better clip in its niche then replaces it, and a new rating on song c
    // forms a niche of its own. "ann" now has 6 counted ratings ranging 0.25..1 (stars 2 to
    // Accept): 4★ → (0.75 − 0.25) / 0.75 = 2/3, 2★ → 0.
    let ab2 = clip(&mut store, &[(b, 1.0), (a, 1.0)], false);
    let c1 = clip(&mut store, &[(c, 1.0)], false);
    // Make sure these ratings are strictly after version 1 was registered.
    std::thread::sleep(std::time::Duration::from_millis(5));
    rate(&mut store, ab, false, Some(2), CLIP_MS);
    rate(&mut store, ab2, true, Some(4), CLIP_MS);
    rate(&mut store, c1, true, Some(5), 4000);
    let report = select_from_store(&mut store, Since::Version(1), 2, &cfg).unwrap();
    assert_eq!(report.ratings, 3);
    assert!(matches!(
        report.decisions[0].1,
        Decision::ScoreUpdated { score, .. } if score == 0.0
    ));
    assert!(matches!(report.decisions[1].1, Decision::Replaced { .. }));
    assert!(matches!(report.decisions[2].1, Decision::Added { .. }));
    let pool = store.pool_samples().unwrap();
    let clips: Vec<_> = pool.iter().map(|s| s.clip_id).collect();
    assert_eq!(clips, [a2, ab2, c1]);
    assert!((pool[1].score - 2.0 / 3.0).abs() < 1e-6);
    let history = store.pool_history().unwrap();
    let old = history.iter().find(|s| s.clip_id == ab).unwrap();
    assert_eq!(
        (old.replaced_by, old.removed_in_version),
        (Some(pool[1].id), Some(2))
    );

    // Running the round again admits nothing new.
    let again = select_from_store(&mut store, Since::Version(1), 2, &cfg).unwrap();
    assert_eq!((again.added, again.replaced), (0, 0));

    // Loss weights ω = (r + l) / 2 with ann's current range 0.25..1: a2 Accept fully heard
    // (1 + 1) / 2 = 1; ab2 4★ fully heard (2/3 + 1) / 2 = 5/6; c1 5★ heard 4 of 6 s
    // (1 + 2/3) / 2 = 5/6.
    let weights: Vec<_> = pool_weights(&store, &cfg)
        .unwrap()
        .into_iter()
        .map(|(s, w)| (s.clip_id, w))
        .collect();
    for ((clip, w), (want_clip, want)) in
        weights
            .iter()
            .zip([(a2, 1.0), (ab2, 5.0 / 6.0), (c1, 5.0 / 6.0)])
    {
        assert_eq!(*clip, want_clip);
        assert!((w - want).abs() < 1e-6, "{clip}: {w} != {want}");
    }

    // Purge before version 5 (K = 3): only samples seen in versions 2..=4 survive; a2 was
    // admitted in 1 and selected by nobody since.
    store.mark_pool_selected(&[pool[1].id], 4).unwrap();
    let purged = purge_store(&mut store, 5, &cfg).unwrap();
    assert_eq!(
        purged.dropped,
        [(pool[0].id, PurgeReason::Stale { last_seen: 1 })]
    );
    assert_eq!(purged.remaining, 2);
    let left: Vec<_> = store
        .pool_samples()
        .unwrap()
        .iter()
        .map(|s| s.clip_id)
        .collect();
    assert_eq!(left, [ab2, c1]);
}
