//! engine::manifest: round trip, every kind of corruption named, and RFC 3339 timestamps.
use refrain_engine::manifest::{
    rfc3339_utc, BetaSchedule, LatentConfig, Manifest, ManifestError, Prediction, ScheduleConfig,
    UnetConfig, FORMAT_VERSION, MANIFEST_FILE,
};
use refrain_engine::spectrogram::AudioConfig;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

fn sample_manifest() -> Manifest {
    Manifest {
        format_version: FORMAT_VERSION,
        name: "refrain-test".into(),
        version: 0,
        parent: None,
        created: "2026-11-01T12:00:00Z".into(),
        audio: AudioConfig::default(),
        latent: LatentConfig {
            channels: 4,
            height: 32,
            width: 32,
            scale: 0.5,
        },
        schedule: ScheduleConfig {
            beta_schedule: BetaSchedule::ScaledLinear,
            ..ScheduleConfig::default()
        },
        unet: UnetConfig { embedding_dim: 64 },
        files: BTreeMap::new(),
        batch_sizes: None,
        vocoder: None,
        training: Some(serde_json::json!({"steps": 10, "final_loss": 0.25})),
    }
}

/// A valid version directory with three small stand-in ONNX files and their hashes.
fn version_dir() -> (tempfile::TempDir, Manifest) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut m = sample_manifest();
    for (i, name) in ["encoder.onnx", "decoder.onnx", "unet.onnx"]
        .iter()
        .enumerate()
    {
        std::fs::write(dir.path().join(name), vec![i as u8 + 1; 1000 + i]).expect("write");
    }
    m.hash_files(dir.path(), &["encoder.onnx", "decoder.onnx", "unet.onnx"])
        .expect("hash");
    m.write(dir.path()).expect("write manifest");
    (dir, m)
}

/// Rewrites the manifest JSON with `edit` applied, bypassing `Manifest::write`'s validation.
fn edit_json(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join(MANIFEST_FILE);
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    edit(&mut v);
    std::fs::write(&path, serde_json::to_string_pretty(&v).expect("ser")).expect("write");
}

/// Loads, expects an error, and checks that its message names the manifest and the field.
fn load_err(dir: &Path, field: &str) -> ManifestError {
    let err = Manifest::load(dir).expect_err("load should fail");
    let msg = err.to_string();
    assert!(msg.contains(MANIFEST_FILE), "message names the file: {msg}");
    assert!(msg.contains(field), "message names `{field}`: {msg}");
    err
}

#[test]
fn round_trip() {
    let (dir, m) = version_dir();
    let loaded = Manifest::load(dir.path()).expect("load");
    assert_eq!(loaded, m);
    assert_eq!(loaded.files.len(), 3);
    let text = std::fs::read_to_string(dir.path().join(MANIFEST_FILE)).expect("read");
    assert!(
        text.contains("\"beta_schedule\": \"scaled_linear\""),
        "{text}"
    );
    assert!(text.contains("\"prediction\": \"epsilon\""));
    assert!(!text.contains("batch_sizes"), "None is omitted");
}

#[test]
fn round_trip_with_batch_sizes_and_parent() {
    let (dir, mut m) = version_dir();
    m.version = 3;
    m.parent = Some(2);
    m.batch_sizes = Some(vec![1, 4]);
    m.write(dir.path()).expect("write");
    let loaded = Manifest::load(dir.path()).expect("load");
    assert_eq!(loaded, m);
    assert!(loaded.supports_batch(4) && loaded.supports_batch(1) && !loaded.supports_batch(2));
    m.batch_sizes = None;
    assert!(m.supports_batch(7));
}

#[test]
fn missing_file_is_named() {
    let (dir, _) = version_dir();
    std::fs::remove_file(dir.path().join("unet.onnx")).expect("rm");
    let err = load_err(dir.path(), "files.unet.onnx");
    assert!(matches!(err, ManifestError::MissingFile { .. }), "{err:?}");
    assert_eq!(err.field(), Some("unet.onnx"));
}

#[test]
fn wrong_sha_is_named() {
    let (dir, _) = version_dir();
    std::fs::write(dir.path().join("decoder.onnx"), b"tampered").expect("write");
    let err = load_err(dir.path(), "files.decoder.onnx");
    assert!(matches!(err, ManifestError::ShaMismatch { .. }), "{err:?}");
}

#[test]
fn bad_json_is_named() {
    let (dir, _) = version_dir();
    std::fs::write(dir.path().join(MANIFEST_FILE), "{ \"format_version\": 1,").expect("write");
    let err = load_err(dir.path(), "line");
    assert!(matches!(err, ManifestError::Json { .. }), "{err:?}");
}

#[test]
fn wrong_format_version_is_named() {
    let (dir, _) = version_dir();
    edit_json(dir.path(), |v| v["format_version"] = 2.into());
    let err = load_err(dir.path(), "format_version");
    assert!(err.to_string().contains("got 2"), "{err}");
}

#[test]
fn invalid_audio_field_is_named() {
    let (dir, _) = version_dir();
    edit_json(dir.path(), |v| v["audio"]["n_fft"] = 7.into());
    load_err(dir.path(), "audio.n_fft");
    edit_json(dir.path(), |v| {
        v["audio"]["n_fft"] = 2048.into();
        v["audio"]["fmax"] = 30_000.0.into();
    });
    load_err(dir.path(), "audio.fmin/fmax");
}

