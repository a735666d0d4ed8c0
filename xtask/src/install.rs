//! `cargo xtask install [--debug]` and `cargo xtask uninstall`: the plugin into `~/.clap` and
//! `~/.vst3` with ONNX Runtime and the shipped models inside, so a fresh machine needs no other
//! step (the layout: `install_layout.rs`).
use crate::install_layout::{self, Payload};
use crate::ort::Platform;
use crate::{bundle, workspace};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

fn home() -> Result<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .context("HOME is not set: nowhere to install to")
}

/// Builds the bundles (release unless `--debug`) and installs them for the current user.
pub fn install(args: &[String]) -> Result<()> {
    let release = match args {
        [] => true,
        [flag] if flag == "--debug" => false,
        _ => bail!("usage: cargo xtask install [--debug]"),
    };
    let mut bundle_args = vec!["refrain-plugin".to_string()];
    if release {
        bundle_args.push("--release".into());
    }
    bundle::run(&bundle_args)?;
    let bundled = workspace::target_dir()?.join("bundled");
    let home = home()?;
    let installed = distribute(&bundled, Platform::Linux, |payload| {
        install_layout::install(payload, &home)
    })?;
    println!("\ninstalled {}", installed.clap.display());
    if let Some(vst3) = installed.vst3 {
        println!("installed {}", vst3.display());
    }
    println!("with ONNX Runtime and models/{{base,vocoder}} inside; rescan plugins in your host.");
    println!("Ratings, captures and fine-tuned versions go to the data dir on first use (REFRAIN_HOME, else ~/.local/share/refrain).");
    Ok(())
}

/// Hands `place` the bundles `cargo xtask bundle` left in `bundled` for `platform`, with
/// ONNX Runtime beside the CLAP and the shipped models (`models/base`, `models/vocoder`).
pub(crate) fn distribute(
    bundled: &Path,
    platform: Platform,
    place: impl FnOnce(&Payload<'_>) -> Result<install_layout::Installed>,
) -> Result<install_layout::Installed> {
    let root = workspace::root();
    let runtime: Vec<PathBuf> = bundle::runtime_files(platform)
        .iter()
        .map(|name| bundled.join(name))
        .collect();
    let mut models = vec![("base", root.join("models/base"))];
    let vocoder = root.join("models/vocoder");
    if vocoder.is_dir() {
        models.push(("vocoder", vocoder));
    }
    let clap = bundled.join(install_layout::CLAP_FILE);
    let vst3 = bundled.join(install_layout::VST3_BUNDLE);
    let payload = Payload {
        clap: &clap,
        vst3: vst3.is_dir().then_some(vst3.as_path()),
        runtime: &runtime,
        models: &models,
        link: false,
    };
    place(&payload)
}

/// Removes the installed bundles (the data dir stays).
pub fn uninstall(args: &[String]) -> Result<()> {
    if !args.is_empty() {
        bail!("usage: cargo xtask uninstall");
    }
    let removed = install_layout::uninstall(&home()?)?;
    if removed.is_empty() {
        println!("nothing installed under ~/.clap/Refrain or ~/.vst3/Refrain.vst3");
    }
    for path in removed {
        println!("removed {}", path.display());
    }
    println!("the data dir (ratings, captures, fine-tuned versions) is left as it is");
    Ok(())
}
