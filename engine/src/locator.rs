//! The model locator (docs/ARCHITECTURE.md §4.2): the one answer to "where is the model?" for the
//! `refrain` CLI, the trainer and the plugin — the user data directory, its `models/v<N>/`
//! version directories, the one-line `models/current` pointer and the shipped base.
//!
//! The data directory follows the XDG rule from `XDG_DATA_HOME` and `HOME` (no `directories`
//! crate: one rule, no dependency). Other platforms get the same XDG-style location rather than
//! their native one.
use crate::manifest::{write_atomic, ManifestError, MANIFEST_FILE};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Name of the pointer file inside `<data dir>/models/`.
pub const CURRENT_POINTER: &str = "current";
/// Application directory name under the XDG data home.
const APP_DIR: &str = "refrain";
/// The folder of model versions, inside the data dir and beside an install.
const MODELS_DIR: &str = "models";
/// The shipped base's folder inside [`MODELS_DIR`].
const BASE_DIR: &str = "base";
/// Env var naming the model version directory to load, ahead of the `current` pointer.
pub const MODEL_DIR_ENV: &str = "REFRAIN_MODEL_DIR";
/// Env var naming the shipped base model version directory.
pub const BASE_MODEL_ENV: &str = "REFRAIN_BASE_MODEL";

/// `<data_dir>/models`, where fine-tuned versions and the `current` pointer live.
pub fn models_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(MODELS_DIR)
}

/// The directory name of fine-tuned version `n` (`v3`).
pub fn version_dir_name(n: u32) -> String {
    format!("v{n}")
}

/// `<data_dir>/models/v<n>`.
pub fn version_dir(data_dir: &Path, n: u32) -> PathBuf {
    models_dir(data_dir).join(version_dir_name(n))
}

/// The version installed as `models/<name>` (an import, or `v<N>`), when `name` is one plain
/// folder name whose directory holds a manifest.
pub fn installed_version(data_dir: &Path, name: &str) -> Option<PathBuf> {
    let dir = models_dir(data_dir).join(name);
    (plain_name(name) && has_manifest(&dir)).then_some(dir)
}

/// `<data_dir>/models/base`: where an install may put the shipped base for the plugin.
pub fn base_in_data_dir(data_dir: &Path) -> PathBuf {
    models_dir(data_dir).join(BASE_DIR)
}

/// The user data directory: `$REFRAIN_HOME` when set, else `$XDG_DATA_HOME/refrain`, else
/// `~/.local/share/refrain`; on Windows `%REFRAIN_HOME%`, else `%APPDATA%\Refrain`. Not
/// created here.
pub fn data_dir() -> Result<PathBuf, ManifestError> {
    if cfg!(windows) {
        return resolve_windows_data_dir(
            std::env::var_os("REFRAIN_HOME"),
            std::env::var_os("APPDATA"),
        );
    }
    resolve_data_dir(
        std::env::var_os("REFRAIN_HOME"),
        std::env::var_os("XDG_DATA_HOME"),
        std::env::var_os("HOME"),
    )
}

