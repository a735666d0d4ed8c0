//! The rating spool: when the database stays busy, a rating is appended to `spool.jsonl`
//! (fsynced) instead of being dropped, and replayed into the store later, idempotently.
//!
//! Replay first renames `spool.jsonl` to `spool.replaying-<ms>-<rand>.jsonl` (so writers that
//! spool meanwhile start a fresh file), inserts its lines in one transaction, and deletes it
//! only after the commit. A replay killed half-way leaves the renamed file; the next replay
//! picks it up, and `UNIQUE(uid)` makes the lines that did get in add nothing the second time.

use std::fs::{self, File, OpenOptions as FsOpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use super::clips::sync_dir;
use super::error::{FeedbackError, Result};
use super::ratings::{insert_rating, NewRating};
use super::store::{FeedbackStore, OpenOptions};
use super::types::{now_ms, RatingId};

/// The spool file name inside the data dir.
pub const SPOOL_FILE: &str = "spool.jsonl";
/// Lines a replay could not insert (malformed, invalid, unknown clip) are kept here for a
/// person to look at, never silently dropped.
pub const REJECTED_FILE: &str = "spool.rejected.jsonl";
const REPLAYING_PREFIX: &str = "spool.replaying-";

/// How hard [`RatingSink::record`] tries the database before spooling.
#[derive(Debug, Clone)]
pub struct SinkOptions {
    /// Database attempts before spooling (each one waits up to the store's busy timeout).
    pub attempts: u32,
    /// Pause after the first failed attempt; doubled after each further one.
    pub backoff: Duration,
}

impl Default for SinkOptions {
    fn default() -> Self {
        Self {
            attempts: 3,
            backoff: Duration::from_millis(25),
        }
    }
}

/// Where [`RatingSink::record`] put a rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// In the database, with this id.
    Stored(RatingId),
    /// In the spool (the database stayed busy); it reaches the database at the next replay.
    Spooled,
}

/// What a spool replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Ratings newly inserted.
    pub inserted: usize,
    /// Lines whose rating was already stored (same uid).
    pub duplicates: usize,
    /// Lines that could not be inserted, moved to [`REJECTED_FILE`].
    pub rejected: usize,
}

/// The plugin worker's way to store ratings: tries the database, retries while it is busy, and
/// spools rather than fail or drop the rating.
#[derive(Debug)]
pub struct RatingSink {
    store: FeedbackStore,
    options: SinkOptions,
}

impl RatingSink {
    /// Opens the store in `data_dir` and replays any spool left from an earlier run. A replay
    /// that fails (e.g. still busy) is logged and left for later; it does not fail the open.
    pub fn open(
        data_dir: impl AsRef<Path>,
        open: &OpenOptions,
        options: SinkOptions,
    ) -> Result<Self> {
        let store = FeedbackStore::open_with(data_dir, open)?;
        let mut sink = Self::new(store, options);
        if let Err(e) = sink.store.replay_spool() {
            tracing::warn!(error = %e, "could not replay the rating spool yet; will retry");
        }
        Ok(sink)
    }

    /// Wraps an open store (without replaying; call [`FeedbackStore::replay_spool`]).
    pub fn new(store: FeedbackStore, options: SinkOptions) -> Self {
        Self { store, options }
    }

    /// The store, for queries and other writes.
    pub fn store(&self) -> &FeedbackStore {
        &self.store
    }

    /// The store, mutably.
    pub fn store_mut(&mut self) -> &mut FeedbackStore {
        &mut self.store
    }

