//! Clip files under `data_dir/clips/`, always written to a temporary name, fsynced and renamed,
//! so a crash leaves either no file or a complete one, never a truncated WAV a row points at.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::{FeedbackError, Result};
use super::store::CLIPS_DIR;
use crate::audio::{write_wav, Audio};

/// The data-dir-relative path stored in the database for clip file `name`.
pub(crate) fn rel_path(name: &str) -> String {
    format!("{CLIPS_DIR}/{name}")
}

/// Writes mono `samples` as a 32-bit float WAV at `data_dir/clips/name`, atomically.
pub(crate) fn write_mono_wav(
    data_dir: &Path,
    name: &str,
    samples: &[f32],
    sample_rate: u32,
) -> Result<PathBuf> {
    let dest = data_dir.join(rel_path(name));
    // The engine's writer validates the rate and finalises the header; we add the fsync+rename.
    let audio = Audio::new(sample_rate, vec![samples.to_vec()])?;
    write_atomic(&dest, |tmp| Ok(write_wav(tmp, &audio)?))?;
    Ok(dest)
}

/// Writes `bytes` at `data_dir/clips/name`, atomically (used for copied songs and ingest).
pub(crate) fn write_bytes(data_dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf> {
    let dest = data_dir.join(rel_path(name));
    write_atomic(&dest, |tmp| {
        File::create(tmp)
            .and_then(|mut f| f.write_all(bytes))
            .map_err(|e| FeedbackError::io("write", tmp, e))
    })?;
    Ok(dest)
}

/// Writes `dest` crash-safely: `write` fills a hidden temp file next to it, which is then
/// fsynced and renamed over `dest`; on any failure the temp file is removed and `dest` is
/// untouched.
pub(crate) fn write_atomic<T>(dest: &Path, write: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    let tmp = temp_for(dest);
    let written = write(&tmp).and_then(|out| finish(&tmp, dest).map(|()| out));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// Reads a clip file whole (for export).
pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| FeedbackError::io("read clip", path, e))
}

/// Best-effort removal of a file written for a row whose transaction then failed: an orphan
/// file is harmless, so a failure here is only logged.
pub(crate) fn discard(path: &Path) {
    if let Err(e) = fs::remove_file(path) {
        tracing::warn!(path = %path.display(), error = %e, "could not remove orphan clip file");
    }
}

/// A hidden sibling name, so a half-written file is never mistaken for a clip.
fn temp_for(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(format!(".{name}.{:016x}.tmp", rand::random::<u64>()))
}

/// fsync the temp file, rename it over `dest`, fsync the directory so the rename is durable.
fn finish(tmp: &Path, dest: &Path) -> Result<()> {
    // Opened for writing: Windows flushes a file only through a handle with write access
    // (FlushFileBuffers on a read-only handle is "Access denied").
    fs::OpenOptions::new()
        .write(true)
        .open(tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| FeedbackError::io("fsync", tmp, e))?;
    fs::rename(tmp, dest).map_err(|e| FeedbackError::io("rename into place", dest, e))?;
    // A bare file name has an empty parent: its directory is the current one.
    let dir = dest.parent().filter(|p| !p.as_os_str().is_empty());
    sync_dir(dir.unwrap_or(Path::new(".")))
}

/// [`crate::manifest::sync_dir`] with the store's error.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    crate::manifest::sync_dir(dir).map_err(|e| FeedbackError::io("fsync directory", dir, e))
}
