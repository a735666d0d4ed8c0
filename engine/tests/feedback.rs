//! The feedback store (DESIGN.md 4.3): migrations, round trips of every write, validation,
//! corruption recovery, lock handling with the spool, and session archives.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use refrain_engine::feedback::{
    ClipId, FeedbackError, FeedbackStore, NewGeneration, NewPoolSample, NewRating, NewSong,
    OpenOptions, RatingSink, Recorded, Since, SinkOptions, SongAudio, SongId, CLIPS_DIR, DB_FILE,
    SCHEMA_VERSION, SPOOL_FILE,
};
use rusqlite::Connection;

fn song(seed: f32) -> NewSong {
    NewSong {
        source: format!("capture {seed}"),
        sample_rate: 22_050,
        duration_s: 0.01,
        wav: SongAudio::Samples((0..220).map(|i| (i as f32 * seed).sin() * 0.5).collect()),
        latent: (0..16).map(|i| i as f32 * seed - 1.0).collect(),
    }
}

fn generation(songs: &[SongId], seed: u64) -> NewGeneration {
    NewGeneration {
        song_ids: songs.to_vec(),
        weights: (0..songs.len()).map(|i| 1.0 / (i + 1) as f32).collect(),
        seed,
        strength: 0.45,
        steps: 20,
        eta: 0.1,
        model_version: 3,
        is_baseline: seed % 2 == 0,
        audio: (0..441).map(|i| ((i as f32) * 0.01).cos() * 0.25).collect(),
        sample_rate: 44_100,
        latent: (0..16).map(|i| (i as f32 + seed as f32) * 0.125).collect(),
    }
}

/// A store with one song and one clip; returns the clip.
fn store_with_clip(dir: &Path) -> (FeedbackStore, ClipId) {
    let mut store = FeedbackStore::open(dir).unwrap();
    let s = store.add_song(song(0.1)).unwrap();
    let c = store.add_generation(generation(&[s], 7)).unwrap();
    (store, c)
}

fn read_wav(path: &Path) -> (u32, Vec<f32>) {
    let mut r = hound::WavReader::open(path).unwrap();
    let rate = r.spec().sample_rate;
    (rate, r.samples::<f32>().map(Result::unwrap).collect())
}

#[test]
fn migrates_an_empty_dir_to_the_current_schema() {
    let dir = tempfile::tempdir().unwrap();
    let store = FeedbackStore::open(dir.path()).unwrap();
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
    let dir = tempfile::tempdir().unwrap();
    drop(FeedbackStore::open(dir.path()).unwrap());
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

#[test]
fn reopening_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, clip) = store_with_clip(dir.path());
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
    let dir = tempfile::tempdir().unwrap();
    let mut store = FeedbackStore::open(dir.path()).unwrap();
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
    let dir = tempfile::tempdir().unwrap();
    let mut store = FeedbackStore::open(dir.path()).unwrap();
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
    let dir = tempfile::tempdir().unwrap();
    let mut store = FeedbackStore::open(dir.path()).unwrap();
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
    let dir = tempfile::tempdir().unwrap();
    let (mut store, clip) = store_with_clip(dir.path());
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
    let dir = tempfile::tempdir().unwrap();
    let (mut store, clip) = store_with_clip(dir.path());
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

#[test]
fn trainer_queries_select_by_time_and_version_and_join_clips() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = FeedbackStore::open(dir.path()).unwrap();
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
    let dir = tempfile::tempdir().unwrap();
    let (mut store, clip) = store_with_clip(dir.path());
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
    assert!(store
        .remove_pool_samples(&[c, refrain_engine::feedback::PoolId(77)], 4)
        .is_err());
    assert_eq!(store.pool_samples().unwrap().len(), 1);
}

#[test]
fn model_versions_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = FeedbackStore::open(dir.path()).unwrap();
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

