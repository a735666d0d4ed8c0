//! `cargo xtask bundle <package> [--release]`: nice-plug-xtask builds the CLAP and VST3 bundles
//! (named by `bundler.toml`), then ONNX Runtime is copied next to the plugin binary in each, where
//! the engine's runtime finder looks first (the directory of the loaded plugin library).
use crate::{ort, workspace};
use anyhow::{Context, Result};
use std::fs;
use std::path::Path;

/// Bundle names to finish, from `bundler.toml` (package → name).
const BUNDLES: &[&str] = &["Refrain"];

/// Runs nice-plug-xtask's `bundle`, then copies libonnxruntime into every bundle it made.
pub fn run(args: &[String]) -> Result<()> {
    let ort_dir = ort::ensure(false)?;
    let forwarded = std::iter::once("bundle".to_string()).chain(args.iter().cloned());
    nice_plug_xtask::main_with_args("cargo xtask", forwarded)?;
    let bundled = workspace::target_dir()?.join("bundled");
    for name in BUNDLES {
        let clap = bundled.join(format!("{name}.clap"));
        if clap.is_file() {
            // A .clap on Linux is one ELF file; its "bundle" folder is the one it sits in.
            copy_runtime(&ort_dir, &bundled)?;
            println!("ONNX Runtime copied next to {}", clap.display());
        }
        let vst3 = bundled.join(format!("{name}.vst3/Contents/x86_64-linux"));
        if vst3.is_dir() {
            copy_runtime(&ort_dir, &vst3)?;
            println!("ONNX Runtime copied into {}", vst3.display());
        }
    }
    Ok(())
}

/// Copies the CPU ONNX Runtime `.so` files (the loader name and the provider shim).
fn copy_runtime(from: &Path, to: &Path) -> Result<()> {
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let path = entry?.path();
        let is_lib = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("libonnxruntime") && n.contains(".so"));
        if is_lib {
            let dest = to.join(path.file_name().context("library file name")?);
            // Dereferences symlinks: the bundle must carry the real library.
            fs::copy(&path, &dest)
                .with_context(|| format!("copying {} to {}", path.display(), dest.display()))?;
        }
    }
    Ok(())
}
