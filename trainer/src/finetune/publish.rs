//! Writing a fine-tuned version into the data dir and making it current (docs/ARCHITECTURE.md §4.2): the
//! version is assembled in a hidden temp directory, synced, renamed into place, and only then
//! named by `models/current`. A trainer killed at any moment leaves `current` naming a complete
//! version (the old one or the new one) and at most a temp directory the next run removes.
use super::FinetuneError;
use refrain_engine::feedback::FeedbackStore;
use refrain_engine::locator;
use refrain_engine::manifest::{self, Manifest, MANIFEST_FILE};
use std::path::{Path, PathBuf};

const TEMP_PREFIX: &str = ".tmp-v";

/// Kill tests set this to a pause in milliseconds taken after each file of an export, so a
/// SIGKILL lands inside the export instead of before or after it.
pub const EXPORT_PAUSE_ENV: &str = "REFRAIN_TEST_EXPORT_PAUSE_MS";

/// The next free version number: past every version directory and the current one
/// ([`crate::versions::next_version_number`]), past the parent, and past every version the store
/// registered (so a deleted directory's number is never reused either).
pub fn next_version_number(
    data_dir: &Path,
    store: &FeedbackStore,
    parent: u32,
) -> Result<u32, FinetuneError> {
    let on_disk = crate::versions::next_version_number(data_dir).map_err(FinetuneError::model)?;
    let registered = store
        .model_versions()?
        .iter()
        .map(|v| v.version.saturating_add(1))
        .max()
        .unwrap_or(0);
    Ok(on_disk.max(registered).max(parent.saturating_add(1)))
}

/// Writes version `version` (the parent's files with `unet_onnx` in place of its UNet, and a
/// manifest naming the parent and carrying `metrics` under `training.finetune`) to
/// `<data_dir>/models/v<version>` and points `models/current` at it. Returns the directory.
pub fn write_version(
    data_dir: &Path,
    parent_dir: &Path,
    parent: &Manifest,
    version: u32,
    unet_onnx: &[u8],
    metrics: &serde_json::Value,
) -> Result<PathBuf, FinetuneError> {
    let models = locator::models_dir(data_dir);
    std::fs::create_dir_all(&models).map_err(FinetuneError::io(&models))?;
    remove_stale_temps(&models);
    let name = locator::version_dir_name(version);
    let target = models.join(&name);
    if target.exists() {
        return Err(FinetuneError::Model(format!(
            "{} already exists: refusing to overwrite a published version",
            target.display()
        )));
    }
    let temp = models.join(format!("{TEMP_PREFIX}{version}-{}", std::process::id()));
    std::fs::create_dir_all(&temp).map_err(FinetuneError::io(&temp))?;

    let mut files: Vec<&str> = parent.files.keys().map(String::as_str).collect();
    files.sort_unstable();
    let pause = export_pause();
    for file in &files {
        std::thread::sleep(pause);
        let to = temp.join(file);
        if *file == "unet.onnx" {
            write_synced(&to, unet_onnx)?;
        } else {
            let from = parent_dir.join(file);
            // The encoder and decoder never change in a fine-tune: share them when possible.
            if std::fs::hard_link(&from, &to).is_err() {
                std::fs::copy(&from, &to).map_err(FinetuneError::io(&from))?;
                sync(&to)?;
            }
        }
    }
    let mut manifest = parent.clone();
    manifest.version = version;
    manifest.parent = Some(parent.version);
    manifest.created = manifest::rfc3339_utc(std::time::SystemTime::now());
    let mut training = parent
        .training
        .clone()
        .unwrap_or_else(|| serde_json::json!({}));
    if let Some(map) = training.as_object_mut() {
        map.insert("finetune".into(), metrics.clone());
    }
    manifest.training = Some(training);
    std::thread::sleep(pause);
    manifest.hash_files(&temp, &files)?;
    manifest.write(&temp)?;
    sync(&temp.join(MANIFEST_FILE))?;
    sync_dir(&temp)?;
    std::thread::sleep(pause);
    std::fs::rename(&temp, &target).map_err(FinetuneError::io(&target))?;
    sync_dir(&models)?;
    std::thread::sleep(pause);
    locator::publish_current(data_dir, &name)?;
    Ok(target)
}

fn export_pause() -> std::time::Duration {
    let ms = std::env::var(EXPORT_PAUSE_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    std::time::Duration::from_millis(ms)
}

/// Temp directories of killed runs. Only this process writes versions at a time (one trainer
/// per data dir), so anything left is garbage.
fn remove_stale_temps(models: &Path) {
    let Ok(entries) = std::fs::read_dir(models) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_str().is_some_and(|n| n.starts_with(TEMP_PREFIX)) {
            let path = entry.path();
            match std::fs::remove_dir_all(&path) {
                Ok(()) => {
                    tracing::info!(dir = %path.display(), "removed the remains of an interrupted export")
                }
                Err(e) => {
                    tracing::warn!(dir = %path.display(), error = %e, "cannot remove the remains of an interrupted export")
                }
            }
        }
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), FinetuneError> {
    std::fs::write(path, bytes).map_err(FinetuneError::io(path))?;
    sync(path)
}

/// fsyncs a file (through a handle with write access: Windows refuses to flush a read-only
/// one).
fn sync(path: &Path) -> Result<(), FinetuneError> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.sync_all())
        .map_err(FinetuneError::io(path))
}

/// fsyncs a directory's entries, so a rename in it is durable (a no-op where directories
/// cannot be opened, on Windows).
fn sync_dir(dir: &Path) -> Result<(), FinetuneError> {
    refrain_engine::manifest::sync_dir(dir).map_err(FinetuneError::io(dir))
}
