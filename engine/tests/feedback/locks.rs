//! Locks held by other connections: a clear error at open, ratings spooled while the database is
//! busy and replayed once, and two writers at once.
use std::fs;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use refrain_engine::feedback::{
    now_ms, ClipId, FeedbackStore, NewRating, RatingSink, Recorded, Since, DB_FILE, REJECTED_FILE,
    SPOOL_FILE,
};
use rusqlite::Connection;

use crate::support::feedback::{hold_write_lock, open_options, sink_options, store_with_clip};

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
    let (dir, mut store, clip) = store_with_clip();
    store
        .add_rating(&NewRating::new(clip, true, None, 1, 10, "a"))
        .unwrap();
    drop(store);
    let holder = exclusive_holder(dir.path());
    let t = Instant::now();
    let err = FeedbackStore::open_with(dir.path(), &open_options(100)).unwrap_err();
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
    let (dir, store, clip) = store_with_clip();
    drop(store);
    let mut sink = RatingSink::open(dir.path(), &open_options(50), sink_options(3, 5)).unwrap();

    let holder = hold_write_lock(dir.path());

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
    let (dir, store, clip) = store_with_clip();
    drop(store);
    let opts = open_options(20);
    let sink_opts = sink_options(2, 1);
    let mut sink = RatingSink::open(dir.path(), &opts, sink_opts.clone()).unwrap();
    let holder = hold_write_lock(dir.path());
    let mut uids = Vec::new();
    for i in 0..3 {
        let r = NewRating::new(clip, i % 2 == 0, None, 10 * i, 100, "carol");
        uids.push(r.uid);
        assert_eq!(sink.record(r).unwrap(), Recorded::Spooled);
    }
    let spooled_at = now_ms();
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
    let (dir, store, clip) = store_with_clip();
    drop(store);
    let store = FeedbackStore::open_with(dir.path(), &open_options(20)).unwrap();
    let mut sink = RatingSink::new(store, sink_options(1, 0));
    let holder = hold_write_lock(dir.path());
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
    let (dir, mut store, clip) = store_with_clip();
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
    let rejected = fs::read_to_string(dir.path().join(REJECTED_FILE)).unwrap();
    assert_eq!(rejected.lines().count(), 3);
    assert!(rejected.contains("not json"));
    assert!(!store.spool_pending());
}

#[test]
fn two_connections_writing_at_once_both_succeed() {
    let (dir, store, clip) = store_with_clip();
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
