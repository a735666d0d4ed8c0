//! Versions installed under their own name (`models/<name>`, as `refrain-trainer import` writes
//! them) next to the numbered `v<N>` fine-tunes: listing them, and making one current so the
//! plugin generates with it and `train` fine-tunes its lineage.
use super::{inspect, models_dir, parse_version_dir_name, Rollback, VersionEntry, VersionsError};
use refrain_engine::locator;
use refrain_engine::manifest::MANIFEST_FILE;
use std::path::Path;

/// Directories of `models/` that are neither `v<N>`, the `current` pointer, `base` nor hidden
/// (temp directories of a running import or export), with a manifest; sorted by name.
pub fn imported_names(data_dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(models_dir(data_dir)) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().join(MANIFEST_FILE).is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| !n.starts_with('.') && n != "base" && parse_version_dir_name(n).is_none())
        .collect();
    names.sort();
    names
}

/// Every imported version, checked like the numbered ones (its own version number is 0: each
/// import starts a lineage), marked when `models/current` names it.
pub fn list_imported(data_dir: &Path, shipped_base: &Path) -> Vec<(String, VersionEntry)> {
    let current = locator::current_version_dir(data_dir, shipped_base);
    imported_names(data_dir)
        .into_iter()
        .map(|name| {
            let dir = models_dir(data_dir).join(&name);
            let (manifest, problem) = inspect(0, &dir);
            let entry = VersionEntry {
                version: 0,
                is_base: false,
                is_current: dir == current,
                dir,
                manifest,
                problem,
            };
            (name, entry)
        })
        .collect()
}

/// Makes the imported version `name` current after checking it verifies; nothing changes when
/// it does not.
pub fn use_imported(
    data_dir: &Path,
    shipped_base: &Path,
    name: &str,
) -> Result<Rollback, VersionsError> {
    let Some(dir) = locator::installed_version(data_dir, name) else {
        return Err(VersionsError::NotFound {
            version: 0,
            manifest: models_dir(data_dir).join(name).join(MANIFEST_FILE),
        });
    };
    let manifest = match inspect(0, &dir) {
        (_, Some(problem)) => return Err(problem),
        (Some(m), None) => m,
        // `inspect` gives a manifest or a problem; answer as for a missing one, without a panic.
        (None, None) => {
            return Err(VersionsError::NotFound {
                version: 0,
                manifest: dir.join(MANIFEST_FILE),
            })
        }
    };
    let from = locator::current_version_dir(data_dir, shipped_base);
    locator::publish_current(data_dir, name)
        .map_err(|source| VersionsError::Publish { version: 0, source })?;
    let to = locator::current_version_dir(data_dir, shipped_base);
    tracing::info!(from = %from.display(), to = %to.display(), name, "made an imported version current");
    Ok(Rollback { from, to, manifest })
}
