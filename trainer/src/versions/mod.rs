//! Model versions in the data dir (docs/ARCHITECTURE.md §4.2): the `models/v<N>/` directories beside the
//! shipped base (version 0), whether each one verifies, the next free version number, and
//! rollback of the `models/current` pointer.
//!
//! `refrain-trainer versions` / `rollback` print and act on this; the fine-tune reuses
//! [`next_version_number`] to name the directory it writes and [`list_versions`] to show it.
//! A version "verifies" when [`Manifest::load`] would accept it: the manifest parses and
//! validates, every listed file exists with its sha256, and the `version` field matches the
//! directory. ONNX input/output shapes are checked later by `Model::load`, which needs ONNX
//! Runtime; the trainer's CLI does not.

mod guard;
mod imported;

pub use guard::{write_guard, GUARD_FILE};
pub use imported::{imported_names, list_imported, use_imported};

use refrain_engine::locator::{self, CURRENT_POINTER};
use refrain_engine::manifest::{Manifest, ManifestError, MANIFEST_FILE};
use std::path::{Path, PathBuf};

/// Version number of the shipped base (docs/ARCHITECTURE.md §4.1: `version` 0 = base).
pub const BASE_VERSION: u32 = 0;

/// Why a version could not be listed, checked or made current.
#[derive(Debug, thiserror::Error)]
pub enum VersionsError {
    /// Reading `models/` or removing the pointer failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// There is no version directory (with a manifest) for the requested version.
    #[error("model version {version} does not exist: {} is missing", manifest.display())]
    NotFound {
        /// The requested version.
        version: u32,
        /// Where its manifest was looked for.
        manifest: PathBuf,
    },
    /// The manifest or one of its files does not verify; the source names the file and field.
    #[error("model version {version} does not verify")]
    Invalid {
        /// The version that failed.
        version: u32,
        /// The engine's message, naming the manifest, the field and the file.
        source: ManifestError,
    },
    /// The manifest in `v<N>/` (or the base) claims another version number.
    #[error("{}: field `version`: is {found}, but the directory is version {expected}", manifest.display())]
    WrongVersion {
        /// The manifest file.
        manifest: PathBuf,
        /// The version the directory stands for.
        expected: u32,
        /// The manifest's `version` field.
        found: u32,
    },
    /// Moving `models/current` failed.
    #[error("cannot make model version {version} current")]
    Publish {
        /// The version being published.
        version: u32,
        /// The engine's message.
        source: ManifestError,
    },
    /// Every `u32` version number is taken (only a corrupt `models/` gets here).
    #[error("no version number left after {0}")]
    Exhausted(u32),
}

/// One model version as `refrain-trainer versions` shows it.
#[derive(Debug)]
pub struct VersionEntry {
    /// The version number: 0 for the shipped base, else from the `v<N>` directory name.
    pub version: u32,
    /// The version directory.
    pub dir: PathBuf,
    /// True for the shipped base.
    pub is_base: bool,
    /// True when `models/current` resolves to this directory.
    pub is_current: bool,
    /// The manifest when it parses and validates, kept even when a file fails its hash so the
    /// listing can still show parent and creation time.
    pub manifest: Option<Manifest>,
    /// Why this version would not load; `None` when it verifies.
    pub problem: Option<VersionsError>,
}

/// What [`rollback`] did.
#[derive(Debug)]
pub struct Rollback {
    /// The version directory that was current before.
    pub from: PathBuf,
    /// The version directory that is current now.
    pub to: PathBuf,
    /// The manifest of the version now current (verified).
    pub manifest: Manifest,
}

pub use locator::{models_dir, version_dir_name};

/// The version number a `models/` entry stands for: `v<N>` with N ≥ 1 in canonical decimal.
/// `v0` is not accepted because version 0 is always the shipped base, and `v01` because two
/// names for one number would make "which directory is version 1" ambiguous.
pub fn parse_version_dir_name(name: &str) -> Option<u32> {
    let n: u32 = name.strip_prefix('v')?.parse().ok()?;
    (n != BASE_VERSION && version_dir_name(n) == name).then_some(n)
}

/// The numbers of the `v<N>` directories under `<data_dir>/models`, ascending. A directory
/// counts even without a manifest (a crashed export), so its number is never reused. No
/// `models/` directory means no versions yet.
pub fn version_numbers(data_dir: &Path) -> Result<Vec<u32>, VersionsError> {
    let models = models_dir(data_dir);
    let io = |source| VersionsError::Io {
        path: models.clone(),
        source,
    };
    let entries = match std::fs::read_dir(&models) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(e)),
    };
    let mut numbers = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io)?;
        let number = entry.file_name().to_str().and_then(parse_version_dir_name);
        if let Some(n) = number.filter(|_| entry.path().is_dir()) {
            numbers.push(n);
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

/// The directory of version `n`: the shipped base for 0, else `<data_dir>/models/v<n>`.
pub fn version_dir(data_dir: &Path, shipped_base: &Path, n: u32) -> PathBuf {
    if n == BASE_VERSION {
        shipped_base.to_path_buf()
    } else {
        models_dir(data_dir).join(version_dir_name(n))
    }
}

/// The number for the next fine-tuned version: one more than the highest `v<N>` directory and
/// the version `models/current` points at (which may be a directory not named `v<N>`).
pub fn next_version_number(data_dir: &Path) -> Result<u32, VersionsError> {
    let highest_dir = version_numbers(data_dir)?.last().copied();
    // An empty "shipped base" marks the fallback: only a real pointer target can hold a
    // version above the directories, and the base is 0 anyway.
    let current = locator::current_version_dir(data_dir, Path::new(""));
    let current_version = if current.as_os_str().is_empty() {
        None
    } else {
        let path = current.join(MANIFEST_FILE);
        let parsed = std::fs::read_to_string(&path)
            .map_err(|source| ManifestError::Io {
                path: path.clone(),
                source,
            })
            .and_then(|text| Manifest::parse(&text, &path));
        match parsed {
            Ok(m) => Some(m.version),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the current version's number; ignoring it");
                None
            }
        }
    };
    let highest = highest_dir.max(current_version).unwrap_or(BASE_VERSION);
    highest
        .checked_add(1)
        .ok_or(VersionsError::Exhausted(highest))
}

