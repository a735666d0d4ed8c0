//! The `refrain` command line: vary writes clips with sidecars; bad input is a message and a
//! non-zero exit, never a panic.
use std::path::{Path, PathBuf};
use std::process::Command;

/// The tiny fixture model, relative to the repository root the CLI runs in.
const TINY: &str = "tests/fixtures/tiny_model";

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
        TINY,
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
        let decoded = refrain_engine::audio::read_file(&wav).unwrap();
        assert_eq!(
            decoded.sample_rate, 44_100,
            "clips come back at the song's rate"
        );
        // 24-bit PCM for DAWs (the fmt chunk's bits per sample, at byte 34).
        let bytes = std::fs::read(&wav).unwrap();
        assert_eq!(u16::from_le_bytes([bytes[34], bytes[35]]), 24);
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
fn vary_with_bars_writes_exactly_that_many_bars_that_loop() {
    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().to_str().unwrap();
    let args = [
        "vary",
        "examples/loop.wav",
        "--model",
        TINY,
        "--steps",
        "4",
        "--count",
        "1",
    ];
    let mut fitted = args.to_vec();
    fitted.extend([
        "--bars",
        "3",
        "--bpm",
        "90",
        "--beats-per-bar",
        "3",
        "--out",
        out_arg,
    ]);
    let result = refrain(&fitted);
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        result.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    // Three bars of 3/4 at 90 BPM: 6 s at the song's 44.1 kHz.
    let decoded = refrain_engine::audio::read_file(&out.path().join("clip-7.wav")).unwrap();
    assert_eq!(decoded.frames(), 6 * 44_100);
    assert!(stdout.contains("3 bars at 90 BPM"), "{stdout}");
    assert!(stdout.contains("≤ largest step inside"), "{stdout}");
    // --bars without --bpm is refused before anything runs.
    let mut half = args.to_vec();
    half.extend(["--bars", "3", "--out", out_arg]);
    let result = refrain(&half);
    assert!(!result.status.success());
    assert!(String::from_utf8_lossy(&result.stderr).contains("--bpm"));
}

#[test]
fn bad_input_exits_with_a_message() {
    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().to_str().unwrap();
    // (arguments before `--out`, what stderr must name)
    let cases: [(&[&str], &str); 4] = [
        (
            &["vary", "examples/loop.wav", "--model", "/nonexistent/m"],
            "/nonexistent/m",
        ),
        (
            &["vary", "no-such-song.flac", "--model", TINY],
            "no-such-song.flac",
        ),
        (
            &[
                "vary",
                "examples/loop.wav",
                "--weights",
                "1,2",
                "--model",
                TINY,
            ],
            "weights",
        ),
        (
            &["roundtrip", "examples/loop.wav", "--offset", "999"],
            "past its end",
        ),
    ];
    for (args, named) in cases {
        let output = refrain(&[args, &["--out", out_arg]].concat());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(named), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
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
        TINY,
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
        let decoded = refrain_engine::audio::read_file(&out.path().join(name)).unwrap();
        assert_eq!(decoded.sample_rate, 44_100);
    }
}

#[test]
fn a_version_installed_in_the_data_dir_is_found_by_name() {
    let home = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let installed = home.path().join("models").join("my-import");
    std::fs::create_dir_all(&installed).unwrap();
    for entry in std::fs::read_dir(repo().join(TINY)).unwrap().flatten() {
        std::fs::copy(entry.path(), installed.join(entry.file_name())).unwrap();
    }
    let run = |model: &str| {
        Command::new(env!("CARGO_BIN_EXE_refrain"))
            .args([
                "vary",
                "examples/loop.wav",
                "--model",
                model,
                "--steps",
                "2",
            ])
            .args(["--provider", "cpu", "--out", out.path().to_str().unwrap()])
            .env("REFRAIN_HOME", home.path())
            .current_dir(repo())
            .output()
            .expect("runs")
    };
    let found = run("my-import");
    let stdout = String::from_utf8_lossy(&found.stdout);
    assert!(
        found.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&found.stderr)
    );
    assert!(
        stdout.contains(&installed.display().to_string()) || stdout.contains("model:"),
        "{stdout}"
    );
    let missing = run("not-installed");
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success());
    assert!(
        stderr.contains("not-installed") && stderr.contains("models"),
        "{stderr}"
    );
}

#[test]
fn roundtrip_with_every_vocoder_writes_one_wav_each_and_names_an_unknown_one() {
    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().to_str().unwrap();
    let args = [
        "roundtrip",
        "examples/loop.wav",
        "--vocoder",
        "all",
        "--out",
        out_arg,
    ];
    // The shipped neural vocoder, whatever the environment names: "all" must include it.
    let result = Command::new(env!("CARGO_BIN_EXE_refrain"))
        .args(args)
        .current_dir(repo())
        .env("REFRAIN_VOCODER_DIR", repo().join("models/vocoder"))
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        result.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    for name in refrain_engine::vocoder::NAMES {
        assert!(stdout.contains(name), "{stdout}");
        let wav = out.path().join(format!("roundtrip-{name}.wav"));
        let decoded = refrain_engine::audio::read_file(&wav).unwrap();
        assert_eq!(decoded.sample_rate, 44_100, "{name}");
        assert!(decoded.peak() > 0.01, "{name} is not silent");
    }
    let bad = refrain(&[
        "roundtrip",
        "examples/loop.wav",
        "--vocoder",
        "wavenet",
        "--out",
        out_arg,
    ]);
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success());
    assert!(
        stderr.contains("unknown vocoder `wavenet`") && stderr.contains("pghi"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn vary_renders_with_the_chosen_vocoder_and_records_it() {
    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().to_str().unwrap();
    let base = [
        "vary",
        "examples/loop.wav",
        "--model",
        TINY,
        "--steps",
        "4",
        "--count",
        "1",
        "--seed",
        "5",
        "--provider",
        "cpu",
        "--out",
        out_arg,
    ];
    let run = |vocoder: &str| refrain(&[&base[..], &["--vocoder", vocoder]].concat());
    let result = run("pghi");
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let json = std::fs::read_to_string(out.path().join("clip-5.json")).unwrap();
    let sidecar: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(sidecar["vocoder"], "pghi");
    let bad = run("wavenet");
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && stderr.contains("unknown vocoder `wavenet`"),
        "{stderr}"
    );

    // The neural vocoder's files missing: the clip still renders, with Griffin-Lim, and both
    // the terminal and the sidecar say why.
    let missing = out.path().join("no-vocoder-here");
    let fallback = Command::new(env!("CARGO_BIN_EXE_refrain"))
        .args([&base[..], &["--vocoder", "neural"]].concat())
        .env("REFRAIN_VOCODER_DIR", &missing)
        .current_dir(repo())
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&fallback.stderr);
    assert!(fallback.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: vocoder `neural` unavailable") && stderr.contains("Griffin-Lim"),
        "{stderr}"
    );
    let json = std::fs::read_to_string(out.path().join("clip-5.json")).unwrap();
    let sidecar: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(sidecar["params"]["vocoder"], "griffin-lim");
    assert!(sidecar["params"]["vocoder_warning"]
        .as_str()
        .is_some_and(|w| w.contains("neural")));
}
