//! The published-size configuration of `cargo xtask bench generate`: a model with the configs
//! of teticio/latent-audio-diffusion-256 (UNet 113.7 M, VAE 83.6 M parameters) and random
//! weights, built once by `scripts/make_published_latent_repo.py` in the bench venv and imported
//! with `refrain-trainer import`, cached in `~/.cache/refrain/bench-models/latent-256/`:
//!
//! ```text
//! repo/                     the diffusers repo (754 MB of .bin weights): the reference pipeline
//! data/models/latent-256/   Refrain's import of it (812 MB of ONNX): the model under test
//! marker.json               written last: what was built; another config means rebuild
//! ```
//!
//! Nothing here is committed: the weights are random, they only have the published sizes.
use super::run_step_env;
use crate::workspace;
use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The version name inside the cache's data dir.
const NAME: &str = "latent-256";
/// The script that writes the repo; its hash is part of the marker, so editing it rebuilds.
const SCRIPT: &str = "scripts/make_published_latent_repo.py";
/// Bump when the cache's layout or the import's output changes in a way the script hash misses.
const FORMAT: u64 = 1;

/// A ready published-size model: the diffusers repo and Refrain's import of it.
pub struct Published {
    pub repo: PathBuf,
    pub model: PathBuf,
}

/// `~/.cache/refrain/bench-models/latent-256`.
pub fn cache_dir() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache/refrain/bench-models").join(NAME)
}

/// What `marker.json` must say for the cache to be reused.
fn expected_marker() -> Result<serde_json::Value> {
    let script = workspace::root().join(SCRIPT);
    let bytes = std::fs::read(&script).with_context(|| format!("reading {}", script.display()))?;
    let hash: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(serde_json::json!({
        "format": FORMAT,
        "model": "teticio/latent-audio-diffusion-256 configs, random weights",
        "name": NAME,
        "script_sha256": hash,
    }))
}

/// The cached model when its marker matches and its files are there; otherwise builds it (the
/// repo with `python`, then `refrain-trainer import`), replacing whatever the cache held.
pub fn ensure(python: &Path, ort_dir: &Path, rebuild: bool) -> Result<Published> {
    let dir = cache_dir();
    let published = Published {
        repo: dir.join("repo"),
        model: dir.join("data/models").join(NAME),
    };
    let marker = dir.join("marker.json");
    let expected = expected_marker()?;
    let found: Option<serde_json::Value> = std::fs::read(&marker)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let complete = published.repo.join("model_index.json").is_file()
        && published.model.join("manifest.json").is_file();
    if !rebuild && complete && found.as_ref() == Some(&expected) {
        println!(
            "\n==> published-size model: reusing {} (marker matches)",
            dir.display()
        );
        return Ok(published);
    }
    let why = if rebuild {
        "--rebuild"
    } else if found.is_none() {
        "not built yet"
    } else if found.as_ref() != Some(&expected) {
        "its marker names another config"
    } else {
        "files missing"
    };
    println!(
        "\n==> published-size model: building {} ({why}; ~1.6 GB on disk, ~1 min, 1.9 GB of memory for the import)",
        dir.display()
    );
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let script = workspace::root().join(SCRIPT);
    println!(
        "\n==> random-weight diffusers repo: {} {} {}",
        python.display(),
        script.display(),
        published.repo.display()
    );
    let status = Command::new(python)
        .arg(&script)
        .arg(&published.repo)
        .current_dir(workspace::root())
        .status()
        .with_context(|| format!("starting {}", python.display()))?;
    if !status.success() {
        bail!("{SCRIPT} failed ({status})");
    }
    let (repo, data) = (
        path_str(&published.repo)?.to_string(),
        path_str(&dir.join("data"))?.to_string(),
    );
    run_step_env(
        "import into Refrain",
        &workspace::cargo(),
        &[
            "run",
            "--release",
            "-q",
            "-p",
            "refrain-trainer",
            "--",
            "import",
            &repo,
            "--name",
            NAME,
            "--data-dir",
            &data,
        ],
        ort_dir,
        &[],
    )?;
    if !published.model.join("manifest.json").is_file() {
        bail!(
            "the import left no manifest at {}",
            published.model.display()
        );
    }
    let text = serde_json::to_string_pretty(&expected)?;
    std::fs::write(&marker, text).with_context(|| format!("writing {}", marker.display()))?;
    Ok(published)
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str()
        .with_context(|| format!("path {} is not valid UTF-8", path.display()))
}