    /// Stores `rating`, retrying a busy database `attempts` times with backoff, then spooling
    /// it (one fsynced JSON line). Invalid ratings fail at once and are never spooled. After a
    /// successful store, a pending spool is replayed opportunistically.
    pub fn record(&mut self, mut rating: NewRating) -> Result<Recorded> {
        rating.validate()?;
        // Stamp the time now, so a spooled rating keeps when it was made, not when replayed.
        rating.rated_at_ms.get_or_insert_with(now_ms);
        let mut pause = self.options.backoff;
        for attempt in 1..=self.options.attempts.max(1) {
            match self.store.add_rating(&rating) {
                Ok(id) => {
                    self.replay_if_pending();
                    return Ok(Recorded::Stored(id));
                }
                Err(e) if e.is_busy() => {
                    tracing::warn!(attempt, error = %e, "feedback store busy");
                    if attempt < self.options.attempts {
                        thread::sleep(pause);
                        pause = pause.saturating_mul(2);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        append_line(&self.store.spool_path(), &rating)?;
        tracing::warn!(uid = %rating.uid, "feedback store stayed busy; rating spooled");
        Ok(Recorded::Spooled)
    }

    /// Replays the spool now (see [`FeedbackStore::replay_spool`]).
    pub fn replay_spool(&mut self) -> Result<ReplayReport> {
        self.store.replay_spool()
    }

    fn replay_if_pending(&mut self) {
        if self.store.spool_pending() {
            if let Err(e) = self.store.replay_spool() {
                tracing::debug!(error = %e, "spool replay deferred");
            }
        }
    }
}

impl FeedbackStore {
    /// The spool file of this store's data dir.
    pub fn spool_path(&self) -> PathBuf {
        self.data_dir.join(SPOOL_FILE)
    }

    /// True when spooled ratings wait for a replay (a non-empty spool, or a spool claimed by a
    /// replay that was interrupted). The GUI can show this as "n ratings waiting".
    pub fn spool_pending(&self) -> bool {
        fs::metadata(self.spool_path()).is_ok_and(|m| m.len() > 0)
            || self.claimed_spools().is_ok_and(|v| !v.is_empty())
    }

    /// Inserts every spooled rating (idempotently, by uid) in one transaction, and removes the
    /// spool only after that transaction committed. Lines that cannot be inserted are moved to
    /// [`REJECTED_FILE`].
    pub fn replay_spool(&mut self) -> Result<ReplayReport> {
        let spool = self.spool_path();
        if fs::metadata(&spool).is_ok_and(|m| m.len() > 0) {
            let claimed = self.data_dir.join(format!(
                "{REPLAYING_PREFIX}{}-{:08x}.jsonl",
                now_ms(),
                rand::random::<u32>()
            ));
            fs::rename(&spool, &claimed)
                .map_err(|e| FeedbackError::io("claim spool", &spool, e))?;
        }
        let mut report = ReplayReport::default();
        for file in self.claimed_spools()? {
            let part = self.replay_file(&file)?;
            report.inserted += part.inserted;
            report.duplicates += part.duplicates;
            report.rejected += part.rejected;
        }
        if report != ReplayReport::default() {
            tracing::info!(?report, "replayed rating spool");
        }
        Ok(report)
    }

    /// Spool files claimed by this or an interrupted earlier replay, oldest first.
    fn claimed_spools(&self) -> Result<Vec<PathBuf>> {
        let dir = &self.data_dir;
        let mut files: Vec<PathBuf> = fs::read_dir(dir)
            .map_err(|e| FeedbackError::io("list", dir, e))?
            .filter_map(|e| e.ok())
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.starts_with(REPLAYING_PREFIX) && name.ends_with(".jsonl")
            })
            .map(|e| e.path())
            .collect();
        files.sort();
        Ok(files)
    }

    fn replay_file(&mut self, file: &Path) -> Result<ReplayReport> {
        let mut report = ReplayReport::default();
        let mut done = 0usize;
        // Loop: a writer that opened the spool just before it was claimed may still append to
        // the claimed file; re-read until nothing new arrived after our commit.
        loop {
            let bytes = fs::read(file).map_err(|e| FeedbackError::io("read spool", file, e))?;
            if bytes.len() <= done {
                break;
            }
            let text = String::from_utf8_lossy(&bytes[done..]).into_owned();
            // Only whole lines: a line without '\n' is a write torn by a crash, which was never
            // acknowledged as spooled; it is kept aside with the rejected lines.
            let (whole, torn) = match text.rfind('\n') {
                Some(i) => (&text[..=i], &text[i + 1..]),
                None => ("", text.as_str()),
            };
            let mut rejected: Vec<String> = Vec::new();
            let mut parsed: Vec<NewRating> = Vec::new();
            for line in whole.lines().filter(|l| !l.trim().is_empty()) {
                match serde_json::from_str::<NewRating>(line) {
                    Ok(r) if r.validate().is_ok() => parsed.push(r),
                    _ => rejected.push(line.to_string()),
                }
            }
            if !torn.trim().is_empty() {
                tracing::warn!(file = %file.display(), "torn last spool line kept as rejected");
                rejected.push(torn.to_string());
            }
            let (inserted, duplicates, unknown) = self.write(|tx| {
                let (mut ins, mut dup, mut bad) = (0, 0, Vec::new());
                for r in &parsed {
                    match insert_rating(tx, r, r.rated_at_ms.unwrap_or_else(now_ms)) {
                        Ok((_, true)) => ins += 1,
                        Ok((_, false)) => dup += 1,
                        Err(FeedbackError::NotFound { .. }) => bad.push(r.clone()),
                        Err(e) => return Err(e),
                    }
                }
                Ok((ins, dup, bad))
            })?;
            for r in unknown {
                rejected.push(serde_json::to_string(&r).unwrap_or_default());
            }
            report.inserted += inserted;
            report.duplicates += duplicates;
            report.rejected += rejected.len();
            if !rejected.is_empty() {
                tracing::error!(
                    count = rejected.len(),
                    file = REJECTED_FILE,
                    "spooled ratings could not be inserted; kept for inspection"
                );
                let path = self.data_dir.join(REJECTED_FILE);
                for line in &rejected {
                    append_raw(&path, line)?;
                }
            }
            done = bytes.len();
        }
        fs::remove_file(file).map_err(|e| FeedbackError::io("remove replayed spool", file, e))?;
        sync_dir(&self.data_dir)?;
        Ok(report)
    }
}

/// Appends `rating` as one JSON line and fsyncs it before returning.
fn append_line(path: &Path, rating: &NewRating) -> Result<()> {
    let line = serde_json::to_string(rating).map_err(|e| FeedbackError::Json {
        path: path.to_path_buf(),
        source: e,
    })?;
    append_raw(path, &line)
}

fn append_raw(path: &Path, line: &str) -> Result<()> {
    let created = !path.exists();
    let mut f: File = FsOpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| FeedbackError::io("open spool", path, e))?;
    // One write call for line + newline: with O_APPEND concurrent spoolers never interleave.
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line.as_bytes());
    buf.push(b'\n');
    f.write_all(&buf)
        .and_then(|()| f.sync_data())
        .map_err(|e| FeedbackError::io("append to spool", path, e))?;
    if created {
        sync_dir(path.parent().unwrap_or(Path::new(".")))?;
    }
    Ok(())
}