/// A variable's value as a path; empty counts as unset (both data dir rules).
fn set_path(value: Option<OsString>) -> Option<PathBuf> {
    value.filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// The Windows data dir rule on given values: `REFRAIN_HOME`, else `<APPDATA>\Refrain` (the
/// roaming application data folder, where Windows programs keep per-user data).
pub fn resolve_windows_data_dir(
    refrain_home: Option<OsString>,
    appdata: Option<OsString>,
) -> Result<PathBuf, ManifestError> {
    if let Some(dir) = set_path(refrain_home) {
        return Ok(dir);
    }
    set_path(appdata)
        .map(|d| d.join("Refrain"))
        .ok_or(ManifestError::NoDataDir)
}

/// [`data_dir`]'s rule on given variable values (tests call this instead of mutating the
/// process environment, which is shared by every test thread). Empty values count as unset;
/// a relative `XDG_DATA_HOME` is ignored, as the XDG base directory spec requires.
pub fn resolve_data_dir(
    refrain_home: Option<OsString>,
    xdg_data_home: Option<OsString>,
    home: Option<OsString>,
) -> Result<PathBuf, ManifestError> {
    if let Some(dir) = set_path(refrain_home) {
        return Ok(dir);
    }
    if let Some(xdg) = set_path(xdg_data_home).filter(|p| p.is_absolute()) {
        return Ok(xdg.join(APP_DIR));
    }
    match set_path(home).filter(|p| p.is_absolute()) {
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
/// Validating the manifest itself is [`crate::manifest::Manifest::load`]'s job.
pub fn current_version_dir(data_dir: &Path, shipped_base: &Path) -> PathBuf {
    let models = models_dir(data_dir);
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
    let models = models_dir(data_dir);
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

/// Overrides where the neural vocoder is loaded from.
pub const VOCODER_DIR_ENV: &str = "REFRAIN_VOCODER_DIR";
/// The neural vocoder's directory under `models/`.
pub const VOCODER_DIR: &str = "vocoder";

/// The shipped base named by [`BASE_MODEL_ENV`], if set and not empty.
pub fn base_from_env() -> Option<PathBuf> {
    non_empty_env(BASE_MODEL_ENV)
}

/// The version directory named by [`MODEL_DIR_ENV`], if set and not empty.
pub fn model_dir_from_env() -> Option<PathBuf> {
    non_empty_env(MODEL_DIR_ENV)
}

fn non_empty_env(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `models/base` next to or above the running binary (an install, or `target/<profile>/` in a
/// checkout), if one holds a manifest.
pub fn base_beside_exe() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    base_above(exe.parent()?)
}

/// `models/base` inside the plugin bundle (or the folder of the shared library) this code was
/// loaded from: beside or above the library, or in a bundle's `Resources/` — for the VST3 layout
/// `Refrain.vst3/Contents/{x86_64-linux,Resources}`. `None` in a plain executable.
pub fn base_in_bundle() -> Option<PathBuf> {
    let dir = crate::runtime::module_dir()?;
    base_above(&dir).or_else(|| {
        dir.ancestors()
            .map(|a| a.join("Resources").join(MODELS_DIR).join(BASE_DIR))
            .find(|d| has_manifest(d))
    })
}

fn base_above(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .map(|a| a.join(MODELS_DIR).join(BASE_DIR))
        .find(|d| has_manifest(d))
}

fn has_manifest(dir: &Path) -> bool {
    dir.join(MANIFEST_FILE).is_file()
}

/// The shipped base (version 0): `$REFRAIN_BASE_MODEL`, else `<data dir>/models/base` when it
/// holds a manifest, else inside the plugin bundle (a plugin's own model comes before anything
/// near the host's executable), else `models/base` beside or above the running binary, else
/// `models/base` under the working directory (which may not exist; loading says so).
pub fn shipped_base(data_dir: Option<&Path>) -> PathBuf {
    base_from_env()
        .or_else(|| data_dir.map(base_in_data_dir).filter(|d| has_manifest(d)))
        .or_else(base_in_bundle)
        .or_else(base_beside_exe)
        .unwrap_or_else(|| Path::new(MODELS_DIR).join(BASE_DIR))
}

/// The neural vocoder's directory: `$REFRAIN_VOCODER_DIR`, else inside the plugin bundle, else
/// `models/vocoder` beside or above the running binary, else `models/vocoder` under the working
/// directory (which may not exist; loading says so and the vocoder falls back).
pub fn shipped_vocoder() -> PathBuf {
    let spec = |d: &PathBuf| d.join(crate::vocoder::neural::SPEC_FILE).is_file();
    let beside_exe = || {
        let exe = std::env::current_exe().ok()?;
        let dir = exe.parent()?.to_path_buf();
        dir.ancestors()
            .map(|a| a.join(MODELS_DIR).join(VOCODER_DIR))
            .find(spec)
    };
    let in_bundle = || {
        let dir = crate::runtime::module_dir()?;
        dir.ancestors()
            .flat_map(|a| [a.to_path_buf(), a.join("Resources")])
            .map(|a| a.join(MODELS_DIR).join(VOCODER_DIR))
            .find(spec)
    };
    non_empty_env(VOCODER_DIR_ENV)
        .or_else(in_bundle)
        .or_else(beside_exe)
        .unwrap_or_else(|| Path::new(MODELS_DIR).join(VOCODER_DIR))
}

/// The version directory to load when nothing is passed explicitly: `$REFRAIN_MODEL_DIR`, else
/// the one `<data dir>/models/current` names, else `shipped_base`.
pub fn model_to_load(data_dir: Option<&Path>, shipped_base: &Path) -> PathBuf {
    if let Some(dir) = model_dir_from_env() {
        return dir;
    }
    match data_dir {
        Some(data) => current_version_dir(data, shipped_base),
        None => shipped_base.to_path_buf(),
    }
}