#[test]
fn wrong_types_name_their_field() {
    let (dir, _) = version_dir();
    edit_json(dir.path(), |v| {
        v["schedule"]["beta_schedule"] = "cosine".into()
    });
    let err = load_err(dir.path(), "schedule");
    assert!(err.to_string().contains("cosine"), "{err}");
    edit_json(dir.path(), |v| {
        v["schedule"]["beta_schedule"] = "linear".into();
        v["latent"]["channels"] = "four".into();
    });
    load_err(dir.path(), "latent");
    edit_json(dir.path(), |v| {
        v["latent"]["channels"] = 4.into();
        v.as_object_mut().expect("obj").remove("unet");
    });
    load_err(dir.path(), "unet");
}

/// A change to the manifest JSON that makes one field invalid.
type Edit = dyn Fn(&mut serde_json::Value);

#[test]
fn value_errors_name_their_field() {
    let cases: Vec<(&str, Box<Edit>)> = vec![
        (
            "latent.height",
            Box::new(|v| v["latent"]["height"] = 0.into()),
        ),
        (
            "latent.scale",
            Box::new(|v| v["latent"]["scale"] = (-1.0).into()),
        ),
        (
            "schedule.num_train_timesteps",
            Box::new(|v| v["schedule"]["num_train_timesteps"] = 1.into()),
        ),
        (
            "schedule.beta_end",
            Box::new(|v| v["schedule"]["beta_end"] = 1e-5.into()),
        ),
        (
            "unet.embedding_dim",
            Box::new(|v| v["unet"]["embedding_dim"] = 0.into()),
        ),
        ("created", Box::new(|v| v["created"] = "yesterday".into())),
        ("name", Box::new(|v| v["name"] = "  ".into())),
        ("parent", Box::new(|v| v["parent"] = 0.into())),
        (
            "batch_sizes",
            Box::new(|v| v["batch_sizes"] = serde_json::json!([])),
        ),
        (
            "files",
            Box::new(|v| {
                v["files"]
                    .as_object_mut()
                    .expect("obj")
                    .remove("encoder.onnx");
            }),
        ),
        ("files", Box::new(|v| v["files"] = serde_json::json!({}))),
        (
            "files.../secret",
            Box::new(|v| v["files"]["../secret"] = "0".repeat(64).into()),
        ),
        (
            "files.unet.onnx",
            Box::new(|v| v["files"]["unet.onnx"] = "abc".into()),
        ),
        ("extra", Box::new(|v| v["extra"] = true.into())),
    ];
    for (field, edit) in cases {
        let (dir, _) = version_dir();
        edit_json(dir.path(), edit);
        let err = load_err(dir.path(), field);
        assert!(
            matches!(err, ManifestError::Invalid { .. }),
            "{field}: {err:?}"
        );
    }
}

#[test]
fn write_refuses_an_invalid_manifest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = sample_manifest(); // no files listed
    let err = m.write(dir.path()).expect_err("must refuse");
    assert_eq!(err.field(), Some("files"));
    assert!(!dir.path().join(MANIFEST_FILE).exists());
}

/// The sample manifest created at `created`, with stand-in hashes so only `created` can fail.
fn created_at(created: &str) -> Manifest {
    let mut m = sample_manifest();
    m.created = created.into();
    for (name, digit) in [
        ("encoder.onnx", "a"),
        ("decoder.onnx", "b"),
        ("unet.onnx", "c"),
    ] {
        m.files.insert(name.into(), digit.repeat(64));
    }
    m
}

#[test]
fn created_accepts_rfc3339_variants() {
    for created in [
        "2026-11-01T12:00:00Z",
        "2026-11-01T12:00:00.123456+02:00",
        "2026-02-28t23:59:60-11:30",
    ] {
        created_at(created)
            .validate(Path::new("manifest.json"))
            .expect(created);
    }
    for bad in [
        "2026-13-01T00:00:00Z",
        "2026-11-01T12:00:00",
        "2026-11-01T12:00Z",
        "2026-11-01T12:00:00+2:00",
        "2026-11-01T12:00:00+é:00",
    ] {
        let err = created_at(bad)
            .validate(Path::new("manifest.json"))
            .expect_err(bad);
        assert_eq!(err.field(), Some("created"), "{bad}");
    }
}

#[test]
fn rfc3339_utc_formats() {
    assert_eq!(rfc3339_utc(UNIX_EPOCH), "1970-01-01T00:00:00Z");
    let t = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    assert_eq!(rfc3339_utc(t), "2001-09-09T01:46:40Z");
    let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
    assert_eq!(rfc3339_utc(leap), "2000-02-29T00:00:00Z");
}

#[test]
fn prediction_and_schedule_defaults_follow_diffusers() {
    let s = ScheduleConfig::default();
    assert_eq!(s.num_train_timesteps, 1000);
    assert_eq!(s.beta_schedule, BetaSchedule::Linear);
    assert_eq!(s.prediction, Prediction::Epsilon);
}
