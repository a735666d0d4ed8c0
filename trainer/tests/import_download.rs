//! `import::download` against a local server in the hub's URL layout serving the committed
//! fixture repo `tests/fixtures/diffusers/latent-tiny` (weights as `.bin`, no safetensors).
//! Endpoint, cache and token go through the options, never the process-wide environment, so
//! the cases run in parallel.
#[path = "support/hub_server.rs"]
mod hub_server;

use hub_server::{Faults, HubServer, COMMIT};
use refrain_engine::manifest::sha256_file;
use refrain_trainer::import::download::{fetch_repo, DownloadError, DownloadOptions};
use std::path::{Path, PathBuf};

const REPO: &str = "refrain-test/latent-tiny";
const UNET_BIN: &str = "unet/diffusion_pytorch_model.bin";
const VQVAE_BIN: &str = "vqvae/diffusion_pytorch_model.bin";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/diffusers/latent-tiny")
}

fn server(faults: Faults) -> HubServer {
    HubServer::start(REPO, &fixture(), faults)
}

fn options(server: &HubServer, cache: &Path) -> DownloadOptions {
    DownloadOptions {
        endpoint: Some(server.endpoint.clone()),
        cache_dir: Some(cache.to_path_buf()),
        // A token is always given so one in the environment (HF_TOKEN) never leaks into a case.
        token: Some("hf_test".into()),
        ..DownloadOptions::new(REPO)
    }
}

fn repo_dir(cache: &Path) -> PathBuf {
    cache.join("models--refrain-test--latent-tiny")
}

fn snapshot_file(cache: &Path, file: &str) -> PathBuf {
    repo_dir(cache).join("snapshots").join(COMMIT).join(file)
}

/// Full downloads (not the one-byte metadata probes) of `file` the server saw.
fn downloads<'a>(server: &'a HubServer, file: &'a str) -> Vec<Option<String>> {
    let seen = server.seen().into_iter().filter(|s| s.file == file);
    seen.filter(|s| s.range.as_deref() != Some("bytes=0-0"))
        .map(|s| s.range)
        .collect()
}

#[test]
fn downloads_the_pipeline_into_the_hub_cache() {
    let hub = server(Faults::default());
    let cache = tempfile::tempdir().unwrap();
    let opts = DownloadOptions {
        progress: true,
        ..options(&hub, cache.path())
    };
    let snapshot = fetch_repo(&opts).unwrap();

    assert_eq!(snapshot.commit.as_deref(), Some(COMMIT));
    assert_eq!(
        snapshot.dir,
        repo_dir(cache.path()).join("snapshots").join(COMMIT)
    );
    let expected = [
        "model_index.json",
        "unet/config.json",
        UNET_BIN,
        "vqvae/config.json",
        VQVAE_BIN,
        "mel/mel_config.json",
        "scheduler/scheduler_config.json",
    ];
    assert_eq!(snapshot.files, expected);
    for file in expected {
        let got = std::fs::read(snapshot.dir.join(file)).unwrap();
        assert_eq!(got, std::fs::read(fixture().join(file)).unwrap(), "{file}");
    }
    // The weights are blobs named by their sha256, linked from the snapshot (on Windows the
    // entry may instead be the moved blob or a hard link to it: it holds the same bytes).
    for file in [UNET_BIN, VQVAE_BIN] {
        let entry = snapshot.dir.join(file);
        assert_eq!(sha256_file(&entry).unwrap(), hub.sha256(file));
        if cfg!(unix) {
            let blob = repo_dir(cache.path()).join("blobs").join(hub.sha256(file));
            assert_eq!(sha256_file(&blob).unwrap(), hub.sha256(file));
            let link = std::fs::read_link(&entry).unwrap();
            assert!(
                link.ends_with(Path::new("blobs").join(hub.sha256(file))),
                "{link:?}"
            );
        }
    }
    let main = std::fs::read_to_string(repo_dir(cache.path()).join("refs/main")).unwrap();
    assert_eq!(main.trim(), COMMIT);
    // safetensors was asked for first; its 404 made the .bin the weights, and no README is fine.
    let seen: Vec<String> = hub.seen().into_iter().map(|s| s.file).collect();
    let safetensors = seen
        .iter()
        .position(|f| f == "unet/diffusion_pytorch_model.safetensors");
    let bin = seen.iter().position(|f| f == UNET_BIN);
    assert!(safetensors.unwrap() < bin.unwrap(), "{seen:?}");
    assert!(seen.iter().any(|f| f == "README.md"));

    // A second run finds everything complete in the cache and downloads nothing.
    let before = hub.seen().len();
    let again = fetch_repo(&options(&hub, cache.path())).unwrap();
    assert_eq!(again.files, snapshot.files);
    let later = &hub.seen()[before..];
    assert!(
        later
            .iter()
            .all(|s| s.range.as_deref() == Some("bytes=0-0")),
        "{later:?}"
    );
}

