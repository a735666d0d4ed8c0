//! ONNX Runtime loading and the session helper, against the real library.
//!
//! These tests need the library (`cargo xtask ort`, which `cargo xtask test` runs first) and fail
//! with the search error when it is missing rather than skipping: a silently skipped inference
//! test would hide a broken provisioning step in CI.
mod support;

use ort::value::Tensor;
use refrain_engine::runtime::{self, RuntimeError};
use std::ffi::OsStr;
use std::path::PathBuf;

/// The weights written by scripts/make_tiny_onnx.py (keep in sync).
const W: [[f32; 3]; 4] = [
    [0.5, -1.0, 0.25],
    [1.5, 0.75, -0.5],
    [-2.0, 0.125, 1.0],
    [0.25, -0.5, 2.0],
];
const B: [f32; 3] = [0.1, -0.2, 0.3];

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tiny.onnx")
}

fn init_or_fail() -> &'static runtime::RuntimeInfo {
    match runtime::init() {
        Ok(info) => info,
        Err(e) => panic!("ONNX Runtime is required for these tests: {e}"),
    }
}

#[test]
fn finds_the_library() {
    let path = runtime::find_library().unwrap_or_else(|e| panic!("{e}"));
    assert!(path.is_file(), "{} is not a file", path.display());
}

#[test]
fn init_is_idempotent_and_reports_the_library() {
    let first = init_or_fail();
    let second = init_or_fail();
    // Shown with --nocapture: which library and providers CI actually used.
    eprintln!("{first:?}");
    assert!(
        std::ptr::eq(first, second),
        "init must return the same info every time"
    );
    assert!(first.library.is_file());
    assert!(
        first.version.starts_with("1.31"),
        "unexpected version {:?}",
        first.version
    );
    assert!(
        first.providers.iter().any(|p| p == "CPUExecutionProvider"),
        "providers: {:?}",
        first.providers
    );
}

#[test]
fn runs_the_tiny_model() {
    init_or_fail();
    let mut session = runtime::session_from_file(fixture(), 1).unwrap_or_else(|e| panic!("{e}"));
    let x: [[f32; 4]; 2] = [[1.0, 2.0, 3.0, 4.0], [-0.5, 0.25, 1.5, -2.0]];
    let input = Tensor::from_array(([2usize, 4], x.concat())).expect("a 2x4 tensor from 8 values");
    let outputs = session
        .run(ort::inputs!["x" => input])
        .expect("running tiny.onnx");
    let (shape, y) = outputs["y"]
        .try_extract_tensor::<f32>()
        .expect("y is a float tensor");
    assert_eq!(&**shape, &[2, 3]);

    for (row, xr) in x.iter().enumerate() {
        for col in 0..3 {
            let pre: f32 = B[col] + (0..4).map(|k| xr[k] * W[k][col]).sum::<f32>();
            let want = pre.max(0.0);
            let got = y[row * 3 + col];
            assert!(
                (got - want).abs() < 1e-5,
                "y[{row},{col}] = {got}, want {want}"
            );
        }
    }
    // The fixture is built so relu clamps something; otherwise it would not be tested.
    assert!(y.contains(&0.0), "expected some clamped outputs in {y:?}");
}

#[test]
fn missing_model_is_an_error_naming_the_file() {
    init_or_fail();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("does-not-exist.onnx");
    let err = runtime::session_from_file(&path, 1).expect_err("a missing model must not load");
    assert!(matches!(err, RuntimeError::ModelMissing { .. }), "{err:?}");
    assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
}

#[test]
fn corrupt_model_is_an_error_naming_the_file() {
    init_or_fail();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.onnx");
    std::fs::write(&path, support::garbage(4096)).expect("writing a temp file");
    let err =
        runtime::session_from_file(&path, 1).expect_err("random bytes must not load as a model");
    assert!(matches!(err, RuntimeError::ModelInvalid { .. }), "{err:?}");
    assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
}

#[test]
fn env_path_that_does_not_exist_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("no-such-dir").join(runtime::LIBRARY_FILE);
    let err = runtime::find_library_with(Some(bogus.as_os_str())).expect_err("nothing is there");
    assert!(
        matches!(err, RuntimeError::EnvPathMissing { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&*bogus.to_string_lossy()) && text.contains(runtime::ENV_VAR),
        "{text}"
    );
}

#[test]
fn env_path_may_name_the_file_or_its_directory() {
    let found = runtime::find_library_with(None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        runtime::find_library_with(Some(found.as_os_str())).ok(),
        Some(found.clone())
    );
    let dir = found.parent().expect("a library path has a parent");
    assert_eq!(
        runtime::find_library_with(Some(dir.as_os_str())).ok(),
        Some(found.clone())
    );
    // An empty variable counts as unset (a common shell artefact of `export VAR=`).
    assert_eq!(
        runtime::find_library_with(Some(OsStr::new(""))).ok(),
        Some(found)
    );
}

#[test]
fn not_found_error_lists_places_and_the_fix() {
    let err = RuntimeError::NotFound {
        searched: vec![PathBuf::from("/a/libonnxruntime.so"), PathBuf::from("/b")],
    };
    let text = err.to_string();
    for needle in [
        "/a/libonnxruntime.so",
        "/b",
        "cargo xtask ort",
        runtime::ENV_VAR,
    ] {
        assert!(text.contains(needle), "{needle:?} missing from: {text}");
    }
}
