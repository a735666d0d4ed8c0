//! The built `refrain-trainer` binary's version and session commands against a temporary
//! `REFRAIN_HOME`: status with nothing there, versions and rollback between copies of the tiny
//! model, refusal of a corrupted version, and idempotent session ingest.
use refrain_engine::feedback::{
    now_ms, FeedbackStore, NewGeneration, NewRating, NewSong, SongAudio, DB_FILE,
};
use refrain_engine::locator::{self, CURRENT_POINTER};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "support/fixture_versions.rs"]
mod fixture_versions;
use fixture_versions::make_version;

/// The binary with `REFRAIN_HOME` = `home` and the shipped base = `base`, isolated from the
/// user's own environment.
fn trainer(home: &Path, base: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_refrain-trainer"))
        .args(args)
        .env("REFRAIN_HOME", home)
        .env("REFRAIN_BASE_MODEL", base)
        .env_remove("XDG_DATA_HOME")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    eprintln!(
        "$ refrain-trainer {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "command failed");
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    assert!(!out.status.success(), "command should have failed");
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn pointer(home: &Path) -> Option<String> {
    fs::read_to_string(home.join("models").join(CURRENT_POINTER)).ok()
}

/// The `versions` table row of version `v` (rows start with `v<N>` and a space).
fn row(table: &str, v: u32) -> String {
    let prefix = format!("v{v} ");
    table
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no row for v{v} in\n{table}"))
        .to_string()
}

/// A shipped base and versions v1..=n (each made from the one before) under `home/models`.
fn setup(n: u32) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let base = tmp.path().join("base");
    make_version(&base, 0, None);
    for v in 1..=n {
        make_version(&home.join("models").join(format!("v{v}")), v, Some(v - 1));
    }
    (tmp, home, base)
}

#[test]
fn status_on_an_empty_data_dir_says_what_is_missing_and_creates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("not-yet");
    let base = tmp.path().join("base");
    make_version(&base, 0, None);
    let text = stdout(&trainer(&home, &base, &["status"]));
    assert!(text.contains("not created yet"), "{text}");
    assert!(text.contains("current model: v0 (shipped base"), "{text}");
    assert!(text.contains("feedback store: none yet"), "{text}");
    assert!(text.contains("commands: status,"), "{text}");
    assert!(text.contains("rollback"), "{text}");
    assert!(!text.contains("not built yet"), "{text}");
    assert!(!home.exists(), "status must not create the data dir");

    // No shipped base either: still a report, not a failure.
    let text = stdout(&trainer(&home, &tmp.path().join("nowhere"), &["status"]));
    assert!(text.contains("current model: none"), "{text}");
}

#[test]
fn versions_and_rollback_between_two_versions() {
    let (_tmp, home, base) = setup(2);
    locator::publish_current(&home, "v2").unwrap();

    let table = stdout(&trainer(&home, &base, &["versions"]));
    assert!(row(&table, 0).contains("base"), "{table}");
    assert!(row(&table, 1).contains(" v0 "), "{table}");
    assert!(row(&table, 2).contains(" v1 "), "{table}");
    for v in 0..=2 {
        assert!(row(&table, v).contains(" ok "), "{table}");
    }
    assert!(row(&table, 2).contains('*') && !row(&table, 1).contains('*'));
    let status = stdout(&trainer(&home, &base, &["status"]));
    // The path as the platform spells it (`models\v2` on Windows).
    let current = format!(
        "current model: v2 ({}",
        Path::new("models").join("v2").display()
    );
    assert!(status.contains(&current), "{status}");
    assert!(status.contains("next fine-tune: v3"), "{status}");

    stdout(&trainer(&home, &base, &["rollback", "1"]));
    assert_eq!(pointer(&home).as_deref(), Some("v1\n"));
    let table = stdout(&trainer(&home, &base, &["versions"]));
    assert!(row(&table, 1).contains('*') && !row(&table, 2).contains('*'));

    // Back to the shipped base: the pointer goes, and the engine falls back to the base.
    let text = stdout(&trainer(&home, &base, &["rollback", "v0"]));
    assert!(text.contains("current model: v0"), "{text}");
    assert_eq!(pointer(&home), None);
    assert_eq!(locator::current_version_dir(&home, &base), base);
    let status = stdout(&trainer(&home, &base, &["status"]));
    assert!(
        status.contains("current model: v0 (shipped base"),
        "{status}"
    );

    stdout(&trainer(&home, &base, &["rollback", "2"]));
    assert_eq!(pointer(&home).as_deref(), Some("v2\n"));

    let err = stderr(&trainer(&home, &base, &["rollback", "7"]));
    assert!(err.contains("model version 7 does not exist"), "{err}");
    assert_eq!(pointer(&home).as_deref(), Some("v2\n"));
}