#[test]
fn garbage_over_the_file_is_recovered_with_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, clip) = store_with_clip(dir.path());
    store
        .add_rating(&NewRating::new(clip, true, None, 1, 10, "a"))
        .unwrap();
    drop(store);
    let db = dir.path().join(DB_FILE);
    let garbage: Vec<u8> = (0..20_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    fs::write(&db, &garbage).unwrap();

    let mut store = FeedbackStore::open(dir.path()).unwrap();
    let rec = store.recovery().expect("recovery reported").clone();
    let name = rec
        .backup
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("feedback.corrupt-") && name.ends_with(".sqlite"),
        "{name}"
    );
    assert_eq!(fs::read(&rec.backup).unwrap(), garbage, "backup kept as is");
    assert!(!rec.reason.is_empty());
    // The clean store works.
    assert_eq!(store.rating_count().unwrap(), 0);
    let s = store.add_song(song(0.5)).unwrap();
    let c = store.add_generation(generation(&[s], 1)).unwrap();
    store
        .add_rating(&NewRating::new(c, true, None, 1, 10, "a"))
        .unwrap();
    drop(store);
    let store = FeedbackStore::open(dir.path()).unwrap();
    assert!(
        store.recovery().is_none(),
        "a healthy reopen reports nothing"
    );
    assert_eq!(store.rating_count().unwrap(), 1);
}

#[test]
fn damaged_pages_inside_a_valid_file_are_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = FeedbackStore::open(dir.path()).unwrap();
    for i in 0..40 {
        store.add_song(song(0.01 * (i + 1) as f32)).unwrap();
    }
    drop(store); // last close checkpoints the WAL into the main file
    let db = dir.path().join(DB_FILE);
    let mut bytes = fs::read(&db).unwrap();
    assert!(bytes.len() > 3 * 4096, "{} bytes", bytes.len());
    // Keep the 100-byte header (so it still looks like SQLite) and smash pages 2..3.
    for b in &mut bytes[4096..3 * 4096] {
        *b = 0xA5;
    }
    fs::write(&db, &bytes).unwrap();
    let mut store = FeedbackStore::open(dir.path()).unwrap();
    let rec = store.recovery().expect("recovery reported");
    assert!(rec.backup.is_file());
    assert!(store.songs().unwrap().is_empty());
    store.add_song(song(0.5)).unwrap();
    assert_eq!(store.integrity_check().unwrap(), vec!["ok".to_string()]);
}

/// Holds the database with an exclusive lock the way another process could (exclusive locking
/// mode + an open write transaction), until dropped.
fn exclusive_holder(dir: &Path) -> Connection {
    let conn = Connection::open(dir.join(DB_FILE)).unwrap();
    conn.execute_batch(
        "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; \
         INSERT INTO model_versions (version, parent, created_ms) VALUES (900, NULL, 0);",
    )
    .unwrap();
    conn
}

#[test]
fn a_database_locked_at_open_is_a_clear_error_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, clip) = store_with_clip(dir.path());
    store
        .add_rating(&NewRating::new(clip, true, None, 1, 10, "a"))
        .unwrap();
    drop(store);
    let holder = exclusive_holder(dir.path());
    let opts = OpenOptions {
        busy_timeout: Duration::from_millis(100),
    };
    let t = Instant::now();
    let err = FeedbackStore::open_with(dir.path(), &opts).unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(5), "open must not hang");
    assert!(err.is_busy(), "{err}");
    assert!(err.to_string().contains("locked"), "{err}");
    assert!(err.to_string().contains("feedback.sqlite"), "{err}");
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);

    let store = FeedbackStore::open(dir.path()).unwrap();
    assert!(store.recovery().is_none(), "a lock is not corruption");
    assert_eq!(store.rating_count().unwrap(), 1);
    assert!(fs::read_dir(dir.path()).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .contains("corrupt")));
}

