//! Where model versions live (DESIGN.md 4.2): the user data directory, its `models/v<N>/`
//! version directories and the one-line `models/current` pointer.
//!
//! DESIGN.md names `directories::ProjectDirs` for the data directory; that crate is not a
//! dependency, so the XDG rule it applies on Linux is implemented here from `XDG_DATA_HOME` and
//! `HOME`. Other platforms get the same XDG-style location rather than their native one.
use super::{write_atomic, ManifestError, MANIFEST_FILE};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Name of the pointer file inside `<data dir>/models/`.
pub const CURRENT_POINTER: &str = "current";
/// Application directory name under the XDG data home.
const APP_DIR: &str = "refrain";

/// The user data directory: `$REFRAIN_HOME` when set, else `$XDG_DATA_HOME/refrain`, else
/// `~/.local/share/refrain`. Not created here.
pub fn data_dir() -> Result<PathBuf, ManifestError> {
    resolve_data_dir(
        std::env::var_os("REFRAIN_HOME"),
        std::env::var_os("XDG_DATA_HOME"),
        std::env::var_os("HOME"),
    )
}

/// [`data_dir`]'s rule on given variable values (tests call this instead of mutating the
/// process environment, which is shared by every test thread). Empty values count as unset;
/// a relative `XDG_DATA_HOME` is ignored, as the XDG base directory spec requires.
pub fn resolve_data_dir(
    refrain_home: Option<OsString>,
    xdg_data_home: Option<OsString>,
    home: Option<OsString>,
) -> Result<PathBuf, ManifestError> {
    let set = |v: Option<OsString>| v.filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = set(refrain_home) {
        return Ok(dir);
    }
    if let Some(xdg) = set(xdg_data_home).filter(|p| p.is_absolute()) {
        return Ok(xdg.join(APP_DIR));
    }
    match set(home).filter(|p| p.is_absolute()) {
        Some(home) => Ok(home.join(".local").join("share").join(APP_DIR)),
        None => Err(ManifestError::NoDataDir),
    }
}

/// A version directory name must be one plain path component, so the pointer can never send the
/// loader outside `models/`.
fn plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0', '\n', '\r'])
}

/// The version directory the engine should load: the one `<data_dir>/models/current` names when
/// it holds a plain directory name whose directory has a manifest, else `shipped_base`.
///
/// A missing pointer is the normal state before the first fine-tune and is logged at debug level;
/// an unreadable or dangling pointer is a warning, because someone expected a newer model.
/// Validating the manifest itself is [`super::Manifest::load`]'s job.
pub fn current_version_dir(data_dir: &Path, shipped_base: &Path) -> PathBuf {
    let models = data_dir.join("models");
    let pointer = models.join(CURRENT_POINTER);
    let text = match std::fs::read_to_string(&pointer) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::debug!(pointer = %pointer.display(), "no current model pointer; using the shipped base");
            return shipped_base.to_path_buf();
        }
        Err(e) => {
            tracing::warn!(pointer = %pointer.display(), error = %e, "cannot read the current model pointer; using the shipped base");
            return shipped_base.to_path_buf();
        }
    };
    let name = text.trim();
    if !plain_name(name) {
        tracing::warn!(pointer = %pointer.display(), content = ?name, "current model pointer is not a plain directory name; using the shipped base");
        return shipped_base.to_path_buf();
    }
    let dir = models.join(name);
    if !dir.join(MANIFEST_FILE).is_file() {
        tracing::warn!(pointer = %pointer.display(), dir = %dir.display(), "current model pointer names a directory without manifest.json; using the shipped base");
        return shipped_base.to_path_buf();
    }
    dir
}

/// Points `<data_dir>/models/current` at `models/<version_dir_name>`, atomically (temp file,
/// fsync, rename, fsync of `models/`), so a worker checking the pointer between jobs reads the
/// old version or the new one, never a partial name. The version directory must already hold its
/// manifest: publish last, after every file of the version is written and synced.
pub fn publish_current(data_dir: &Path, version_dir_name: &str) -> Result<(), ManifestError> {
    let models = data_dir.join("models");
    let pointer = models.join(CURRENT_POINTER);
    if !plain_name(version_dir_name) {
        return Err(ManifestError::Invalid {
            path: pointer,
            field: "version directory name".into(),
            problem: format!("must be one plain path component, got {version_dir_name:?}"),
        });
    }
    let manifest = models.join(version_dir_name).join(MANIFEST_FILE);
    if !manifest.is_file() {
        return Err(ManifestError::Invalid {
            path: pointer,
            field: "version directory name".into(),
            problem: format!("{} does not exist", manifest.display()),
        });
    }
    write_atomic(&pointer, format!("{version_dir_name}\n").as_bytes())
}

/// Env var naming the shipped base model version directory (both CLIs honour it).
pub const BASE_MODEL_ENV: &str = "REFRAIN_BASE_MODEL";

/// The shipped base named by [`BASE_MODEL_ENV`], if set and not empty.
pub fn base_from_env() -> Option<PathBuf> {
    std::env::var_os(BASE_MODEL_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `models/base` next to or above the running binary (an install, or `target/<profile>/` in a
/// checkout), if one holds a manifest.
pub fn base_beside_exe() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .map(|dir| dir.join("models").join("base"))
        .find(|dir| dir.join(super::MANIFEST_FILE).is_file())
}
