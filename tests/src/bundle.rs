//! The `Refrain.clap` and `Refrain.vst3` the host tests load, assembled from the plugin cdylib
//! this `cargo test` run already built, in the layouts `cargo xtask bundle` produces on Linux.
//!
//! Why not run `cargo xtask bundle`: nice-plug-xtask builds with `cargo build -p refrain-plugin`,
//! whose feature resolution differs from the test run's (serde, syn, memchr, ... get other
//! features), so nice-plug, the engine and the plugin were compiled a second time: minutes on a
//! 2-core CI machine. `refrain-plugin` is a dev-dependency of this crate instead, so cargo builds
//! its cdylib (`<profile>/deps/librefrain_plugin.so`) once, with everything else in the run.
//!
//! Cargo names cdylibs without a hash, so another invocation that builds the plugin (e.g.
//! `cargo build -p refrain-plugin`) writes the same file; it is then the same sources built
//! with other dependency features, which loads and behaves the same.
//!
//! The layout is what the bundler makes: nice-plug-xtask's CLAP bundle on Linux is that cdylib
//! under the name `Refrain.clap`, its VST3 bundle is `Refrain.vst3/Contents/x86_64-linux/
//! Refrain.so`, and the xtask puts ONNX Runtime next to the plugin binary (xtask's
//! `bundle::runtime_files`), where the engine's runtime finder looks first.
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use refrain_engine::runtime::{ENV_VAR, LIBRARY_FILE};

/// The plugin cdylib's file name as cargo writes it.
pub const PLUGIN_LIB: &str = "librefrain_plugin.so";
/// The bundle's plugin file name (`bundler.toml` names the bundle "Refrain").
pub const CLAP_FILE: &str = "Refrain.clap";
/// The VST3 bundle's folder name, and where its Linux binary sits inside.
pub const VST3_BUNDLE: &str = "Refrain.vst3";
const VST3_BINARY: &str = "Contents/x86_64-linux/Refrain.so";
/// ONNX Runtime files each bundle carries (the Linux list of xtask's `bundle::runtime_files`).
pub const RUNTIME_FILES: &[&str] = &[LIBRARY_FILE, "libonnxruntime_providers_shared.so"];

/// The cdylib cargo built for this test binary: it sits in the same `deps/` directory, which
/// also picks the right profile and `CARGO_TARGET_DIR` without guessing.
pub fn built_plugin() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the test binary")?;
    let deps = exe.parent().context("the test binary has no directory")?;
    let lib = deps.join(PLUGIN_LIB);
    if !lib.is_file() {
        bail!(
            "{} is missing: refrain-plugin is a dev-dependency of refrain-tests, so `cargo test` \
             should have built it next to the test binary",
            lib.display()
        );
    }
    Ok(lib)
}

/// Where the ONNX Runtime files come from: `REFRAIN_ORT_DYLIB` (the file or its directory)
/// when set, else what `cargo xtask ort` provisioned into `<target>/onnxruntime/cpu`.
pub fn runtime_dir(target_dir: &Path) -> Result<PathBuf> {
    let dir = match std::env::var_os(ENV_VAR).filter(|v| !v.is_empty()) {
        Some(value) => {
            let given = PathBuf::from(value);
            if given.is_dir() {
                given
            } else {
                given
                    .parent()
                    .map(Path::to_path_buf)
                    .with_context(|| format!("{ENV_VAR} has no directory"))?
            }
        }
        None => target_dir.join("onnxruntime").join("cpu"),
    };
    for name in RUNTIME_FILES {
        if !dir.join(name).is_file() {
            bail!(
                "{} is missing: run `cargo xtask ort` (or set {ENV_VAR})",
                dir.join(name).display()
            );
        }
    }
    Ok(dir)
}