#[test]
fn a_busy_database_spools_the_rating_and_replay_inserts_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let (store, clip) = store_with_clip(dir.path());
    drop(store);
    let opts = OpenOptions {
        busy_timeout: Duration::from_millis(50),
    };
    let sink_opts = SinkOptions {
        attempts: 3,
        backoff: Duration::from_millis(5),
    };
    let mut sink = RatingSink::open(dir.path(), &opts, sink_opts.clone()).unwrap();

    // Another writer holds the write lock (WAL: readers still work).
    let holder = Connection::open(dir.path().join(DB_FILE)).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();

    let rating = NewRating::new(clip, true, Some(5), 5940, 5940, "alice");
    let t = Instant::now();
    assert_eq!(sink.record(rating.clone()).unwrap(), Recorded::Spooled);
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "bounded: {:?}",
        t.elapsed()
    );
    // Invalid ratings are refused, never spooled.
    assert!(sink
        .record(NewRating::new(clip, true, Some(9), 1, 10, "x"))
        .is_err());
    let spool = dir.path().join(SPOOL_FILE);
    assert_eq!(fs::read_to_string(&spool).unwrap().lines().count(), 1);
    assert_eq!(sink.store().rating_count().unwrap(), 0);
    assert!(sink.store().spool_pending());

    // Still locked: replay fails cleanly and keeps the spooled rating.
    assert!(sink.replay_spool().unwrap_err().is_busy());
    assert!(sink.store().spool_pending());

    holder.execute_batch("COMMIT").unwrap();
    let report = sink.replay_spool().unwrap();
    assert_eq!(
        (report.inserted, report.duplicates, report.rejected),
        (1, 0, 0)
    );
    assert!(!sink.store().spool_pending());
    assert!(!spool.exists());
    let stored = sink.store().ratings_since(Since::All).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].uid, rating.uid);
    assert_eq!(stored[0].stars, Some(5));

    // Replaying the same line again (a crash after commit, before the spool was removed) adds
    // nothing.
    let line = serde_json::to_string(&NewRating {
        rated_at_ms: Some(stored[0].rated_at_ms),
        ..rating.clone()
    })
    .unwrap();
    fs::write(&spool, format!("{line}\n")).unwrap();
    let report = sink.replay_spool().unwrap();
    assert_eq!((report.inserted, report.duplicates), (0, 1));
    assert_eq!(sink.store().rating_count().unwrap(), 1);
    assert_eq!(sink.replay_spool().unwrap().inserted, 0);
    drop(holder);
}

#[test]
fn spooled_ratings_are_replayed_at_the_next_open_keeping_their_time() {
    let dir = tempfile::tempdir().unwrap();
    let (store, clip) = store_with_clip(dir.path());
    drop(store);
    let opts = OpenOptions {
        busy_timeout: Duration::from_millis(20),
    };
    let sink_opts = SinkOptions {
        attempts: 2,
        backoff: Duration::from_millis(1),
    };
    let mut sink = RatingSink::open(dir.path(), &opts, sink_opts.clone()).unwrap();
    let holder = Connection::open(dir.path().join(DB_FILE)).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut uids = Vec::new();
    for i in 0..3 {
        let r = NewRating::new(clip, i % 2 == 0, None, 10 * i, 100, "carol");
        uids.push(r.uid);
        assert_eq!(sink.record(r).unwrap(), Recorded::Spooled);
    }
    let spooled_at = refrain_engine::feedback::now_ms();
    drop(sink);
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);
    sleep(Duration::from_millis(5));

    let sink = RatingSink::open(dir.path(), &opts, sink_opts).unwrap();
    let stored = sink.store().ratings_since(Since::All).unwrap();
    assert_eq!(stored.iter().map(|r| r.uid).collect::<Vec<_>>(), uids);
    assert!(stored.iter().all(|r| r.rated_at_ms <= spooled_at));
    assert!(!dir.path().join(SPOOL_FILE).exists());
}

