//! What the build needs beyond Rust: libclang, which the Signalsmith Stretch bindings
//! (`signalsmith-stretch`, the engine's time-stretch) generate their FFI with at build time.
use crate::corpus::install_packages;
use anyhow::Result;
use std::path::Path;

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
