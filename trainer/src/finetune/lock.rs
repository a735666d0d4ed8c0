//! One trainer per data directory: two rounds at once would both read the same pending
//! ratings, pick the same next version number and race to publish it.
use super::FinetuneError;
use std::fs::{File, TryLockError};
use std::path::Path;

/// The lock file beside the store.
pub const LOCK_FILE: &str = "trainer.lock";

/// Held for one round; the OS releases it when this drops or the process dies (even by
/// SIGKILL), so a killed trainer never leaves a stale lock behind.
#[derive(Debug)]
pub struct TrainerLock {
    _file: File,
}

/// Takes the data directory's trainer lock without waiting.
pub fn lock_data_dir(data_dir: &Path) -> Result<TrainerLock, FinetuneError> {
    std::fs::create_dir_all(data_dir).map_err(FinetuneError::io(data_dir))?;
    let path = data_dir.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(FinetuneError::io(&path))?;
    match file.try_lock() {
        Ok(()) => Ok(TrainerLock { _file: file }),
        Err(TryLockError::WouldBlock) => Err(FinetuneError::Busy(path)),
        Err(TryLockError::Error(e)) => Err(FinetuneError::io(&path)(e)),
    }
}
