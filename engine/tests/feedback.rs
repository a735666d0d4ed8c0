//! The feedback store (docs/ARCHITECTURE.md §4.3): migrations, round trips of every write, validation,
//! corruption recovery, lock handling with the spool, and session archives.
mod support;

#[path = "feedback/archive.rs"]
mod archive;
#[path = "feedback/locks.rs"]
mod locks;
#[path = "feedback/recovery.rs"]
mod recovery;
#[path = "feedback/trainer.rs"]
mod trainer;

use std::fs;
use std::path::Path;

use proptest::prelude::*;
use refrain_engine::feedback::{
    ClipId, FeedbackError, FeedbackStore, NewRating, NewSong, RatingSink, Since, SongAudio, SongId,
    Uid, CLIPS_DIR, DB_FILE, SCHEMA_VERSION,
};
use rusqlite::Connection;
use support::feedback::{empty_store, generation, song, store_with_clip};

fn read_wav(path: &Path) -> (u32, Vec<f32>) {
    let mut r = hound::WavReader::open(path).unwrap();
    let rate = r.spec().sample_rate;
    (rate, r.samples::<f32>().map(Result::unwrap).collect())
}

#[test]
fn migrates_an_empty_dir_to_the_current_schema() {
    let (dir, store) = empty_store();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert!(store.recovery().is_none());
    assert!(dir.path().join(DB_FILE).is_file());
    assert!(dir.path().join(CLIPS_DIR).is_dir());
    drop(store);

    let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    for table in [
        "songs",
        "generations",
        "generation_songs",
        "ratings",
        "training_pool",
        "model_versions",
    ] {
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1, "table {table}");
    }
    // Opening again does not re-run migrations (they would fail on existing tables).
    let store = FeedbackStore::open(dir.path()).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
}

