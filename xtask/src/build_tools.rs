//! What the build needs beyond the host's Rust: libclang, which the Signalsmith Stretch bindings
//! (`signalsmith-stretch`, the engine's time-stretch) generate their FFI with at build time, and
//! for the Windows cross build Rust's Windows target, mingw-w64 and Wine.
use crate::corpus::install_packages;
use anyhow::{Context, Result};
use std::path::Path;
use std::process::Command;

/// Installs `libclang-dev` with apt when no libclang is found and `LIBCLANG_PATH` is unset.
pub fn ensure() -> Result<()> {
    if std::env::var_os("LIBCLANG_PATH").is_some() || !cfg!(target_os = "linux") || found() {
        return Ok(());
    }
    println!("the engine's time-stretch needs libclang to build: installing libclang-dev");
    install_packages(&["libclang-dev"])
}

/// A libclang shared library and clang's own headers (`stddef.h`) where Debian puts them.
fn found() -> bool {
    let Ok(entries) = std::fs::read_dir("/usr/lib") else {
        return false;
    };
    entries.flatten().any(|e| {
        let dir = e.path();
        let llvm = dir
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("llvm-"));
        llvm && has_libclang(&dir.join("lib")) && dir.join("lib/clang").is_dir()
    })
}

fn has_libclang(lib: &Path) -> bool {
    std::fs::read_dir(lib).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("libclang"))
    })
}

/// Makes the Windows cross build possible: Rust's standard library for the Windows target
/// (rustup) and the mingw-w64 toolchain (and 64-bit Wine, which runs its tests) installed with
/// apt when missing, and libclang pointed at clang's own headers for the Windows target (bindgen
/// does not find `stdbool.h` there by itself).
pub fn windows_cross() -> Result<()> {
    if !cfg!(target_os = "linux") {
        anyhow::bail!("the Windows cross build is set up for Linux hosts only");
    }
    rust_target(crate::windows::TARGET)?;
    install_packages(&["mingw-w64", "wine64"])?;
    let var = "BINDGEN_EXTRA_CLANG_ARGS_x86_64_pc_windows_gnu";
    if std::env::var_os(var).is_none() {
        if let Some(include) = clang_include() {
            std::env::set_var(var, format!("-I{}", include.display()));
        }
    }
    Ok(())
}

/// Adds `target`'s standard library with rustup when it is missing (a fresh machine has only the
/// host's); without rustup, says what is needed instead of letting rustc fail on `core`.
fn rust_target(target: &str) -> Result<()> {
    let listed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    let Ok(listed) = listed else {
        println!("rustup not found: make sure Rust's {target} target is installed");
        return Ok(());
    };
    if String::from_utf8_lossy(&listed.stdout)
        .lines()
        .any(|l| l.trim() == target)
    {
        return Ok(());
    }
    println!("adding Rust's {target} target (rustup target add {target})");
    let status = Command::new("rustup")
        .args(["target", "add", target])
        .status()
        .context("running rustup")?;
    if !status.success() {
        anyhow::bail!("`rustup target add {target}` failed");
    }
    Ok(())
}

/// `/usr/lib/llvm-*/lib/clang/<version>/include`, the newest found.
fn clang_include() -> Option<std::path::PathBuf> {
    let mut found: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib")
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("llvm-"))
        .flat_map(|e| {
            std::fs::read_dir(e.path().join("lib/clang"))
                .into_iter()
                .flatten()
        })
        .flatten()
        .map(|v| v.path().join("include"))
        .filter(|p| p.join("stdbool.h").is_file())
        .collect();
    found.sort();
    found.pop()
}