#[test]
fn a_cut_download_resumes_with_a_range_request() {
    let hub = server(Faults {
        cut_once: Some(UNET_BIN.into()),
        ..Faults::default()
    });
    let cache = tempfile::tempdir().unwrap();
    let total = std::fs::metadata(fixture().join(UNET_BIN)).unwrap().len();

    let err = fetch_repo(&options(&hub, cache.path())).unwrap_err();
    let DownloadError::Interrupted {
        at,
        received,
        expected,
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!((at.file.as_str(), *expected), (UNET_BIN, total));
    assert_eq!(*received, total / 2);
    let message = err.to_string();
    assert!(
        message.contains(UNET_BIN) && message.contains("run the import again"),
        "{message}"
    );
    assert!(!snapshot_file(cache.path(), UNET_BIN).exists());

    let snapshot = fetch_repo(&options(&hub, cache.path())).unwrap();
    let ranges = downloads(&hub, UNET_BIN);
    assert_eq!(
        ranges,
        [
            Some("bytes=0-".into()),
            Some(format!("bytes={}-", total / 2))
        ]
    );
    let file = snapshot.dir.join(UNET_BIN);
    assert_eq!(
        std::fs::read(file).unwrap(),
        std::fs::read(fixture().join(UNET_BIN)).unwrap()
    );
}

#[test]
fn a_gated_repo_asks_for_hf_token() {
    for status in [401, 403] {
        let hub = server(Faults {
            status: Some(status),
            ..Faults::default()
        });
        let cache = tempfile::tempdir().unwrap();
        let err = fetch_repo(&options(&hub, cache.path())).unwrap_err();
        assert!(
            matches!(err, DownloadError::Gated { status: s, .. } if s == status),
            "{err}"
        );
        let message = err.to_string();
        assert!(
            message.contains("HF_TOKEN") && message.contains(REPO),
            "{message}"
        );
        assert!(message.contains("gated or private"), "{message}");
    }
}

#[test]
fn a_missing_repo_or_revision_is_named() {
    let hub = server(Faults::default());
    let cache = tempfile::tempdir().unwrap();
    let missing = DownloadOptions {
        repo_id: "refrain-test/nope".into(),
        ..options(&hub, cache.path())
    };
    let err = fetch_repo(&missing).unwrap_err();
    assert!(matches!(err, DownloadError::NoSuchRepo { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("no such repo or revision") && message.contains("refrain-test/nope"));

    let revision = DownloadOptions {
        revision: Some("v9".into()),
        ..options(&hub, cache.path())
    };
    let message = fetch_repo(&revision).unwrap_err().to_string();
    assert!(
        message.contains("no such repo or revision") && message.contains("v9"),
        "{message}"
    );
}

#[test]
fn a_missing_required_file_is_named() {
    let file = "scheduler/scheduler_config.json";
    let hub = server(Faults {
        hide: Some(file.into()),
        ..Faults::default()
    });
    let cache = tempfile::tempdir().unwrap();
    let err = fetch_repo(&options(&hub, cache.path())).unwrap_err();
    assert!(matches!(err, DownloadError::MissingFile { .. }), "{err}");
    assert!(err.to_string().contains(file), "{err}");

    // Neither weight format: both names appear.
    hub.set_faults(Faults {
        hide: Some(VQVAE_BIN.into()),
        ..Faults::default()
    });
    let message = fetch_repo(&options(&hub, cache.path()))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("vqvae/diffusion_pytorch_model.safetensors (or"),
        "{message}"
    );
}

#[test]
fn a_repo_without_a_unet_is_not_a_pipeline() {
    let index =
        br#"{"_class_name": "StableDiffusionPipeline", "vae": ["diffusers", "AutoencoderKL"]}"#;
    let replace = Some(("model_index.json".to_string(), index.to_vec()));
    let hub = server(Faults {
        replace,
        ..Faults::default()
    });
    let cache = tempfile::tempdir().unwrap();
    let err = fetch_repo(&options(&hub, cache.path())).unwrap_err();
    assert!(matches!(err, DownloadError::NotAPipeline { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("not a diffusers audio-diffusion pipeline") && message.contains("unet")
    );
}

#[test]
fn a_truncated_weight_file_leaves_nothing_complete_looking() {
    let hub = server(Faults {
        truncate: Some(VQVAE_BIN.into()),
        ..Faults::default()
    });
    let cache = tempfile::tempdir().unwrap();
    let err = fetch_repo(&options(&hub, cache.path())).unwrap_err();
    assert!(matches!(err, DownloadError::Interrupted { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(VQVAE_BIN) && message.contains("run the import again"),
        "{message}"
    );
    assert!(!snapshot_file(cache.path(), VQVAE_BIN).exists());
    assert!(!repo_dir(cache.path())
        .join("blobs")
        .join(hub.sha256(VQVAE_BIN))
        .exists());
}

#[test]
fn a_corrupt_weight_file_is_removed_and_refetched_next_run() {
    let hub = server(Faults {
        corrupt: Some(UNET_BIN.into()),
        ..Faults::default()
    });
    let cache = tempfile::tempdir().unwrap();
    let err = fetch_repo(&options(&hub, cache.path())).unwrap_err();
    assert!(matches!(err, DownloadError::Corrupt { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(UNET_BIN) && message.contains("run the import again"),
        "{message}"
    );
    let blob = repo_dir(cache.path())
        .join("blobs")
        .join(hub.sha256(UNET_BIN));
    assert!(!blob.exists());
    let pointer = snapshot_file(cache.path(), UNET_BIN);
    assert!(
        pointer.symlink_metadata().is_err(),
        "the snapshot link is gone too"
    );

    hub.set_faults(Faults::default());
    let snapshot = fetch_repo(&options(&hub, cache.path())).unwrap();
    assert_eq!(
        sha256_file(&snapshot.dir.join(UNET_BIN)).unwrap(),
        hub.sha256(UNET_BIN)
    );
}

#[test]
fn a_short_but_well_formed_response_is_a_size_mismatch() {
    let hub = server(Faults {
        short: Some(VQVAE_BIN.into()),
        ..Faults::default()
    });
    let cache = tempfile::tempdir().unwrap();
    let err = fetch_repo(&options(&hub, cache.path())).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, DownloadError::Corrupt { .. }), "{message}");
    assert!(
        message.contains(VQVAE_BIN) && message.contains("where the hub announced"),
        "{message}"
    );
    assert!(!snapshot_file(cache.path(), VQVAE_BIN).exists());
    assert!(!repo_dir(cache.path())
        .join("blobs")
        .join(hub.sha256(VQVAE_BIN))
        .exists());
}

#[test]
fn the_token_is_sent_as_a_bearer_token() {
    let hub = server(Faults::default());
    let cache = tempfile::tempdir().unwrap();
    let opts = DownloadOptions {
        token: Some("hf_secret".into()),
        ..options(&hub, cache.path())
    };
    fetch_repo(&opts).unwrap();
    let seen = hub.seen();
    assert!(!seen.is_empty());
    for s in seen {
        assert_eq!(
            s.authorization.as_deref(),
            Some("Bearer hf_secret"),
            "{s:?}"
        );
    }
}

#[test]
fn an_unreachable_endpoint_is_named() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let cache = tempfile::tempdir().unwrap();
    let opts = DownloadOptions {
        endpoint: Some(endpoint.clone()),
        cache_dir: Some(cache.path().to_path_buf()),
        token: Some("hf_test".into()),
        ..DownloadOptions::new(REPO)
    };
    let err = fetch_repo(&opts).unwrap_err();
    assert!(matches!(err, DownloadError::Network { .. }), "{err}");
    assert!(err.to_string().contains(&endpoint), "{err}");
}

#[test]
fn bad_options_are_refused_before_any_request() {
    let cache = tempfile::tempdir().unwrap();
    let base = DownloadOptions {
        endpoint: Some("http://127.0.0.1:1".into()),
        cache_dir: Some(cache.path().to_path_buf()),
        ..DownloadOptions::new(REPO)
    };
    let cases = [
        DownloadOptions {
            repo_id: "../etc".into(),
            ..base.clone()
        },
        DownloadOptions {
            repo_id: "a/b/c".into(),
            ..base.clone()
        },
        DownloadOptions {
            revision: Some("../../x".into()),
            ..base.clone()
        },
        DownloadOptions {
            endpoint: Some("ftp://hub".into()),
            ..base.clone()
        },
    ];
    for opts in cases {
        let err = fetch_repo(&opts).unwrap_err();
        assert!(matches!(err, DownloadError::Invalid(_)), "{opts:?}: {err}");
    }
}

/// `HF_ENDPOINT`, `HF_HOME` and `HF_TOKEN` are read from the environment when the options leave
/// them out. Variables are process-wide and the other cases run in parallel threads, so the
/// download runs in a child process: this test binary, running only [`env_child`].
#[test]
fn the_environment_names_endpoint_cache_and_token() {
    let hub = server(Faults::default());
    let home = tempfile::tempdir().unwrap();
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "env_child", "--ignored"])
        .env("HF_ENDPOINT", &hub.endpoint)
        .env("HF_HOME", home.path())
        .env("HF_TOKEN", "hf_from_env")
        .env_remove("HF_HUB_CACHE")
        .output()
        .unwrap();
    let output = String::from_utf8_lossy(&child.stdout) + String::from_utf8_lossy(&child.stderr);
    assert!(
        child.status.success() && output.contains("1 passed"),
        "{output}"
    );
    let main = repo_dir(&home.path().join("hub")).join("refs/main");
    assert_eq!(std::fs::read_to_string(main).unwrap().trim(), COMMIT);
    let seen = hub.seen();
    assert!(!seen.is_empty());
    for s in seen {
        assert_eq!(
            s.authorization.as_deref(),
            Some("Bearer hf_from_env"),
            "{s:?}"
        );
    }
}

#[test]
#[ignore = "the child process of the_environment_names_endpoint_cache_and_token"]
fn env_child() {
    // Run by hand without the parent's variables it would reach for the real hub: do nothing.
    if std::env::var_os("HF_ENDPOINT").is_none() {
        println!("skipped: HF_ENDPOINT is not set; this runs as the child of the_environment_names_endpoint_cache_and_token");
        return;
    }
    fetch_repo(&DownloadOptions::new(REPO)).unwrap();
}
