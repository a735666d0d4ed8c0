//! The `refrain` command line: vary writes clips with sidecars; bad input is a message and a
//! non-zero exit, never a panic.
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn refrain(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_refrain"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("runs")
}

#[test]
fn vary_writes_one_wav_and_sidecar_per_variation() {
    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().to_str().unwrap();
    let result = refrain(&[
        "vary",
        "examples/loop.wav",
        "--model",
        "tests/fixtures/tiny_model",
        "--steps",
        "4",
        "--count",
        "3",
        "--seed",
        "11",
        "--provider",
        "cpu",
        "--out",
        out_arg,
    ]);
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        result.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    for seed in [11, 12, 13] {
        let wav = out.path().join(format!("clip-{seed}.wav"));
        let decoded = refrain_engine::audio::decode_file(&wav).unwrap();
        assert_eq!(
            decoded.sample_rate, 44_100,
            "clips come back at the song's rate"
        );
        let sidecar: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(wav.with_extension("json")).unwrap())
                .unwrap();
        assert_eq!(sidecar["params"]["seed"], seed);
        assert_eq!(sidecar["params"]["songs"][0]["name"], "loop.wav");
    }
    assert!(
        stdout.contains("unet"),
        "prints the stage breakdown: {stdout}"
    );
}

#[test]
fn bad_input_exits_with_a_message() {
    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().to_str().unwrap();
    let missing_model = refrain(&[
        "vary",
        "examples/loop.wav",
        "--model",
        "/nonexistent/m",
        "--out",
        out_arg,
    ]);
    assert!(!missing_model.status.success());
    assert!(String::from_utf8_lossy(&missing_model.stderr).contains("/nonexistent/m"));

    let missing_song = refrain(&[
        "vary",
        "no-such-song.flac",
        "--model",
        "tests/fixtures/tiny_model",
        "--out",
        out_arg,
    ]);
    assert!(!missing_song.status.success());
    assert!(String::from_utf8_lossy(&missing_song.stderr).contains("no-such-song.flac"));

    let weights = refrain(&[
        "vary",
        "examples/loop.wav",
        "--weights",
        "1,2",
        "--model",
        "tests/fixtures/tiny_model",
        "--out",
        out_arg,
    ]);
    assert!(!weights.status.success());
    assert!(String::from_utf8_lossy(&weights.stderr).contains("weights"));
    for output in [missing_model, missing_song, weights] {
        assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
    }
}

#[test]
fn roundtrip_through_a_model_reports_the_autoencoder_error() {
    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().to_str().unwrap();
    let args = [
        "roundtrip",
        "examples/loop.wav",
        "--model",
        "tests/fixtures/tiny_model",
        "--iters",
        "4",
        "--out",
        out_arg,
    ];
    let result = refrain(&args);
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        result.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(stdout.contains("autoencoder: mel L1"), "{stdout}");
    for name in ["original.wav", "roundtrip.wav"] {
        let decoded = refrain_engine::audio::decode_file(&out.path().join(name)).unwrap();
        assert_eq!(decoded.sample_rate, 44_100);
    }
}