#[test]
fn a_successful_record_replays_a_pending_spool() {
    let dir = tempfile::tempdir().unwrap();
    let (store, clip) = store_with_clip(dir.path());
    drop(store);
    let opts = OpenOptions {
        busy_timeout: Duration::from_millis(20),
    };
    let store = FeedbackStore::open_with(dir.path(), &opts).unwrap();
    let mut sink = RatingSink::new(
        store,
        SinkOptions {
            attempts: 1,
            backoff: Duration::ZERO,
        },
    );
    let holder = Connection::open(dir.path().join(DB_FILE)).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let spooled = NewRating::new(clip, true, None, 1, 10, "d");
    assert_eq!(sink.record(spooled.clone()).unwrap(), Recorded::Spooled);
    holder.execute_batch("COMMIT").unwrap();
    assert!(matches!(
        sink.record(NewRating::new(clip, false, None, 1, 10, "d"))
            .unwrap(),
        Recorded::Stored(_)
    ));
    let stored = sink.store().ratings_since(Since::All).unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().any(|r| r.uid == spooled.uid));
    assert!(!sink.store().spool_pending());
}

#[test]
fn malformed_spool_lines_are_kept_aside_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, clip) = store_with_clip(dir.path());
    let good = serde_json::to_string(&NewRating::new(clip, true, None, 1, 10, "e")).unwrap();
    let unknown_clip =
        serde_json::to_string(&NewRating::new(ClipId(999), true, None, 1, 10, "e")).unwrap();
    fs::write(
        store.spool_path(),
        format!("{good}\nnot json\n{unknown_clip}\n{{\"torn"),
    )
    .unwrap();
    let report = store.replay_spool().unwrap();
    assert_eq!((report.inserted, report.rejected), (1, 3));
    let rejected =
        fs::read_to_string(dir.path().join(refrain_engine::feedback::REJECTED_FILE)).unwrap();
    assert_eq!(rejected.lines().count(), 3);
    assert!(rejected.contains("not json"));
    assert!(!store.spool_pending());
}

/// Everything about a store that must survive export → ingest, keyed by uid (row ids and
/// absolute paths legitimately differ).
fn fingerprint(store: &FeedbackStore) -> (Vec<String>, Vec<String>, Vec<String>) {
    let songs = store.songs().unwrap();
    let song_uid: HashMap<_, _> = songs.iter().map(|s| (s.id, s.uid)).collect();
    let gens = store.generations().unwrap();
    let clip_uid: HashMap<_, _> = gens.iter().map(|g| (g.id, g.uid)).collect();
    let mut s: Vec<String> = songs
        .iter()
        .map(|s| {
            format!(
                "{} {} {} {} {} {:?} {:?} {:?}",
                s.uid,
                s.created_ms,
                s.source,
                s.sample_rate,
                s.duration_s,
                s.latent,
                s.wav_path.extension(),
                fs::read(&s.wav_path).unwrap()
            )
        })
        .collect();
    let mut g: Vec<String> = gens
        .iter()
        .map(|g| {
            let songs: Vec<_> = g.song_ids.iter().map(|id| song_uid[id]).collect();
            format!(
                "{} {} {:?} {:?} {} {} {} {} {} {} {} {:?} {:?}",
                g.uid,
                g.created_ms,
                songs,
                g.weights,
                g.seed,
                g.strength,
                g.steps,
                g.eta,
                g.model_version,
                g.is_baseline,
                g.sample_rate,
                g.latent,
                fs::read(&g.wav_path).unwrap()
            )
        })
        .collect();
    let mut r: Vec<String> = store
        .ratings_since(Since::All)
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {:?} {} {} {} {}",
                r.uid,
                clip_uid[&r.clip_id],
                r.accepted,
                r.stars,
                r.listen_ms,
                r.clip_ms,
                r.rated_at_ms,
                r.rater_id
            )
        })
        .collect();
    s.sort();
    g.sort();
    r.sort();
    (s, g, r)
}

