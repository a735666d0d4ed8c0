//! The snapshot entry hf-hub makes for a downloaded blob, made to hold the file on every
//! platform. hf-hub 0.5 links `snapshots/<commit>/<file>` to `blobs/<etag>` with a symlink; on
//! Windows without the symlink privilege it *moves* the blob there instead, and under Wine the
//! symlink is created but cannot be followed, so the crate's own `assert!(pointer.exists())`
//! panics after a complete download. Here a download runs with that panic caught, and an entry
//! that does not lead to the bytes is replaced by a hard link to the blob (a copy where a hard
//! link is refused), so the import sees one layout whatever the platform did.
use std::path::{Path, PathBuf};

/// Runs hf-hub's `download` (the closure), catching the panic its final check raises where a
/// cache symlink cannot be followed; such a panic becomes an I/O error naming the entry, to be
/// mended by [`ensure_entry`].
pub(super) fn download_caught<T, E>(
    entry: &Path,
    download: impl FnOnce() -> Result<T, E>,
) -> Result<Result<T, E>, std::io::Error> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(download)).map_err(|_| {
        tracing::warn!(
            entry = %entry.display(),
            "hf-hub could not follow its own cache link (a symlink this system cannot resolve); \
             linking the file instead"
        );
        std::io::Error::other(format!("{} does not lead to its blob", entry.display()))
    })
}

/// Where the downloaded bytes are: the snapshot `entry` once it leads to a file (a working
/// symlink, a moved blob or a hard link), after replacing an entry that leads nowhere by a hard
/// link to (or copy of) `blob`. `None` when neither holds the file.
pub(super) fn ensure_entry(entry: &Path, blob: &Path) -> std::io::Result<Option<PathBuf>> {
    if entry.is_file() {
        return Ok(Some(entry.to_path_buf()));
    }
    if !blob.is_file() {
        return Ok(None);
    }
    if entry.symlink_metadata().is_ok() {
        // A link that cannot be followed: removing it removes the link, not the blob.
        std::fs::remove_file(entry)?;
    }
    if let Some(parent) = entry.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if let Err(e) = std::fs::hard_link(blob, entry) {
        tracing::debug!(error = %e, "hard link refused; copying the blob");
        std::fs::copy(blob, entry)?;
    }
    Ok(Some(entry.to_path_buf()))
}

/// Removes `path` (a file or a link, followable or not); a path already gone is fine.
pub(super) fn remove_quietly(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(path = %path.display(), error = %e, "could not remove"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_working_entry_is_kept_and_a_missing_blob_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let (entry, blob) = (dir.path().join("snap/f.bin"), dir.path().join("blobs/e"));
        assert_eq!(ensure_entry(&entry, &blob).unwrap(), None);
        std::fs::create_dir_all(entry.parent().unwrap()).unwrap();
        std::fs::write(&entry, b"moved blob").unwrap();
        assert_eq!(ensure_entry(&entry, &blob).unwrap(), Some(entry.clone()));
        assert_eq!(std::fs::read(&entry).unwrap(), b"moved blob");
    }

    #[cfg(unix)]
    #[test]
    fn a_link_that_leads_nowhere_is_replaced_by_the_blob() {
        let dir = tempfile::tempdir().unwrap();
        let (entry, blob) = (dir.path().join("snap/f.bin"), dir.path().join("blobs/e"));
        std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
        std::fs::create_dir_all(entry.parent().unwrap()).unwrap();
        std::fs::write(&blob, b"weights").unwrap();
        // What Wine leaves: a link whose target the system cannot resolve.
        std::os::unix::fs::symlink("..\\blobs\\e", &entry).unwrap();
        assert!(!entry.exists());
        assert_eq!(ensure_entry(&entry, &blob).unwrap(), Some(entry.clone()));
        assert_eq!(std::fs::read(&entry).unwrap(), b"weights");
        assert_eq!(std::fs::read(&blob).unwrap(), b"weights", "the blob stays");
    }

    #[test]
    fn a_panicking_download_becomes_an_error_and_a_normal_one_passes_through() {
        let entry = Path::new("snap/f.bin");
        let caught = download_caught(entry, || -> Result<u8, ()> { panic!("assert") });
        let message = caught.unwrap_err().to_string();
        assert!(message.contains("does not lead to its blob"), "{message}");
        assert_eq!(download_caught(entry, || Ok::<u8, ()>(7)).unwrap(), Ok(7));
        remove_quietly(Path::new("/nonexistent/refrain/never"));
    }
}
