//! Which model version the CLI uses: `--model DIR` or `--model NAME` (a version installed in the
//! data dir's `models/`, such as an import), else the engine's model locator
//! (`$REFRAIN_MODEL_DIR`, the data dir's `models/current`, the shipped base).
use anyhow::{bail, Result};
use refrain_engine::locator;
use refrain_engine::manifest;
use refrain_engine::model::{Model, ModelOptions, Provider};
use std::path::{Path, PathBuf};

/// Resolves the model directory for a command.
pub fn resolve(explicit: Option<&Path>) -> Result<PathBuf> {
    let data = locator::data_dir().ok();
    if let Some(dir) = explicit {
        if dir.join(manifest::MANIFEST_FILE).is_file() {
            return Ok(dir.to_path_buf());
        }
        let installed = dir
            .to_str()
            .zip(data.as_deref())
            .and_then(|(name, data)| locator::installed_version(data, name));
        if let Some(found) = installed {
            return Ok(found);
        }
        // Neither: let loading name the missing manifest of the folder given.
        if dir.components().count() > 1 || data.is_none() {
            return Ok(dir.to_path_buf());
        }
        bail!(
            "no model `{}`: not a folder with a manifest.json, and not installed in {}",
            dir.display(),
            data.map(|d| locator::models_dir(&d).display().to_string())
                .unwrap_or_default()
        );
    }
    let base = locator::shipped_base(data.as_deref());
    let dir = locator::model_to_load(data.as_deref(), &base);
    if !dir.join(manifest::MANIFEST_FILE).is_file() {
        bail!(
            "no model found at {} (train one with refrain-trainer, pass --model DIR, or set {} or {})",
            dir.display(),
            locator::MODEL_DIR_ENV,
            locator::BASE_MODEL_ENV
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
