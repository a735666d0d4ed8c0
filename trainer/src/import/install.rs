//! Installing an imported version into the data dir: assembled in a hidden temp directory next
//! to its final place, loaded once through ONNX Runtime to prove it runs, then renamed into
//! `models/<name>` — so a failure at any point (bad weights, a full disk, a killed process)
//! leaves nothing that looks installed, at most a temp directory the next import of that name
//! removes. The `current` pointer is not touched: importing never switches the producer's model.
use super::{write_version, ImportError, Provenance};
use refrain_engine::locator;
use refrain_engine::manifest::{sync_dir, Manifest};
use refrain_engine::model::{Model, ModelOptions, Provider};
use std::path::{Path, PathBuf};

/// Prefix of the temp directories imports assemble in.
const TEMP_PREFIX: &str = ".tmp-import-";

/// Where and under what name to install.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// The data dir (its `models/` receives the version).
    pub data_dir: PathBuf,
    /// The version directory's name (also the manifest's `name`).
    pub name: String,
    /// Where the repo came from.
    pub provenance: Provenance,
}

/// What was installed.
#[derive(Debug, Clone)]
pub struct Installed {
    /// `<data dir>/models/<name>`.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
}

/// A version name derived from a hub id (`owner/name` → `owner--name`, as the hub cache names
/// repos) or a local folder's name.
pub fn default_name(source: &str) -> String {
    let trimmed = source.trim_end_matches(['/', '\\']);
    let path = Path::new(trimmed);
    if path.is_dir() {
        if let Some(name) = path.file_name() {
            return name.to_string_lossy().into_owned();
        }
    }
    trimmed.replace('/', "--")
}

/// Refuses names that are not one plain path component or that the data dir uses for itself.
pub fn check_name(name: &str) -> Result<(), ImportError> {
    let bad = |why: &str| {
        Err(ImportError::Name(format!(
            "cannot install as {name:?}: {why}"
        )))
    };
    if name.is_empty() || name.len() > 100 {
        return bad("a name has 1 to 100 characters");
    }
    if name.starts_with('.') || name.contains(['/', '\\', '\0', '\n', '\r', ':']) {
        return bad("a name is one plain folder name (no path separators, not starting with '.')");
    }
    if name == locator::CURRENT_POINTER || name == "base" {
        return bad("the data dir uses this name itself");
    }
    if name
        .strip_prefix('v')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    {
        return bad("names v<N> belong to fine-tuned versions");
    }
    Ok(())
}

/// Exports the repo at `repo` and installs it as `<data dir>/models/<name>`.
pub fn install(repo: &Path, options: &InstallOptions) -> Result<Installed, ImportError> {
    check_name(&options.name)?;
    let models = locator::models_dir(&options.data_dir);
    let target = models.join(&options.name);
    if target.exists() {
        return Err(ImportError::Name(format!(
            "{} already exists: remove it, or import under another --name",
            target.display()
        )));
    }
    std::fs::create_dir_all(&models).map_err(ImportError::io(&models))?;
    remove_stale_temps(&models, &options.name);
    let temp = models.join(format!(
        "{TEMP_PREFIX}{}-{}",
        options.name,
        std::process::id()
    ));
    let result = assemble(repo, &temp, options).and_then(|manifest| {
        std::fs::rename(&temp, &target).map_err(ImportError::io(&target))?;
        sync_dir(&models).map_err(ImportError::io(&models))?;
        Ok(manifest)
    });
    match result {
        Ok(manifest) => Ok(Installed {
            dir: target,
            manifest,
        }),
        Err(e) => {
            // Best effort: the error the producer needs is `e`, not a failed cleanup.
            let _ = std::fs::remove_dir_all(&temp);
            Err(e)
        }
    }
}

/// Writes the version into `temp` and loads it once through the engine.
fn assemble(repo: &Path, temp: &Path, options: &InstallOptions) -> Result<Manifest, ImportError> {
    let manifest = write_version(repo, temp, &options.name, &options.provenance)?;
    let check = ModelOptions {
        provider: Provider::Cpu,
        ..ModelOptions::default()
    };
    Model::load(temp, check).map_err(|e| ImportError::Check(e.to_string()))?;
    sync_dir(temp).map_err(ImportError::io(temp))?;
    Ok(manifest)
}

/// Removes temp directories a killed import of the same name left behind.
fn remove_stale_temps(models: &Path, name: &str) {
    let prefix = format!("{TEMP_PREFIX}{name}-");
    let Ok(entries) = std::fs::read_dir(models) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            tracing::info!(dir = %entry.path().display(), "removing a killed import's temp directory");
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
