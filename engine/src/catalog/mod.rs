//! The installed model versions as a producer chooses between them (docs/ARCHITECTURE.md §4.2):
//! the shipped base, every import (`models/<name>`) and every fine-tune (`models/v<N>`), each
//! with its lineage, size on disk, license and — once it has been used — its measured time per
//! variation ([`timings`]).
//!
//! Listing reads manifests only. Hashing every file would take seconds for an 800 MB import on
//! each refresh, and [`crate::model::Model::load`] verifies the files anyway when one is chosen.
pub mod timings;

pub use timings::{Measured, TimingBook, TIMINGS_FILE};

use crate::locator::{self, CURRENT_POINTER};
use crate::manifest::{Manifest, MANIFEST_FILE};
use std::path::{Path, PathBuf};

/// The key of the shipped base in a listing (it may live outside `models/`).
pub const BASE_KEY: &str = "base";
/// The model card file a version may carry, whose `license:` line names its license.
pub const MODEL_CARD_FILE: &str = "MODEL_CARD.md";

/// One installed version.
#[derive(Debug, Clone, PartialEq)]
pub struct InstalledVersion {
    /// What selects it: [`BASE_KEY`] for the shipped base, else its folder name in `models/`.
    pub key: String,
    /// Its directory.
    pub dir: PathBuf,
    /// Lineage name from the manifest (`refrain-base`, an import's name).
    pub name: String,
    /// Version number within the lineage (0 = the lineage's root).
    pub version: u32,
    /// Parent version within the lineage.
    pub parent: Option<u32>,
    /// The manifest's `created` (what [`TimingBook`] entries are stamped with).
    pub created: String,
    /// Bytes of the files in its directory.
    pub bytes: u64,
    /// License from the manifest's import record or the model card, inherited by fine-tunes
    /// from their lineage's root.
    pub license: Option<String>,
    /// Whether `models/current` resolves to it.
    pub is_current: bool,
    /// Why it would not load, when its manifest does not parse.
    pub problem: Option<String>,
}

impl InstalledVersion {
    /// "refrain-base v0", "audio-diffusion-256 v2".
    pub fn label(&self) -> String {
        format!("{} v{}", self.name, self.version)
    }
}

/// Every installed version: the shipped base first, then `models/` entries by lineage and
/// version. Hidden folders (a running import or export) and the `current` pointer are skipped;
/// a folder whose manifest does not parse is listed with its problem so the producer sees it.
pub fn installed_versions(data_dir: &Path, shipped_base: &Path) -> Vec<InstalledVersion> {
    let current = locator::current_version_dir(data_dir, shipped_base);
    let mut list = Vec::new();
    if shipped_base.join(MANIFEST_FILE).is_file() {
        list.push(describe(BASE_KEY.to_string(), shipped_base, &current));
    }
    let models = locator::models_dir(data_dir);
    let keys: Vec<String> = std::fs::read_dir(&models)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join(MANIFEST_FILE).is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|k| !k.starts_with('.') && k != CURRENT_POINTER)
        .collect();
    let mut rest: Vec<InstalledVersion> = keys
        .into_iter()
        .map(|key| (models.join(&key), key))
        // `models/base` is the shipped base when the locator chose it; list it once.
        .filter(|(dir, _)| dir != shipped_base)
        .map(|(dir, key)| describe(key, &dir, &current))
        .collect();
    rest.sort_by(|a, b| (&a.name, a.version, &a.key).cmp(&(&b.name, b.version, &b.key)));
    list.extend(rest);
    inherit_licenses(&mut list);
    list
}

/// The version `key` names in a listing.
pub fn find<'a>(list: &'a [InstalledVersion], key: &str) -> Option<&'a InstalledVersion> {
    list.iter().find(|v| v.key == key)
}

fn describe(key: String, dir: &Path, current: &Path) -> InstalledVersion {
    let (name, version, parent, created, license, problem) = match Manifest::load_unverified(dir) {
        Ok(m) => {
            let license = import_license(&m).or_else(|| card_license(dir));
            (m.name, m.version, m.parent, m.created, license, None)
        }
        Err(e) => (
            key.clone(),
            0,
            None,
            String::new(),
            None,
            Some(e.to_string()),
        ),
    };
    InstalledVersion {
        bytes: dir_bytes(dir),
        is_current: dir == current,
        key,
        dir: dir.to_path_buf(),
        name,
        version,
        parent,
        created,
        license,
        problem,
    }
}

/// `training.import.license`, as `refrain-trainer import` records it.
fn import_license(m: &Manifest) -> Option<String> {
    let value = m.training.as_ref()?.get("import")?.get("license")?;
    value.as_str().map(str::to_string)
}

/// The `license:` line of the model card's header (the hub's convention, which the shipped
/// base's card follows too).
fn card_license(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(MODEL_CARD_FILE)).ok()?;
    text.lines()
        .take(40)
        .find_map(|l| l.trim().strip_prefix("license:"))
        .map(|l| l.trim().trim_matches('"').to_string())
        .filter(|l| !l.is_empty())
}

/// Fine-tunes carry no card: they inherit the license of their lineage's root (version 0).
fn inherit_licenses(list: &mut [InstalledVersion]) {
    let roots: Vec<(String, String)> = list
        .iter()
        .filter(|v| v.version == 0)
        .filter_map(|v| Some((v.name.clone(), v.license.clone()?)))
        .collect();
    for v in list.iter_mut().filter(|v| v.license.is_none()) {
        v.license = roots
            .iter()
            .find(|(name, _)| *name == v.name)
            .map(|(_, l)| l.clone());
    }
}

/// Total size of the regular files directly in `dir` (a version has no subfolders).
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

#[cfg(test)]
mod tests;