/// Checks that version `n` in `dir` would load: manifest valid, `version` field equal to `n`,
/// every file present with its sha256. Returns the manifest it read even when the files fail,
/// so a listing can show what the version claims to be.
pub fn inspect(n: u32, dir: &Path) -> (Option<Manifest>, Option<VersionsError>) {
    let path = dir.join(MANIFEST_FILE);
    if !path.is_file() {
        let problem = VersionsError::NotFound {
            version: n,
            manifest: path,
        };
        return (None, Some(problem));
    }
    let invalid = |source| VersionsError::Invalid { version: n, source };
    // `Manifest::load` in two steps, so the parsed manifest survives a bad file.
    let manifest = match Manifest::load_unverified(dir) {
        Ok(m) => m,
        Err(e) => return (None, Some(invalid(e))),
    };
    let problem = if manifest.version != n {
        Some(VersionsError::WrongVersion {
            manifest: path,
            expected: n,
            found: manifest.version,
        })
    } else {
        manifest.verify_files(dir, &path).err().map(invalid)
    };
    (Some(manifest), problem)
}

/// Loads and verifies version `n` (see [`inspect`]); an error names the file and field.
pub fn check_version(
    data_dir: &Path,
    shipped_base: &Path,
    n: u32,
) -> Result<Manifest, VersionsError> {
    match inspect(n, &version_dir(data_dir, shipped_base, n)) {
        (Some(manifest), None) => Ok(manifest),
        (_, Some(problem)) => Err(problem),
        // `inspect` returns a problem whenever it has no manifest.
        (None, None) => Err(VersionsError::NotFound {
            version: n,
            manifest: version_dir(data_dir, shipped_base, n).join(MANIFEST_FILE),
        }),
    }
}

/// The shipped base (version 0) and every `v<N>` directory, ascending, each checked and
/// marked when `models/current` resolves to it.
pub fn list_versions(
    data_dir: &Path,
    shipped_base: &Path,
) -> Result<Vec<VersionEntry>, VersionsError> {
    let current = locator::current_version_dir(data_dir, shipped_base);
    let numbers = std::iter::once(BASE_VERSION).chain(version_numbers(data_dir)?);
    Ok(numbers
        .map(|n| {
            let dir = version_dir(data_dir, shipped_base, n);
            let (manifest, problem) = inspect(n, &dir);
            VersionEntry {
                version: n,
                is_base: n == BASE_VERSION,
                is_current: dir == current,
                dir,
                manifest,
                problem,
            }
        })
        .collect())
}

/// Makes version `n` current after checking that it verifies; nothing changes when it does not.
///
/// For `n ≥ 1` the pointer is rewritten with [`locator::publish_current`] (temp file, fsync,
/// rename). For the shipped base the pointer is removed instead ([`clear_current`]): the engine
/// resolves a missing pointer to the shipped base, wherever that is installed, whereas a
/// pointer can only name a directory inside `models/`.
pub fn rollback(data_dir: &Path, shipped_base: &Path, n: u32) -> Result<Rollback, VersionsError> {
    let from = locator::current_version_dir(data_dir, shipped_base);
    let manifest = check_version(data_dir, shipped_base, n)?;
    if n == BASE_VERSION {
        clear_current(data_dir)?;
    } else {
        locator::publish_current(data_dir, &version_dir_name(n))
            .map_err(|source| VersionsError::Publish { version: n, source })?;
    }
    let to = locator::current_version_dir(data_dir, shipped_base);
    tracing::info!(from = %from.display(), to = %to.display(), version = n, "rolled back the current model");
    Ok(Rollback { from, to, manifest })
}

/// Removes `models/current` so the engine falls back to the shipped base; returns whether there
/// was a pointer. Unlinking is atomic (a reader opens the whole old pointer or finds none, never
/// a partial file), and the directory is fsynced so the removal survives a crash.
pub fn clear_current(data_dir: &Path) -> Result<bool, VersionsError> {
    let models = models_dir(data_dir);
    let pointer = models.join(CURRENT_POINTER);
    match std::fs::remove_file(&pointer) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(VersionsError::Io {
                path: pointer,
                source,
            })
        }
    }
    refrain_engine::manifest::sync_dir(&models).map_err(|source| VersionsError::Io {
        path: models.clone(),
        source,
    })?;
    Ok(true)
}

#[cfg(test)]
mod tests;