/// A store with 3 songs, 4 clips (one never rated) and 5 ratings.
fn session_store(dir: &Path) -> FeedbackStore {
    let mut store = FeedbackStore::open(dir).unwrap();
    let s1 = store.add_song(song(0.1)).unwrap();
    let s2 = store.add_song(song(0.2)).unwrap();
    let src = dir.join("loop.ogg");
    fs::write(&src, b"OggS pretend").unwrap();
    let s3 = store
        .add_song(NewSong {
            wav: SongAudio::File(src),
            ..song(0.3)
        })
        .unwrap();
    let _unused_song = store.add_song(song(0.9)).unwrap();
    let c1 = store.add_generation(generation(&[s1, s2], 1)).unwrap();
    let c2 = store.add_generation(generation(&[s3], 2)).unwrap();
    let c3 = store.add_generation(generation(&[], u64::MAX - 3)).unwrap();
    let _unrated = store.add_generation(generation(&[s1], 4)).unwrap();
    for (i, (c, stars)) in [(c1, Some(5)), (c1, None), (c2, Some(1)), (c3, Some(3))]
        .into_iter()
        .enumerate()
    {
        store
            .add_rating(&NewRating::new(
                c,
                stars != Some(1),
                stars,
                100 * i as u64,
                5940,
                "p",
            ))
            .unwrap();
    }
    store
}

