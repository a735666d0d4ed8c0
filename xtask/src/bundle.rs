//! `cargo xtask bundle <package> [--release]`: nice-plug-xtask builds the CLAP and VST3 bundles
//! (named by `bundler.toml`), then ONNX Runtime is copied next to the plugin binary in each, where
//! the engine's runtime finder looks first (the directory of the loaded plugin library).
use crate::ort::Platform;
use crate::{build_tools, bundle_programs, install, install_layout, ort, workspace};
use anyhow::{Context, Result};
use std::fs;
use std::path::{Path, PathBuf};

/// Bundle names to finish, from `bundler.toml` (package → name).
const BUNDLES: &[&str] = &["Refrain"];

/// Runs nice-plug-xtask's `bundle`, then copies libonnxruntime into every bundle it made; the
/// command-line programs go to `bundle_programs` instead.
pub fn run(args: &[String]) -> Result<()> {
    if let Some(package) = args.first().filter(|p| bundle_programs::is_program(p)) {
        bundle_programs::run(package, &args[1..])?;
        return Ok(());
    }
    build_tools::ensure()?;
    let platform = if targets_windows(args) {
        build_tools::windows_cross()?;
        Platform::Windows
    } else {
        Platform::Linux
    };
    let ort_dir = ort::ensure_for(platform, false)?;
    let forwarded = std::iter::once("bundle".to_string()).chain(args.iter().cloned());
    nice_plug_xtask::main_with_args("cargo xtask", forwarded)?;
    let bundled = workspace::target_dir()?.join("bundled");
    let arch_dir = platform.vst3_arch();
    for name in BUNDLES {
        let clap = bundled.join(format!("{name}.clap"));
        if clap.is_file() {
            // A .clap is one file (ELF or DLL); its "bundle" folder is the one it sits in.
            copy_runtime(&ort_dir, &bundled, platform)?;
            println!("ONNX Runtime copied next to {}", clap.display());
        }
        // nice-plug-xtask adds this platform's binary beside any other platform's from an
        // earlier run; a stale one must not ride along into an install or a distribution.
        let contents = bundled.join(format!("{name}.vst3/Contents"));
        for other in [Platform::Linux, Platform::Windows] {
            let stale = contents.join(other.vst3_arch());
            if other != platform && stale.exists() {
                fs::remove_dir_all(&stale)
                    .with_context(|| format!("removing {}", stale.display()))?;
            }
        }
        let vst3 = contents.join(arch_dir);
        if vst3.is_dir() {
            copy_runtime(&ort_dir, &vst3, platform)?;
            println!("ONNX Runtime copied into {}", vst3.display());
        }
    }
    if platform == Platform::Windows {
        // No installer runs on Windows from here: lay out the two folders a producer copies
        // into `C:\Program Files\Common Files`, the shipped models inside each.
        let dist = windows_dist(&bundled);
        let (clap_root, vst3_root) = (dist.join("CLAP"), dist.join("VST3"));
        let done = install::distribute(&bundled, platform, |payload| {
            install_layout::install_into(payload, &clap_root, &vst3_root)
        })?;
        println!(
            "\nWindows plugin folders (copy into C:\\Program Files\\Common Files): {}",
            dist.display()
        );
        println!("  {}", done.clap.display());
        if let Some(vst3) = done.vst3 {
            println!("  {}", vst3.display());
        }
    }
    Ok(())
}

/// Where a Windows bundle run lays out `CLAP\Refrain` and `VST3\Refrain.vst3`.
pub fn windows_dist(bundled: &Path) -> PathBuf {
    bundled.join("windows")
}

/// Whether the arguments ask for the Windows target (`--target x86_64-pc-windows-gnu`).
pub(crate) fn targets_windows(args: &[String]) -> bool {
    args.windows(2)
        .any(|w| w[0] == "--target" && w[1].contains("windows"))
        || args
            .iter()
            .any(|a| a.starts_with("--target=") && a.contains("windows"))
}

/// The files each bundle carries for `platform`, as the engine's runtime finder opens them:
/// the library under its unversioned name (`engine::runtime::LIBRARY_FILE`, a real file: symlinks do not survive
/// every installer or archive) and the provider shim it dlopens from its own directory. The
/// versioned `libonnxruntime.so.1.31.1` is left out: nothing opens it by that name (the
/// library's SONAME is `libonnxruntime.so.1`, and nothing lists it as NEEDED), and copying both
/// names put the same 29 MB into each bundle twice.
pub fn runtime_files(platform: Platform) -> [&'static str; 2] {
    [platform.link_name(), platform.shim()]
}

/// Copies [`runtime_files`] from the provisioned directory `from` into `to`, and removes the
/// versioned duplicates an older bundler left there.
pub(crate) fn copy_runtime(from: &Path, to: &Path, platform: Platform) -> Result<()> {
    for name in runtime_files(platform) {
        let src = from.join(name);
        let dest = to.join(name);
        // fs::copy follows the provisioned symlink, so the bundle gets the library itself; a
        // stale symlink at `dest` is replaced rather than written through.
        if dest.is_symlink() {
            fs::remove_file(&dest).with_context(|| format!("removing {}", dest.display()))?;
        }
        fs::copy(&src, &dest)
            .with_context(|| format!("copying {} to {}", src.display(), dest.display()))?;
    }
    for entry in fs::read_dir(to).with_context(|| format!("reading {}", to.display()))? {
        let path = entry?.path();
        let stale = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("libonnxruntime.so."));
        if stale {
            fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    Ok(())
}
