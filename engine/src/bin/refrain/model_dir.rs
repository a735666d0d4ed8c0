//! Which model version the CLI uses: `--model`, else the data dir's `models/current`, else the
//! shipped base.
use anyhow::{bail, Result};
use refrain_engine::manifest;
use refrain_engine::model::{Model, ModelOptions, Provider};
use std::path::{Path, PathBuf};

/// The shipped base: `$REFRAIN_BASE_MODEL`, else `models/base` next to (or above) the binary,
/// else `models/base` under the working directory.
pub fn shipped_base() -> PathBuf {
    manifest::base_from_env()
        .or_else(manifest::base_beside_exe)
        .unwrap_or_else(|| PathBuf::from("models/base"))
}

/// Resolves the model directory for a command.
pub fn resolve(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(dir) = explicit {
        return Ok(dir.to_path_buf());
    }
    let base = shipped_base();
    let dir = match manifest::data_dir() {
        Ok(data) => manifest::current_version_dir(&data, &base),
        Err(_) => base,
    };
    if !dir.join(manifest::MANIFEST_FILE).is_file() {
        bail!(
            "no model found at {} (train one with refrain-trainer, pass --model DIR, or set REFRAIN_BASE_MODEL)",
            dir.display()
        );
    }
    Ok(dir)
}

/// Loads the version in `dir` on `provider`, with the engine's default threads and warm-up.
pub fn load(dir: &Path, provider: Provider) -> Result<Model> {
    let options = ModelOptions {
        provider,
        ..ModelOptions::default()
    };
    Ok(Model::load(dir, options)?)
}
