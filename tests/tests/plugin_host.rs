//! The bundled Refrain.clap in a clack-host test host, at 48 kHz, with the tiny test model.
//!
//! The plugin's documented test hook (`REFRAIN_TEST_HOOK=1`, see plugin/src/controller/hook.rs)
//! arms a 1 s capture, generates one clip, previews it and Accepts it with 5 stars after 0.25 s
//! of real playback. The host runs in a subprocess: the debug plugin is built with nice-plug's
//! `assert_process_allocs`, which aborts the process on any allocation inside `process()`, so
//! exit status 0 also proves the audio path stayed allocation-free through capture, generation
//! and preview.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use refrain_engine::feedback::{FeedbackStore, Since};
use refrain_tests::{clap_host, target_dir, workspace_root};

/// Bundles once for both tests (two concurrent bundle runs would race on target/bundled).
fn bundle() -> PathBuf {
    static BUNDLE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUNDLE
        .get_or_init(|| {
            clap_host::bundled_clap(&workspace_root(), &target_dir()).map_err(|e| format!("{e:#}"))
        })
        .clone()
        .unwrap_or_else(|e| panic!("the CLAP bundle is required for this test: {e}"))
}

fn host(clap: &Path, home: &Path, timeout_s: u32, extra_env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_refrain-clap-host"));
    cmd.arg(clap)
        .arg(home)
        .arg(timeout_s.to_string())
        .env("REFRAIN_HOME", home)
        .env(
            "REFRAIN_MODEL_DIR",
            workspace_root().join("tests/fixtures/tiny_model"),
        )
        .env("REFRAIN_TEST_HOOK", "1");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.output().expect("starting refrain-clap-host")
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
    let clap = bundle();
    let home = tempfile::tempdir().unwrap();
    let out = host(&clap, home.path(), 240, &[]);
    assert!(
        out.status.success(),
        "host run failed (134/SIGABRT = an allocation in process()):\n{}",
        describe(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| -> u64 {
        stdout
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in report:\n{stdout}"))
    };
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
    let ratings = store.ratings_since(Since::All).unwrap();
    assert_eq!(ratings.len(), 1);
    let r = &ratings[0];
    assert!(r.accepted);
    assert_eq!(r.stars, Some(5));
    assert!(
        r.listen_ms >= 250,
        "listening time comes from playback: {r:?}"
    );
    assert!(r.clip_ms > 0);
    let capture = home.path().join("captures");
    assert_eq!(std::fs::read_dir(capture).unwrap().count(), 1);
}

#[test]
fn an_allocation_in_process_aborts_the_debug_plugin() {
    // The negative control: proves the check above is armed in the bundle under test.
    let clap = bundle();
    let home = tempfile::tempdir().unwrap();
    let out = host(
        &clap,
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
