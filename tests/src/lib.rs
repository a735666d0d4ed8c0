//! Shared helpers for the workspace integration tests.

pub mod bundle;
pub mod clap_host;
pub mod host_audio;
/// `cargo xtask install`'s layout, the same file the installer compiles (xtask links nothing of
/// ours, so the test shares its source instead of a crate).
#[path = "../../xtask/src/install_layout.rs"]
pub mod install_layout;
pub mod vst3_host;

use std::path::PathBuf;

/// The workspace root (this crate lives at `<root>/tests`).
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// The cargo target directory: `CARGO_TARGET_DIR` when set (CI sets it), else `<root>/target`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}
