//! What the trainer reads and writes: ratings by time and version joined with their clips, the
//! training pool and model versions.
use std::thread::sleep;
use std::time::Duration;

use refrain_engine::feedback::{FeedbackError, NewPoolSample, NewRating, PoolId, Since};

use crate::support::feedback::{empty_store, generation, song, store_with_clip};

#[test]
fn trainer_queries_select_by_time_and_version_and_join_clips() {
    let (_dir, mut store) = empty_store();
    let s1 = store.add_song(song(0.1)).unwrap();
    let s2 = store.add_song(song(0.2)).unwrap();
    let c1 = store.add_generation(generation(&[s1, s2], 2)).unwrap();
    let c2 = store.add_generation(generation(&[s2], 3)).unwrap();
    let mut old = NewRating::new(c1, true, Some(5), 5000, 5940, "a");
    old.rated_at_ms = Some(1000);
    store.add_rating(&old).unwrap();
    store
        .add_model_version(1, Some(0), &serde_json::json!({}))
        .unwrap();
    sleep(Duration::from_millis(3));
    let r2 = store
        .add_rating(&NewRating::new(c2, false, None, 100, 5940, "b"))
        .unwrap();
    let r3 = store
        .add_rating(&NewRating::new(c1, true, None, 5940, 5940, "b"))
        .unwrap();

    assert_eq!(store.ratings_since(Since::All).unwrap().len(), 3);
    assert_eq!(store.ratings_since(Since::Time(1001)).unwrap().len(), 2);
    let since_v1: Vec<_> = store
        .ratings_since(Since::Version(1))
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(since_v1, vec![r2, r3]);
    assert!(matches!(
        store.ratings_since(Since::Version(9)).unwrap_err(),
        FeedbackError::NotFound {
            what: "model version",
            ..
        }
    ));

    let joined = store.ratings_with_clips(Since::All).unwrap();
    assert_eq!(joined.len(), 3);
    let first = &joined[0];
    assert_eq!(first.rating.uid, old.uid);
    assert_eq!(first.clip, store.generation(c1).unwrap());
    assert_eq!(first.conditioning.len(), 2);
    assert_eq!(first.conditioning[0].song_id, s1);
    assert_eq!(first.conditioning[0].weight, 1.0);
    assert_eq!(first.conditioning[1].weight, 0.5);
    assert_eq!(first.conditioning[1].latent, store.song(s2).unwrap().latent);
    assert!(joined[1].clip.is_baseline == (3 % 2 == 0));
    assert_eq!(joined[1].clip.model_version, 3);
}

#[test]
fn pool_samples_add_replace_rescore_purge() {
    let (_dir, mut store, clip) = store_with_clip();
    let cond = vec![0.5f32; 16];
    let sample = |score, v| NewPoolSample {
        condition_latent: cond.clone(),
        clip_id: clip,
        score,
        added_in_version: v,
    };
    let a = store.add_pool_sample(&sample(0.5, 1)).unwrap();
    let b = store.add_pool_sample(&sample(0.6, 1)).unwrap();
    let c = store.replace_pool_sample(a, &sample(0.9, 2)).unwrap();
    store.set_pool_score(b, 0.7).unwrap();
    store.mark_pool_selected(&[b, c], 2).unwrap();

    let active = store.pool_samples().unwrap();
    assert_eq!(active.iter().map(|p| p.id).collect::<Vec<_>>(), vec![b, c]);
    assert_eq!(active[0].score, 0.7);
    assert_eq!(active[0].last_selected_version, Some(2));
    assert_eq!(active[1].condition_latent, cond);
    assert_eq!(active[1].added_in_version, 2);

    let history = store.pool_history().unwrap();
    assert_eq!(history.len(), 3);
    assert_eq!(history[0].replaced_by, Some(c));
    assert_eq!(history[0].removed_in_version, Some(2));

    // A replaced sample cannot be replaced or rescored again.
    assert!(store.replace_pool_sample(a, &sample(1.0, 3)).is_err());
    assert!(store.set_pool_score(a, 0.1).is_err());

    store.remove_pool_samples(&[b], 3).unwrap();
    assert_eq!(
        store
            .pool_samples()
            .unwrap()
            .iter()
            .map(|p| p.id)
            .collect::<Vec<_>>(),
        vec![c]
    );
    // A purge naming an unknown sample changes nothing (one transaction).
    assert!(store.remove_pool_samples(&[c, PoolId(77)], 4).is_err());
    assert_eq!(store.pool_samples().unwrap().len(), 1);
}

#[test]
fn model_versions_round_trip() {
    let (_dir, mut store) = empty_store();
    store
        .add_model_version(0, None, &serde_json::json!({"base": true}))
        .unwrap();
    store
        .add_model_version(
            1,
            Some(0),
            &serde_json::json!({"win_rate": 0.75, "ratings": 64}),
        )
        .unwrap();
    let err = store
        .add_model_version(1, Some(0), &serde_json::json!({}))
        .unwrap_err();
    assert!(matches!(err, FeedbackError::Duplicate { .. }), "{err}");
    store
        .set_model_metrics(1, &serde_json::json!({"win_rate": 0.8}))
        .unwrap();
    let v = store.model_versions().unwrap();
    assert_eq!(v.len(), 2);
    assert_eq!((v[0].version, v[0].parent), (0, None));
    assert_eq!((v[1].version, v[1].parent), (1, Some(0)));
    assert_eq!(v[1].metrics, serde_json::json!({"win_rate": 0.8}));
    assert!(v[1].created_ms >= v[0].created_ms);
    assert!(store.set_model_metrics(5, &serde_json::json!({})).is_err());
}