#[test]
fn rollback_refuses_a_corrupted_version_and_leaves_current_alone() {
    let (_tmp, home, base) = setup(2);
    locator::publish_current(&home, "v1").unwrap();
    let unet = home.join("models/v2/unet.onnx");
    let mut bytes = fs::read(&unet).unwrap();
    bytes[20] ^= 0x01;
    fs::write(&unet, bytes).unwrap();

    let err = stderr(&trainer(&home, &base, &["rollback", "2"]));
    assert!(err.contains("field `files.unet.onnx`"), "{err}");
    assert!(err.contains("sha256"), "{err}");
    assert!(err.contains("nothing changed"), "{err}");
    assert_eq!(pointer(&home).as_deref(), Some("v1\n"));

    let table = stdout(&trainer(&home, &base, &["versions"]));
    assert!(row(&table, 2).contains("FAILED"), "{table}");
    assert!(row(&table, 1).contains('*'), "{table}");
    assert!(table.contains("unet.onnx"), "{table}");
}

/// A store with two songs, two clips and three ratings; version 1 registered before the last
/// two ratings.
fn fill_store(dir: &Path) {
    let mut store = FeedbackStore::open(dir).unwrap();
    let song = |seed: f32| NewSong {
        source: format!("capture {seed}"),
        sample_rate: 22_050,
        duration_s: 0.01,
        wav: SongAudio::Samples((0..220).map(|i| (i as f32 * seed).sin() * 0.5).collect()),
        latent: (0..16).map(|i| i as f32 * seed - 1.0).collect(),
    };
    let s1 = store.add_song(song(0.1)).unwrap();
    let s2 = store.add_song(song(0.2)).unwrap();
    let clip = |songs: Vec<_>, seed: u64| NewGeneration {
        weights: vec![1.0; songs.len()],
        song_ids: songs,
        seed,
        strength: 0.5,
        steps: 10,
        eta: 0.0,
        detail: 0.0,
        model_version: 1,
        is_baseline: false,
        audio: (0..441).map(|i| (i as f32 * 0.01).cos() * 0.25).collect(),
        sample_rate: 22_050,
        latent: (0..16).map(|i| (i as f32 + seed as f32) * 0.125).collect(),
        request: None,
    };
    let c1 = store.add_generation(clip(vec![s1], 1)).unwrap();
    let c2 = store.add_generation(clip(vec![s1, s2], 2)).unwrap();
    let mut old = NewRating::new(c1, true, Some(4), 5000, 5940, "alice");
    old.rated_at_ms = Some(1_000);
    store.add_rating(&old).unwrap();
    store
        .add_model_version(1, Some(0), &serde_json::json!({"ratings_used": 1}))
        .unwrap();
    for (clip, accepted) in [(c1, true), (c2, false)] {
        let mut r = NewRating::new(clip, accepted, None, 3000, 5940, "alice");
        r.rated_at_ms = Some(now_ms() + 60_000);
        store.add_rating(&r).unwrap();
    }
}

