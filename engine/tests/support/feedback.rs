//! Feedback stores with something in them, in their own temp data dirs, and the short timeouts
//! and lock holders the lock tests use.
use std::path::Path;
use std::time::Duration;

use refrain_engine::feedback::{
    ClipId, FeedbackStore, NewGeneration, NewSong, OpenOptions, SinkOptions, SongAudio, SongId,
    Uid, DB_FILE,
};
use rusqlite::Connection;
use tempfile::TempDir;

/// A short song whose samples and latent depend on `seed`, so two songs differ.
pub fn song(seed: f32) -> NewSong {
    NewSong {
        source: format!("capture {seed}"),
        sample_rate: 22_050,
        duration_s: 0.01,
        wav: SongAudio::Samples((0..220).map(|i| (i as f32 * seed).sin() * 0.5).collect()),
        latent: (0..16).map(|i| i as f32 * seed - 1.0).collect(),
    }
}

/// A clip conditioned on `songs` (weights 1, 1/2, 1/3...); even seeds are blind baselines.
pub fn generation(songs: &[SongId], seed: u64) -> NewGeneration {
    NewGeneration {
        song_ids: songs.to_vec(),
        weights: (0..songs.len()).map(|i| 1.0 / (i + 1) as f32).collect(),
        seed,
        strength: 0.45,
        steps: 20,
        eta: 0.1,
        detail: 0.25,
        model_version: 3,
        is_baseline: seed.is_multiple_of(2),
        audio: (0..441).map(|i| ((i as f32) * 0.01).cos() * 0.25).collect(),
        sample_rate: 44_100,
        latent: (0..16).map(|i| (i as f32 + seed as f32) * 0.125).collect(),
        // Clips 2k and 2k + 1 share a request; every third clip has none (an old store's).
        request: (!seed.is_multiple_of(3)).then_some(Uid(u128::from(seed / 2))),
    }
}

/// An empty store in a fresh temp data dir (the dir comes first so it is dropped last).
pub fn empty_store() -> (TempDir, FeedbackStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = FeedbackStore::open(dir.path()).unwrap();
    (dir, store)
}

/// A store in `dir` with one song and one clip; returns the clip.
pub fn store_with_clip_in(dir: &Path) -> (FeedbackStore, ClipId) {
    let mut store = FeedbackStore::open(dir).unwrap();
    let s = store.add_song(song(0.1)).unwrap();
    let c = store.add_generation(generation(&[s], 7)).unwrap();
    (store, c)
}

/// [`store_with_clip_in`] a fresh temp data dir.
pub fn store_with_clip() -> (TempDir, FeedbackStore, ClipId) {
    let dir = tempfile::tempdir().unwrap();
    let (store, clip) = store_with_clip_in(dir.path());
    (dir, store, clip)
}

/// Open options with a busy timeout of `ms`, so lock tests fail fast.
pub fn open_options(ms: u64) -> OpenOptions {
    OpenOptions {
        busy_timeout: Duration::from_millis(ms),
    }
}

/// Sink options: `attempts` tries, the first retry after `backoff_ms`.
pub fn sink_options(attempts: u32, backoff_ms: u64) -> SinkOptions {
    SinkOptions {
        attempts,
        backoff: Duration::from_millis(backoff_ms),
    }
}

/// Another writer holding the store's write lock (WAL: readers still work) until it commits,
/// rolls back or is dropped. It waits up to 5 s for a writer already there.
pub fn hold_write_lock(dir: &Path) -> Connection {
    let holder = Connection::open(dir.join(DB_FILE)).unwrap();
    holder.busy_timeout(Duration::from_secs(5)).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    holder
}

/// [`hold_write_lock`] taken from a writer that never stops writing. SQLite's busy handler
/// sleeps between polls and a looping writer takes the lock back within microseconds of each
/// commit, so waiting politely can starve (it did on CI); this polls without sleeping in
/// SQLite, with a short random pause, until it lands in a gap between two of the writer's
/// transactions.
pub fn seize_write_lock(dir: &Path, rng: &mut impl rand::RngExt) -> Connection {
    let holder = Connection::open(dir.join(DB_FILE)).unwrap();
    holder.busy_timeout(Duration::ZERO).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        match holder.execute_batch("BEGIN IMMEDIATE") {
            Ok(()) => return holder,
            Err(e) if std::time::Instant::now() > deadline => {
                panic!("no gap between the writer's transactions in 60 s: {e}")
            }
            Err(_) => std::thread::sleep(Duration::from_micros(rng.random_range(0..200))),
        }
    }
}
