//! Loading a model version: I/O validation, providers, encode/decode/denoise on the tiny fixture
//! model (scripts/make_tiny_model.py), and refusals that name the file and field.
mod support;

use refrain_engine::ddim::Denoiser;
use refrain_engine::manifest::Manifest;
use refrain_engine::model::{Model, ModelError, ModelOptions, Provider};
use refrain_engine::spectrogram::Mel;
use std::path::Path;
use support::tiny;

/// The shared CPU options with the warm-up run on, so loading covers it too.
fn cpu() -> ModelOptions {
    ModelOptions {
        warm_up: true,
        ..tiny::cpu()
    }
}

/// Why loading `dir` is refused (the test fails if it loads).
fn refusal(dir: &Path) -> String {
    Model::load(dir, cpu())
        .err()
        .expect("must refuse")
        .to_string()
}

/// A copy of the tiny model in a temp dir, with `file` replaced by `bytes` and the hash updated,
/// so only the graph check (not the sha check) can object.
fn with_replaced(file: &str, bytes: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    tiny::copy_to(dir.path());
    std::fs::write(dir.path().join(file), bytes).unwrap();
    let text = std::fs::read_to_string(dir.path().join("manifest.json")).unwrap();
    let mut manifest = Manifest::parse(&text, &dir.path().join("manifest.json")).unwrap();
    manifest.hash_files(dir.path(), &[file]).unwrap();
    manifest.write(dir.path()).unwrap();
    dir
}

#[test]
fn loads_and_runs_the_tiny_model_on_cpu() {
    let mut model = Model::load(&tiny::dir(), cpu()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(model.provider(), "cpu");
    assert!(model.warnings().is_empty(), "{:?}", model.warnings());
    assert!(model.supports_batch(3), "dynamic batch graph");
    let mel = Mel {
        n_mels: 256,
        frames: 256,
        data: (0..65536)
            .map(|i| ((i % 256) as f32 / 128.0) - 1.0)
            .collect(),
    };
    let latent = model.encode(&mel).unwrap();
    assert_eq!(latent.len(), 4 * 32 * 32);
    // Channel 0 is the 8×8 average: along frames it follows the ramp's block means.
    let expected = (0..8).map(|k| (k as f32 / 128.0) - 1.0).sum::<f32>() / 8.0;
    assert!(
        (latent[0] - expected).abs() < 1e-5,
        "{} vs {expected}",
        latent[0]
    );
    assert!(
        (latent[1024] - 0.5 * latent[0]).abs() < 1e-5,
        "channel 1 is scaled by 0.5"
    );
    let back = model.decode(&latent).unwrap();
    assert_eq!((back.n_mels, back.frames), (256, 256));
    assert!((back.data[0] - latent[0]).abs() < 1e-6);
    let noise = model
        .denoiser()
        .predict(&latent, &vec![0.1; 64], 1)
        .unwrap();
    assert!((noise[5] - 0.5 * latent[5]).abs() < 1e-6);
}

#[test]
fn asking_for_cuda_without_it_warns_and_uses_cpu() {
    let info = refrain_engine::runtime::init().unwrap_or_else(|e| panic!("{e}"));
    if info.providers.iter().any(|p| p == "CUDAExecutionProvider") {
        println!(
            "skipped: the loaded ONNX Runtime has CUDA; this test checks the CPU-only fallback"
        );
        return;
    }
    let options = ModelOptions {
        provider: Provider::Cuda,
        ..cpu()
    };
    let model = Model::load(&tiny::dir(), options).unwrap();
    assert_eq!(model.provider(), "cpu");
    assert!(
        model
            .warnings()
            .iter()
            .any(|w| w.contains("CUDA") && w.contains("CPU")),
        "{:?}",
        model.warnings()
    );
    let auto = Model::load(
        &tiny::dir(),
        ModelOptions {
            provider: Provider::Auto,
            ..cpu()
        },
    )
    .unwrap();
    assert!(
        auto.warnings().is_empty(),
        "auto falls back quietly: {:?}",
        auto.warnings()
    );
}

#[test]
fn a_graph_with_the_wrong_io_is_refused_naming_file_and_field() {
    let encoder = std::fs::read(tiny::dir().join("encoder.onnx")).unwrap();
    let dir = with_replaced("unet.onnx", &encoder);
    let err = Model::load(dir.path(), cpu()).err().expect("must refuse");
    let text = err.to_string();
    assert!(matches!(err, ModelError::Io { .. }), "{text}");
    assert!(
        text.contains("unet.onnx") && text.contains("inputs"),
        "{text}"
    );
}

#[test]
fn corrupt_or_missing_files_are_refused_naming_them() {
    let dir = with_replaced("decoder.onnx", b"not an onnx file at all");
    let text = refusal(dir.path());
    assert!(text.contains("decoder.onnx"), "{text}");

    let dir = with_replaced(
        "encoder.onnx",
        &std::fs::read(tiny::dir().join("encoder.onnx")).unwrap(),
    );
    std::fs::write(dir.path().join("encoder.onnx"), b"tampered after hashing").unwrap();
    let text = refusal(dir.path());
    assert!(text.contains("encoder.onnx"), "{text}");

    std::fs::remove_file(dir.path().join("encoder.onnx")).unwrap();
    let text = refusal(dir.path());
    assert!(text.contains("encoder.onnx"), "{text}");

    let text = refusal(Path::new("/nonexistent/model"));
    assert!(text.contains("/nonexistent/model"), "{text}");
}

#[test]
fn wrong_shapes_are_refused_not_run() {
    let mut model = Model::load(&tiny::dir(), cpu()).unwrap();
    let small = Mel {
        n_mels: 128,
        frames: 256,
        data: vec![0.0; 128 * 256],
    };
    assert!(matches!(model.encode(&small), Err(ModelError::Io { .. })));
    assert!(matches!(
        model.decode(&[0.0; 10]),
        Err(ModelError::Io { .. })
    ));
    assert!("tpu".parse::<Provider>().is_err());
}