#[test]
fn export_then_ingest_twice_adds_once() {
    let (tmp, laptop, base) = setup(1);
    locator::publish_current(&laptop, "v1").unwrap();
    fill_store(&laptop);
    let status = stdout(&trainer(&laptop, &base, &["status"]));
    assert!(status.contains("ratings: 3 total, 2 since v1"), "{status}");
    assert!(status.contains("versions registered: 1 (v1)"), "{status}");
    let table = stdout(&trainer(&laptop, &base, &["versions"]));
    assert!(row(&table, 1).contains(r#"{"ratings_used":1}"#), "{table}");

    let archive = tmp.path().join("session.refrain");
    let out = trainer(
        &laptop,
        &base,
        &[
            "export-session",
            "--since",
            "all",
            "--out",
            archive.to_str().unwrap(),
        ],
    );
    assert!(stdout(&out).contains("exported 3 ratings, 2 clips, 2 songs"));
    // A date after the old rating leaves it out.
    let recent = tmp.path().join("recent.refrain");
    let out = trainer(
        &laptop,
        &base,
        &[
            "export-session",
            "--since",
            "1970-01-02T00:00:00Z",
            "--out",
            recent.to_str().unwrap(),
        ],
    );
    assert!(stdout(&out).contains("exported 2 ratings"));

    let trainer_home = tmp.path().join("trainer-home");
    let ingest = |file: &Path| {
        let args = [
            "ingest",
            file.to_str().unwrap(),
            "--data-dir",
            trainer_home.to_str().unwrap(),
        ];
        stdout(&trainer(&tmp.path().join("unused"), &base, &args))
    };
    let first = ingest(&archive);
    assert!(
        first.contains("added: 3 ratings, 2 clips, 2 songs"),
        "{first}"
    );
    let second = ingest(&archive);
    assert!(
        second.contains("added: 0 ratings, 0 clips, 0 songs; skipped 3"),
        "{second}"
    );
    assert!(second.contains("nothing new"), "{second}");
    let third = ingest(&recent);
    assert!(third.contains("skipped 2"), "{third}");
    let store = FeedbackStore::open(&trainer_home).unwrap();
    assert_eq!(store.rating_count().unwrap(), 3);
    assert_eq!(store.generations().unwrap().len(), 2);
    assert_eq!(store.songs().unwrap().len(), 2);
    assert!(trainer_home.join(DB_FILE).is_file());
}

#[test]
fn session_commands_refuse_missing_inputs() {
    let (tmp, home, base) = setup(0);
    let err = stderr(&trainer(
        &home,
        &base,
        &["export-session", "--since", "all", "--out", "x.refrain"],
    ));
    assert!(err.contains("no feedback store"), "{err}");
    let err = stderr(&trainer(
        &home,
        &base,
        &["export-session", "--since", "last tuesday", "--out", "x"],
    ));
    assert!(err.contains("RFC 3339"), "{err}");
    let missing = tmp.path().join("missing.refrain");
    let err = stderr(&trainer(
        &home,
        &base,
        &["ingest", missing.to_str().unwrap()],
    ));
    assert!(err.contains("no session archive"), "{err}");
    assert!(!home.exists(), "a refused ingest must not create a store");
}

#[test]
fn an_imported_version_is_listed_and_made_current_by_name() {
    let (_tmp, home, base) = setup(1);
    make_version(&home.join("models").join("my-import"), 0, None);
    let table = stdout(&trainer(&home, &base, &["versions"]));
    let line = table
        .lines()
        .find(|l| l.starts_with("my-import"))
        .unwrap_or_else(|| panic!("no row for the import in\n{table}"));
    assert!(line.contains("ok") && line.contains("import of"), "{line}");
    let text = stdout(&trainer(&home, &base, &["rollback", "my-import"]));
    assert!(text.contains("current model"), "{text}");
    assert_eq!(pointer(&home).as_deref().map(str::trim), Some("my-import"));
    let table = stdout(&trainer(&home, &base, &["versions"]));
    let line = table.lines().find(|l| l.starts_with("my-import")).unwrap();
    assert!(line.contains('*'), "marked current: {line}");
    let err = stderr(&trainer(&home, &base, &["rollback", "not-installed"]));
    assert!(
        err.contains("not-installed") && err.contains("nothing changed"),
        "{err}"
    );
    assert_eq!(pointer(&home).as_deref().map(str::trim), Some("my-import"));
    stdout(&trainer(&home, &base, &["rollback", "v1"]));
    assert_eq!(pointer(&home).as_deref().map(str::trim), Some("v1"));
}