#[test]
fn export_then_ingest_into_a_fresh_store_is_equal() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let src = session_store(a.path());
    let file = a.path().join("session.refrain");
    let exported = src.export_session(0, &file).unwrap();
    assert_eq!(
        (exported.songs, exported.generations, exported.ratings),
        (3, 3, 4)
    );
    assert_eq!(exported.bytes, fs::metadata(&file).unwrap().len());

    let mut dst = FeedbackStore::open(b.path()).unwrap();
    let report = dst.ingest(&file).unwrap();
    assert_eq!(
        (
            report.songs_added,
            report.generations_added,
            report.ratings_added,
            report.ratings_skipped
        ),
        (3, 3, 4, 0)
    );
    // The archive holds only what the ratings need: not the unused song or the unrated clip.
    let (s, g, r) = fingerprint(&src);
    let (s2, g2, r2) = fingerprint(&dst);
    assert_eq!(r, r2);
    assert!(g2.iter().all(|x| g.contains(x)) && g2.len() == 3);
    assert!(s2.iter().all(|x| s.contains(x)) && s2.len() == 3);
    // And the trainer sees the same joined view.
    let joined_a = src.ratings_with_clips(Since::All).unwrap();
    let joined_b = dst.ratings_with_clips(Since::All).unwrap();
    for (x, y) in joined_a.iter().zip(&joined_b) {
        assert_eq!(x.rating.uid, y.rating.uid);
        assert_eq!(x.clip.latent, y.clip.latent);
        assert_eq!(
            x.conditioning
                .iter()
                .map(|c| (&c.latent, c.weight))
                .collect::<Vec<_>>(),
            y.conditioning
                .iter()
                .map(|c| (&c.latent, c.weight))
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn ingesting_twice_adds_nothing_and_later_sessions_add_only_the_new() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let mut src = session_store(a.path());
    let file = a.path().join("s1.refrain");
    src.export_session(0, &file).unwrap();
    let mut dst = FeedbackStore::open(b.path()).unwrap();
    dst.ingest(&file).unwrap();
    let before = fingerprint(&dst);
    let clip_files = fs::read_dir(b.path().join(CLIPS_DIR)).unwrap().count();

    let again = dst.ingest(&file).unwrap();
    assert_eq!(
        (
            again.songs_added,
            again.generations_added,
            again.ratings_added,
            again.ratings_skipped
        ),
        (0, 0, 0, 4)
    );
    assert_eq!(fingerprint(&dst), before);
    assert_eq!(
        fs::read_dir(b.path().join(CLIPS_DIR)).unwrap().count(),
        clip_files
    );
    // Ingesting into the store it came from also adds nothing.
    assert_eq!(src.ingest(&file).unwrap().ratings_added, 0);

    // A later session (since a date) carries only the new rating, on an existing clip.
    sleep(Duration::from_millis(3));
    let since = refrain_engine::feedback::now_ms();
    let clip = src.generations().unwrap()[0].id;
    src.add_rating(&NewRating::new(clip, true, Some(4), 10, 20, "q"))
        .unwrap();
    let file2 = a.path().join("s2.refrain");
    let e2 = src.export_session(since, &file2).unwrap();
    assert_eq!((e2.ratings, e2.generations), (1, 1));
    let r = dst.ingest(&file2).unwrap();
    assert_eq!(
        (r.songs_added, r.generations_added, r.ratings_added),
        (0, 0, 1)
    );
    assert_eq!(dst.rating_count().unwrap(), 5);
}

#[test]
fn a_damaged_archive_is_refused_and_changes_nothing() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let src = session_store(a.path());
    let file = a.path().join("s.refrain");
    src.export_session(0, &file).unwrap();
    let mut bytes = fs::read(&file).unwrap();
    let last = bytes.len() - 10;
    bytes[last] ^= 0xFF;
    let bad = a.path().join("bad.refrain");
    fs::write(&bad, &bytes).unwrap();
    let mut dst = FeedbackStore::open(b.path()).unwrap();
    let err = dst.ingest(&bad).unwrap_err();
    assert!(err.to_string().contains("bad.refrain"), "{err}");
    assert!(err.to_string().contains("sha256"), "{err}");
    let truncated = a.path().join("short.refrain");
    fs::write(&truncated, &fs::read(&file).unwrap()[..100]).unwrap();
    assert!(dst.ingest(&truncated).is_err());
    fs::write(
        &truncated,
        b"PK\x03\x04 a zip, certainly not a Refrain session archive",
    )
    .unwrap();
    assert!(dst
        .ingest(&truncated)
        .unwrap_err()
        .to_string()
        .contains("magic"));
    assert_eq!(dst.rating_count().unwrap(), 0);
    assert_eq!(fs::read_dir(b.path().join(CLIPS_DIR)).unwrap().count(), 0);
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
        let dir = tempfile::tempdir().unwrap();
        let (mut store, clip) = store_with_clip(dir.path());
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
        let dir = tempfile::tempdir().unwrap();
        let mut store = FeedbackStore::open(dir.path()).unwrap();
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

#[test]
fn two_connections_writing_at_once_both_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let (store, clip) = store_with_clip(dir.path());
    drop(store);
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let path = dir.path().to_path_buf();
            std::thread::spawn(move || {
                let mut store = FeedbackStore::open(&path).unwrap();
                for i in 0..25 {
                    store
                        .add_rating(&NewRating::new(clip, true, None, i, 100, format!("w{w}")))
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let store = FeedbackStore::open(dir.path()).unwrap();
    assert_eq!(store.rating_count().unwrap(), 50);
}

#[test]
fn orphan_clip_files_are_swept_and_referenced_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (store, clip) = store_with_clip(dir.path());
    let clips = dir.path().join(CLIPS_DIR);
    fs::write(clips.join("gen-orphan.wav"), b"left by a crash").unwrap();
    fs::write(clips.join(".gen-x.wav.0123.tmp"), b"half written").unwrap();
    // Too young: another process may be about to commit its row.
    assert!(store
        .sweep_orphan_clips(Duration::from_secs(3600))
        .unwrap()
        .is_empty());
    let removed = store.sweep_orphan_clips(Duration::ZERO).unwrap();
    assert_eq!(removed.len(), 2);
    assert!(store.generation(clip).unwrap().wav_path.is_file());
    assert!(store.songs().unwrap()[0].wav_path.is_file());
}
