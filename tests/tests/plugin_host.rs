//! Refrain.clap in a clack-host test host and Refrain.vst3 in a VST3 test host (the `vst3`
//! crate's bindings), at 48 kHz, with the tiny test model.
//!
//! The .clap and the .vst3 are the plugin cdylib this `cargo test` run built, put into the
//! layouts `cargo xtask bundle` produces (plugin file + ONNX Runtime next to it; see
//! `refrain_tests::bundle` for why the bundler itself is not run here). The host gets no
//! `REFRAIN_ORT_DYLIB`, and the test checks that the ONNX Runtime the plugin loaded is the
//! bundle's copy, so a bundle without it fails here.
//!
//! The plugin's documented test hook (`REFRAIN_TEST_HOOK=1`, see plugin/src/controller/test_hook.rs)
//! arms a 1 s capture, generates one clip, previews it and Accepts it with 5 stars after 0.25 s
//! of real playback. The host runs in a subprocess: the debug plugin is built with nice-plug's
//! `assert_process_allocs`, which aborts the process on any allocation inside `process()`, so
//! exit status 0 also proves the audio path stayed allocation-free through capture, generation
//! and preview.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use refrain_engine::feedback::{FeedbackStore, Since};
use refrain_tests::{bundle, target_dir, vst3_host, workspace_root};

/// The plugin formats the test host loads.
#[derive(Clone, Copy)]
enum Format {
    Clap,
    Vst3,
}

/// A bundle of its own for each test (in cargo's per-target temp dir, removed with the guard),
/// so concurrent runs never load a half-written one: the temp dir, the path to give the host,
/// and the folder that holds the plugin binary (where ONNX Runtime must be found).
fn assembled_bundle(format: Format) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let started = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("refrain-bundle-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let plugin = bundle::built_plugin().unwrap_or_else(|e| panic!("{e:#}"));
    let runtime = bundle::runtime_dir(&target_dir()).unwrap_or_else(|e| panic!("{e:#}"));
    let (path, binary_dir) = match format {
        Format::Clap => (
            bundle::assemble(&plugin, &runtime, dir.path()).unwrap(),
            dir.path().into(),
        ),
        Format::Vst3 => {
            let vst3 = bundle::assemble_vst3(&plugin, &runtime, dir.path()).unwrap();
            let binary = vst3_host::bundle_binary(&vst3).unwrap();
            (vst3, binary.parent().unwrap().to_path_buf())
        }
    };
    eprintln!(
        "assembled {} from {} in {:.3} s",
        path.display(),
        plugin.display(),
        started.elapsed().as_secs_f64()
    );
    (dir, path, binary_dir)
}

fn host(clap: &Path, home: &Path, timeout_s: u32, extra_env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_refrain-plugin-host"));
    cmd.arg(clap)
        .arg(home)
        .arg(timeout_s.to_string())
        .env("REFRAIN_HOME", home)
        .env(
            "REFRAIN_MODEL_DIR",
            workspace_root().join("tests/fixtures/tiny_model"),
        )
        .env("REFRAIN_TEST_HOOK", "1")
        // The plugin must find ONNX Runtime in its bundle, as it does in a DAW.
        .env_remove(refrain_engine::runtime::ENV_VAR);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.output().expect("starting refrain-plugin-host")
}

fn describe(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn bundled_clap_captures_generates_previews_and_stores_a_rating_without_allocating_in_process() {
    full_cycle(Format::Clap);
}

#[test]
fn bundled_vst3_captures_generates_previews_and_stores_a_rating_without_allocating_in_process() {
    full_cycle(Format::Vst3);
}

/// Capture → generate → preview → rate through `format`'s host, checked in the report and the
/// store.
fn full_cycle(format: Format) {
    let (_bundle, plugin, binary_dir) = assembled_bundle(format);
    let home = tempfile::tempdir().unwrap();
    let out = host(&plugin, home.path(), 240, &[]);
    assert!(
        out.status.success(),
        "host run failed (134/SIGABRT = an allocation in process()):\n{}",
        describe(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{}", stdout.trim());
    let text = |name: &str| -> String {
        stdout
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no {name} in report:\n{stdout}"))
    };
    let field = |name: &str| -> u64 {
        text(name)
            .parse()
            .unwrap_or_else(|e| panic!("{name}: {e} in report:\n{stdout}"))
    };
    let binary_dir = std::fs::canonicalize(binary_dir).unwrap();
    assert_eq!(
        Path::new(&text("ort")).parent(),
        Some(binary_dir.as_path()),
        "ONNX Runtime must come from the bundle, next to the plugin binary"
    );
    assert!(
        field("untouched") > 0,
        "audio must pass through untouched before a preview"
    );
    assert!(
        field("mixed") > 0,
        "the preview must be heard in the output"
    );

    let store = FeedbackStore::open(home.path()).unwrap();
    assert_eq!(
        store.songs().unwrap().len(),
        1,
        "the capture is stored as a song"
    );
    let generations = store.generations().unwrap();
    assert_eq!(generations.len(), 1);
    assert!(generations[0].wav_path.is_file());
    assert_eq!(generations[0].sample_rate, 48_000);
    assert!(
        generations[0].request.is_some(),
        "a clip is stored under its Generate's request (the DPO objective pairs by it)"
    );
    let ratings = store.ratings_since(Since::All).unwrap();
    assert_eq!(ratings.len(), 1);
    let r = &ratings[0];
    assert!(r.accepted);
    assert_eq!(r.stars, Some(5));
    assert!(
        r.listen_ms >= 250,
        "listening time comes from playback: {r:?}"
    );
    // The host plays at 120 BPM in 4/4 and Clip length defaults to 4 bars: exactly 8 s.
    assert_eq!(r.clip_ms, 8000, "the clip fits the host's tempo: {r:?}");
    let capture = home.path().join("captures");
    assert_eq!(std::fs::read_dir(capture).unwrap().count(), 1);
}

#[test]
fn an_allocation_in_process_aborts_the_debug_clap() {
    allocation_aborts(Format::Clap);
}

#[test]
fn an_allocation_in_process_aborts_the_debug_vst3() {
    allocation_aborts(Format::Vst3);
}

/// The negative control: proves the check above is armed in the bundle under test.
fn allocation_aborts(format: Format) {
    let (_bundle, plugin, _) = assembled_bundle(format);
    let home = tempfile::tempdir().unwrap();
    let out = host(
        &plugin,
        home.path(),
        20,
        &[("REFRAIN_TEST_ALLOC_IN_PROCESS", "1")],
    );
    use std::os::unix::process::ExitStatusExt;
    assert!(
        out.status.signal() == Some(6) || out.status.code() == Some(134),
        "expected an abort:\n{}",
        describe(&out)
    );
}