#[test]
fn a_newer_schema_is_refused_and_left_alone() {
    let (dir, store) = empty_store();
    drop(store);
    let db = dir.path().join(DB_FILE);
    Connection::open(&db)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = FeedbackStore::open(dir.path()).unwrap_err();
    assert!(
        matches!(err, FeedbackError::SchemaTooNew { found: 99, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("feedback.sqlite"), "{err}");
    assert!(db.is_file(), "the file must not be moved aside");
}

/// A store written by a build before v3 (no `request_uid`) is upgraded in place: its clips
/// read back with no request (never paired by the DPO objective); new clips keep theirs.
#[test]
fn a_v2_store_gains_the_request_column_and_keeps_its_clips() {
    let (dir, store, clip) = store_with_clip();
    let before = store.generation(clip).unwrap();
    drop(store);
    let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
    conn.execute_batch(
        "DROP INDEX generations_request; ALTER TABLE generations DROP COLUMN request_uid;
         PRAGMA user_version = 2;",
    )
    .unwrap();
    drop(conn);

    let mut store = FeedbackStore::open(dir.path()).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let after = store.generation(clip).unwrap();
    assert_eq!(after.request, None);
    assert_eq!((after.uid, &after.latent), (before.uid, &before.latent));
    let s = store.songs().unwrap()[0].id;
    let mut g = generation(&[s], 8);
    g.request = Some(Uid(42));
    let new = store.add_generation(g).unwrap();
    assert_eq!(store.generation(new).unwrap().request, Some(Uid(42)));
}

/// A store written by a build before v2 (no `detail` column) is upgraded in place: its clips
/// keep everything and read back with no detail; new clips store theirs.
#[test]
fn a_v1_store_gains_the_detail_column_and_keeps_its_clips() {
    let (dir, store, clip) = store_with_clip();
    let before = store.generation(clip).unwrap();
    assert_eq!(before.detail, 0.25);
    drop(store);
    let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
    conn.execute_batch(
        "DROP INDEX generations_request; ALTER TABLE generations DROP COLUMN request_uid;
         ALTER TABLE generations DROP COLUMN detail; PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(conn);

    let mut store = FeedbackStore::open(dir.path()).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert!(store.recovery().is_none());
    let after = store.generation(clip).unwrap();
    assert_eq!(after.detail, 0.0);
    assert_eq!((after.uid, &after.latent), (before.uid, &before.latent));
    let s = store.songs().unwrap()[0].id;
    let mut g = generation(&[s], 8);
    g.detail = 0.75;
    let new = store.add_generation(g).unwrap();
    assert_eq!(store.generation(new).unwrap().detail, 0.75);
    let mut bad = generation(&[s], 9);
    bad.detail = 1.5;
    assert!(store
        .add_generation(bad)
        .unwrap_err()
        .to_string()
        .contains("detail"));
}

#[test]
fn reopening_keeps_everything() {
    let (dir, mut store, clip) = store_with_clip();
    let r = store
        .add_rating(&NewRating::new(clip, true, Some(4), 3000, 5940, "alice"))
        .unwrap();
    store
        .add_model_version(1, Some(0), &serde_json::json!({"loss": 0.5}))
        .unwrap();
    let before = (
        store.songs().unwrap(),
        store.generations().unwrap(),
        store.ratings_since(Since::All).unwrap(),
    );
    drop(store);
    let store = FeedbackStore::open(dir.path()).unwrap();
    assert_eq!(
        before,
        (
            store.songs().unwrap(),
            store.generations().unwrap(),
            store.ratings_since(Since::All).unwrap()
        )
    );
    assert_eq!(store.ratings_since(Since::All).unwrap()[0].id, r);
    assert_eq!(store.model_versions().unwrap().len(), 1);
}

#[test]
fn songs_round_trip_from_samples_and_from_files() {
    let (dir, mut store) = empty_store();
    let new = song(0.3);
    let id = store.add_song(new.clone()).unwrap();
    let got = store.song(id).unwrap();
    assert_eq!(got.id, id);
    assert_eq!(got.source, new.source);
    assert_eq!(got.sample_rate, new.sample_rate);
    assert_eq!(got.duration_s, new.duration_s);
    assert_eq!(got.latent, new.latent);
    assert!(got.wav_path.starts_with(dir.path().join(CLIPS_DIR)));
    let SongAudio::Samples(samples) = &new.wav else {
        unreachable!()
    };
    assert_eq!(read_wav(&got.wav_path), (22_050, samples.clone()));

    // A path is copied byte for byte (keeping its extension).
    let src = dir.path().join("outside.flac");
    fs::write(&src, b"not really flac, but bytes are bytes").unwrap();
    let id2 = store
        .add_song(NewSong {
            wav: SongAudio::File(src.clone()),
            ..song(0.4)
        })
        .unwrap();
    let got2 = store.song(id2).unwrap();
    assert_eq!(got2.wav_path.extension().unwrap(), "flac");
    assert_eq!(fs::read(&got2.wav_path).unwrap(), fs::read(&src).unwrap());
    assert_eq!(store.songs().unwrap().len(), 2);
    assert_ne!(got.uid, got2.uid);
}

#[test]
fn generations_round_trip() {
    let (_dir, mut store) = empty_store();
    let a = store.add_song(song(0.1)).unwrap();
    let b = store.add_song(song(0.2)).unwrap();
    let mut new = generation(&[b, a], u64::MAX);
    new.weights = vec![0.7, 0.3];
    let id = store.add_generation(new.clone()).unwrap();
    let g = store.generation(id).unwrap();
    assert_eq!(g.song_ids, vec![b, a], "merge order is kept");
    assert_eq!(g.weights, new.weights);
    assert_eq!(g.seed, u64::MAX, "all 64 seed bits survive");
    assert_eq!(
        (g.strength, g.steps, g.eta, g.model_version, g.is_baseline),
        (
            new.strength,
            new.steps,
            new.eta,
            new.model_version,
            new.is_baseline
        )
    );
    assert_eq!(g.latent, new.latent);
    assert_eq!(read_wav(&g.wav_path), (44_100, new.audio.clone()));
    assert_eq!(store.generations().unwrap(), vec![g]);
}

#[test]
fn invalid_generations_are_rejected_and_leave_no_files() {
    let (dir, mut store) = empty_store();
    let s = store.add_song(song(0.1)).unwrap();
    let files_before = fs::read_dir(dir.path().join(CLIPS_DIR)).unwrap().count();

    let err = store
        .add_generation(generation(&[s, SongId(999)], 1))
        .unwrap_err();
    assert!(
        matches!(
            err,
            FeedbackError::NotFound {
                what: "song",
                id: 999
            }
        ),
        "{err}"
    );
    let mut bad = generation(&[s], 1);
    bad.weights.push(1.0);
    let err = store.add_generation(bad).unwrap_err();
    assert!(err.to_string().contains("generation.weights"), "{err}");
    let mut bad = generation(&[s], 1);
    bad.latent[3] = f32::NAN;
    let err = store.add_generation(bad).unwrap_err();
    assert!(err.to_string().contains("generation.latent"), "{err}");

    assert!(store.generations().unwrap().is_empty());
    let files_after = fs::read_dir(dir.path().join(CLIPS_DIR)).unwrap().count();
    assert_eq!(files_before, files_after, "no orphan clip files");
}

#[test]
fn ratings_round_trip_and_are_idempotent_by_uid() {
    let (_dir, mut store, clip) = store_with_clip();
    let mut new = NewRating::new(clip, false, None, 1234, 5940, "bob");
    new.rated_at_ms = Some(1_700_000_000_000);
    let id = store.add_rating(&new).unwrap();
    let got = store.ratings_since(Since::All).unwrap();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(
        (
            r.id,
            r.uid,
            r.clip_id,
            r.accepted,
            r.stars,
            r.listen_ms,
            r.clip_ms,
            r.rated_at_ms,
            r.rater_id.as_str()
        ),
        (
            id,
            new.uid,
            clip,
            false,
            None,
            1234,
            5940,
            1_700_000_000_000,
            "bob"
        )
    );
    // The same rating again (a retry) is the same row.
    assert_eq!(store.add_rating(&new).unwrap(), id);
    assert_eq!(store.rating_count().unwrap(), 1);
}

#[test]
fn out_of_range_stars_and_bad_ratings_are_rejected() {
    let (_dir, mut store, clip) = store_with_clip();
    for stars in [0u8, 6, 255] {
        let err = store
            .add_rating(&NewRating::new(clip, true, Some(stars), 1, 10, "a"))
            .unwrap_err();
        assert!(err.to_string().contains("rating.stars"), "{err}");
    }
    for stars in 1..=5u8 {
        store
            .add_rating(&NewRating::new(clip, true, Some(stars), 1, 10, "a"))
            .unwrap();
    }
    let err = store
        .add_rating(&NewRating::new(clip, true, None, 1, 0, "a"))
        .unwrap_err();
    assert!(err.to_string().contains("rating.clip_ms"), "{err}");
    let err = store
        .add_rating(&NewRating::new(clip, true, None, 1, 10, " "))
        .unwrap_err();
    assert!(err.to_string().contains("rating.rater_id"), "{err}");
    let err = store
        .add_rating(&NewRating::new(ClipId(4242), true, None, 1, 10, "a"))
        .unwrap_err();
    assert!(matches!(err, FeedbackError::NotFound { what: "clip", .. }));
    assert_eq!(store.rating_count().unwrap(), 5);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any valid rating round-trips exactly; any out-of-range star count is refused.
    #[test]
    fn any_rating_round_trips(
        accepted in any::<bool>(),
        stars in proptest::option::of(0u8..=9),
        listen_ms in 0u64..10_000_000,
        clip_ms in 1u64..10_000_000,
        rated_at in 0i64..4_000_000_000_000,
        rater in "[a-z0-9]{1,12}",
    ) {
        let (_dir, mut store, clip) = store_with_clip();
        let mut new = NewRating::new(clip, accepted, stars, listen_ms, clip_ms, rater.clone());
        new.rated_at_ms = Some(rated_at);
        let result = store.add_rating(&new);
        if stars.is_some_and(|s| !(1..=5).contains(&s)) {
            prop_assert!(result.is_err());
            prop_assert_eq!(store.rating_count().unwrap(), 0);
        } else {
            let id = result.unwrap();
            let got = store.ratings_since(Since::All).unwrap();
            prop_assert_eq!(got.len(), 1);
            let r = &got[0];
            prop_assert_eq!(r.id, id);
            prop_assert_eq!(
                (r.accepted, r.stars, r.listen_ms, r.clip_ms, r.rated_at_ms, &r.rater_id),
                (accepted, stars, listen_ms, clip_ms, rated_at, &rater)
            );
        }
    }

    /// Latent blobs are exact, including negative zero, subnormals and extremes.
    #[test]
    fn latents_round_trip_bit_exactly(latent in proptest::collection::vec(
        proptest::num::f32::NORMAL | proptest::num::f32::SUBNORMAL | proptest::num::f32::ZERO,
        1..64,
    )) {
        let (_dir, mut store) = empty_store();
        let id = store.add_song(NewSong { latent: latent.clone(), ..song(0.2) }).unwrap();
        let got = store.song(id).unwrap().latent;
        prop_assert_eq!(
            got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            latent.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }
}

#[test]
fn the_store_and_the_sink_can_move_to_a_worker_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<FeedbackStore>();
    assert_send::<RatingSink>();
}