/// Makes `<into>/Refrain.clap` plus the ONNX Runtime files next to it, from `plugin` and the
/// files in `runtime`. Hard links where the file system allows (no 270 MB debug copies; safe
/// because the linker replaces its output file rather than rewriting it, the same property
/// cargo's own hard-linked `target/debug/*.so` relies on), copies elsewhere.
pub fn assemble(plugin: &Path, runtime: &Path, into: &Path) -> Result<PathBuf> {
    let clap = into.join(CLAP_FILE);
    place_with_runtime(plugin, runtime, &clap)?;
    Ok(clap)
}

/// Makes `<into>/Refrain.vst3` (the plugin as `Contents/x86_64-linux/Refrain.so`, ONNX Runtime
/// beside it) the same way; returns the bundle folder.
pub fn assemble_vst3(plugin: &Path, runtime: &Path, into: &Path) -> Result<PathBuf> {
    let bundle = into.join(VST3_BUNDLE);
    place_with_runtime(plugin, runtime, &bundle.join(VST3_BINARY))?;
    Ok(bundle)
}

/// Places `plugin` at `dest` and the files of `runtime` beside it.
fn place_with_runtime(plugin: &Path, runtime: &Path, dest: &Path) -> Result<()> {
    let dir = dest.parent().context("a plugin file has a folder")?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    place(plugin, dest)?;
    for name in RUNTIME_FILES {
        // The provisioned libonnxruntime.so is a symlink; the bundle carries the file itself.
        let src = fs::canonicalize(runtime.join(name))
            .with_context(|| format!("resolving {}", runtime.join(name).display()))?;
        place(&src, &dir.join(name))?;
    }
    Ok(())
}

fn place(src: &Path, dest: &Path) -> Result<()> {
    if dest.exists() || dest.is_symlink() {
        fs::remove_file(dest).with_context(|| format!("removing {}", dest.display()))?;
    }
    if fs::hard_link(src, dest).is_err() {
        fs::copy(src, dest)
            .with_context(|| format!("copying {} to {}", src.display(), dest.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assembles_the_bundler_layout_with_real_files() {
        let dir = tempfile::tempdir().unwrap();
        let plugin = dir.path().join(PLUGIN_LIB);
        fs::write(&plugin, b"\x7fELF plugin").unwrap();
        let runtime = dir.path().join("ort");
        fs::create_dir(&runtime).unwrap();
        fs::write(runtime.join("libonnxruntime.so.1.31.1"), b"\x7fELF ort").unwrap();
        std::os::unix::fs::symlink("libonnxruntime.so.1.31.1", runtime.join(LIBRARY_FILE)).unwrap();
        fs::write(runtime.join(RUNTIME_FILES[1]), b"\x7fELF shim").unwrap();

        let bundle = dir.path().join("bundle");
        let clap = assemble(&plugin, &runtime, &bundle).unwrap();
        assert_eq!(clap, bundle.join(CLAP_FILE));
        assert_eq!(fs::read(&clap).unwrap(), b"\x7fELF plugin");
        let ort = bundle.join(LIBRARY_FILE);
        assert!(!ort.is_symlink(), "the bundle carries the library itself");
        assert_eq!(fs::read(&ort).unwrap(), b"\x7fELF ort");
        let mut names: Vec<_> = fs::read_dir(&bundle)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "Refrain.clap",
                "libonnxruntime.so",
                "libonnxruntime_providers_shared.so"
            ]
        );
        // Assembling again over an existing bundle replaces it.
        assemble(&plugin, &runtime, &bundle).unwrap();

        let vst3 = assemble_vst3(&plugin, &runtime, &bundle).unwrap();
        assert_eq!(vst3, bundle.join("Refrain.vst3"));
        let binary_dir = vst3.join("Contents/x86_64-linux");
        assert_eq!(
            fs::read(binary_dir.join("Refrain.so")).unwrap(),
            b"\x7fELF plugin"
        );
        assert_eq!(
            fs::read(binary_dir.join(LIBRARY_FILE)).unwrap(),
            b"\x7fELF ort"
        );
    }
}
