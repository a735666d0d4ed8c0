//! Model versions made from the workspace's tiny test model, shared by the version unit tests
//! (included by path) and the `versions_cli` integration tests.
use refrain_engine::manifest::Manifest;
use std::fs;
use std::path::{Path, PathBuf};

/// The complete small model version directory shared by the workspace's tests.
pub fn tiny_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tiny_model")
}

/// Copies the tiny model to `dst` as `version` made from `parent`; the ONNX files are not
/// touched, so the listed hashes still hold.
pub fn make_version(dst: &Path, version: u32, parent: Option<u32>) {
    fs::create_dir_all(dst).unwrap();
    for entry in fs::read_dir(tiny_model()).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), dst.join(entry.file_name())).unwrap();
    }
    let mut m = Manifest::load(dst).unwrap();
    m.version = version;
    m.parent = parent;
    m.write(dst).unwrap();
}
