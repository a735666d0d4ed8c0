//! `cargo xtask corpus`: install the freely licensed Debian music packages and build the
//! pretraining corpus cache with `refrain-trainer corpus`.
use crate::workspace;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;

/// Debian packages of freely licensed game music (licenses are read from their copyright files).
/// warzone2100-music (Opus) and nexuiz-music (OGG inside a .pk3 archive) are left out: symphonia
/// has no Opus decoder and we do not unpack game archives.
pub const PACKAGES: &[&str] = &["wesnoth-1.16-music", "hyperrogue-music"];

/// Where the corpus cache lives: `$REFRAIN_CORPUS`, else `~/.cache/refrain/corpus`.
pub fn corpus_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("REFRAIN_CORPUS") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache/refrain/corpus")
}

/// Installs those of `packages` that are not installed yet, with apt-get.
pub fn install_packages(packages: &[&str]) -> Result<()> {
    let missing: Vec<&str> = packages.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("installing {}", missing.join(" "));
    let status = Command::new("apt-get")
        .args(["install", "-y", "-qq"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("running apt-get (install the packages yourself if you are not root)")?;
    if !status.success() {
        bail!(
            "apt-get install {} failed; run `apt-get update` first or install them by hand",
            missing.join(" ")
        );
    }
    Ok(())
}

fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

/// Entry point: `cargo xtask corpus [--synth N]`.
pub fn run(args: &[String]) -> Result<()> {
    let synth = match args {
        [] => "300".to_string(),
        [flag, n] if flag == "--synth" => n.clone(),
        _ => bail!("usage: cargo xtask corpus [--synth N]"),
    };
    install_packages(PACKAGES)?;
    let out = corpus_dir();
    let manifest_copy = workspace::root().join("models/corpus-manifest.json");
    let mut command = Command::new(workspace::cargo());
    command
        .current_dir(workspace::root())
        .args([
            "run",
            "--release",
            "-q",
            "-p",
            "refrain-trainer",
            "--",
            "corpus",
            "--synth",
            &synth,
        ])
        .arg("--out")
        .arg(&out)
        .arg("--manifest-copy")
        .arg(&manifest_copy);
    for package in PACKAGES {
        command.args(["--package", package]);
    }
    let status = command.status().context("running refrain-trainer corpus")?;
    if !status.success() {
        bail!("refrain-trainer corpus failed ({status})");
    }
    Ok(())
}
