//! Housekeeping: clip files left without a row by a crash between writing the file and
//! committing its row (files are written first on purpose, so a row never points at nothing).

use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::error::{FeedbackError, Result};
use super::store::{FeedbackStore, CLIPS_DIR};

impl FeedbackStore {
    /// Deletes files under `clips/` that no song or clip row references (including temp files
    /// of interrupted writes) and that are older than `min_age`, and returns them.
    ///
    /// `min_age` protects files another process is about to commit a row for; a few minutes
    /// is plenty.
    pub fn sweep_orphan_clips(&self, min_age: Duration) -> Result<Vec<PathBuf>> {
        let referenced: HashSet<String> = self.read(|c| {
            let mut stmt =
                c.prepare("SELECT wav_path FROM songs UNION SELECT wav_path FROM generations")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })?;
        let dir = self.data_dir.join(CLIPS_DIR);
        let now = SystemTime::now();
        let mut removed = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| FeedbackError::io("list", &dir, e))? {
            let entry = entry.map_err(|e| FeedbackError::io("list", &dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if referenced.contains(&format!("{CLIPS_DIR}/{name}")) {
                continue;
            }
            let meta = entry
                .metadata()
                .map_err(|e| FeedbackError::io("stat", entry.path(), e))?;
            let age = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or(Duration::ZERO);
            if !meta.is_file() || age < min_age {
                continue;
            }
            let path = entry.path();
            fs::remove_file(&path)
                .map_err(|e| FeedbackError::io("remove orphan clip", &path, e))?;
            tracing::info!(path = %path.display(), "removed orphan clip file");
            removed.push(path);
        }
        Ok(removed)
    }
}
