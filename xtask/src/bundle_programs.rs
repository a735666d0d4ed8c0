//! `cargo xtask bundle refrain-cli|refrain-trainer [--release] --target x86_64-pc-windows-gnu`:
//! the command-line programs for Windows, laid out in `target/bundled/windows/Refrain Tools/`
//! with ONNX Runtime beside the `.exe` (the engine's runtime finder looks in the running
//! module's folder first) and the shipped models under `models/` (the locator looks beside the
//! binary), so the folder works wherever it is copied, without environment variables.
use crate::ort::{self, Platform};
use crate::windows::{self, TARGET};
use crate::{build_tools, bundle, install_layout, workspace};
use anyhow::{bail, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};

/// The programs this bundles: package → executable name.
const PROGRAMS: [(&str, &str); 2] = [
    ("refrain-cli", "refrain"),
    ("refrain-trainer", "refrain-trainer"),
];

/// The folder under `target/bundled/windows` the programs go into.
pub const TOOLS_DIR: &str = "Refrain Tools";

/// Whether `package` is one of the command-line programs (not the plugin).
pub fn is_program(package: &str) -> bool {
    PROGRAMS.iter().any(|(p, _)| *p == package)
}

/// Builds `package` for Windows (`--release` when asked) and lays it out with ONNX Runtime and
/// the models; returns the `.exe`'s path in the layout.
pub fn run(package: &str, args: &[String]) -> Result<PathBuf> {
    let Some((_, exe_name)) = PROGRAMS.iter().find(|(p, _)| *p == package) else {
        bail!("{package} is not a command-line program of this workspace");
    };
    if !bundle::targets_windows(args) {
        bail!(
            "bundling {package} lays out a Windows folder: add --target {TARGET} (on Linux, \
             `cargo build --release -p {package}` is all it takes)"
        );
    }
    let release = args.iter().any(|a| a == "--release");
    build_tools::windows_cross()?;
    let ort_dir = ort::ensure_for(Platform::Windows, false)?;
    let mut build = vec!["build", "--target", TARGET, "-p", package];
    if release {
        build.push("--release");
    }
    windows::step(&workspace::cargo(), &build, &workspace::root())?;

    let target = workspace::target_dir()?;
    let profile = if release { "release" } else { "debug" };
    let exe = format!("{exe_name}.exe");
    let built = target.join(TARGET).join(profile).join(&exe);
    let dest = bundle::windows_dist(&target.join("bundled")).join(TOOLS_DIR);
    lay_out(&built, &ort_dir, &workspace::root().join("models"), &dest)?;
    let placed = dest.join(&exe);
    println!(
        "{exe} with ONNX Runtime and the models: {}",
        placed.display()
    );
    Ok(placed)
}

/// Copies `exe`, the Windows ONNX Runtime files from `ort_dir` and the shipped models (`base`,
/// and `vocoder` when present) from `models` into `dest`.
fn lay_out(exe: &Path, ort_dir: &Path, models: &Path, dest: &Path) -> Result<()> {
    fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    let name = exe.file_name().context("an executable has a file name")?;
    fs::copy(exe, dest.join(name))
        .with_context(|| format!("copying {} into {}", exe.display(), dest.display()))?;
    bundle::copy_runtime(ort_dir, dest, Platform::Windows)?;
    for model in ["base", "vocoder"] {
        let from = models.join(model);
        if from.is_dir() {
            let to = dest.join("models").join(model);
            let _ = fs::remove_dir_all(&to);
            install_layout::copy_tree(&from, &to, false)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lays_out_the_program_runtime_and_models_side_by_side() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("refrain.exe");
        fs::write(&exe, b"MZ").unwrap();
        let ort_dir = dir.path().join("ort");
        fs::create_dir(&ort_dir).unwrap();
        for name in bundle::runtime_files(Platform::Windows) {
            fs::write(ort_dir.join(name), name).unwrap();
        }
        let models = dir.path().join("models");
        fs::create_dir_all(models.join("base")).unwrap();
        fs::write(models.join("base/manifest.json"), b"{}").unwrap();
        let dest = dir.path().join("Refrain Tools");
        lay_out(&exe, &ort_dir, &models, &dest).unwrap();
        assert_eq!(fs::read(dest.join("refrain.exe")).unwrap(), b"MZ");
        assert!(dest.join("onnxruntime.dll").is_file());
        assert!(dest.join("models/base/manifest.json").is_file());
        assert!(
            !dest.join("models/vocoder").exists(),
            "no vocoder shipped, none laid out"
        );
        // Again over the same folder: replaced, not nested.
        lay_out(&exe, &ort_dir, &models, &dest).unwrap();
        assert!(dest.join("models/base/manifest.json").is_file());
        assert!(!is_program("refrain-plugin") && is_program("refrain-trainer"));
    }
}
