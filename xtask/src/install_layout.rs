//! Where `cargo xtask install` puts Refrain on Linux, and the copying itself (std + anyhow
//! only: the host tests include this file with `#[path]`, so the test and the installer share
//! one layout without xtask linking anything of ours).
//!
//! ```text
//! ~/.clap/Refrain/Refrain.clap                  CLAP hosts scan ~/.clap recursively
//! ~/.clap/Refrain/libonnxruntime*.so            where the engine's runtime finder looks first
//! ~/.clap/Refrain/models/{base,vocoder}/        found by the model locator beside the library
//! ~/.vst3/Refrain.vst3/Contents/x86_64-linux/   Refrain.so + ONNX Runtime (the bundler's layout)
//! ~/.vst3/Refrain.vst3/Contents/Resources/models/{base,vocoder}/
//! ```
//!
//! Each is written under a temporary name beside its destination and renamed over it, so a
//! host scanning during an install sees the old plugin or the new one, never half of one.
use anyhow::{bail, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};

/// The CLAP install folder under `~/.clap`.
pub const CLAP_FOLDER: &str = "Refrain";
/// The VST3 bundle under `~/.vst3`.
pub const VST3_BUNDLE: &str = "Refrain.vst3";
/// The plugin file inside the CLAP folder.
pub const CLAP_FILE: &str = "Refrain.clap";

/// What an install copies.
pub struct Payload<'a> {
    /// The built `Refrain.clap` (on Linux the plugin's shared library).
    pub clap: &'a Path,
    /// The built `Refrain.vst3` bundle folder, when there is one.
    pub vst3: Option<&'a Path>,
    /// ONNX Runtime files to put beside the CLAP (the VST3 bundle already carries them).
    pub runtime: &'a [PathBuf],
    /// Model folders by the name they get under `models/` (`base`, `vocoder`).
    pub models: &'a [(&'a str, PathBuf)],
    /// Hard-link files where the file system allows instead of copying (tests: no 270 MB
    /// debug copies); an install for a producer copies.
    pub link: bool,
}

/// Where an install put things.
#[derive(Debug)]
pub struct Installed {
    /// The installed `Refrain.clap`.
    pub clap: PathBuf,
    /// The installed VST3 bundle.
    pub vst3: Option<PathBuf>,
}

/// `<home>/.clap/Refrain`.
pub fn clap_dir(home: &Path) -> PathBuf {
    home.join(".clap").join(CLAP_FOLDER)
}

/// `<home>/.vst3/Refrain.vst3`.
pub fn vst3_dir(home: &Path) -> PathBuf {
    home.join(".vst3").join(VST3_BUNDLE)
}

/// Installs `payload` under `home`, replacing an earlier install.
pub fn install(payload: &Payload<'_>, home: &Path) -> Result<Installed> {
    install_into(payload, &home.join(".clap"), &home.join(".vst3"))
}

/// Installs `payload` into the folders hosts scan for CLAP and VST3 plugins (`~/.clap` and
/// `~/.vst3` on Linux; `Common Files\CLAP` and `Common Files\VST3` on Windows).
pub fn install_into(
    payload: &Payload<'_>,
    clap_root: &Path,
    vst3_root: &Path,
) -> Result<Installed> {
    if !payload.clap.is_file() {
        bail!("{} is not a built plugin", payload.clap.display());
    }
    for (name, dir) in payload.models {
        if !dir.join("manifest.json").is_file() && !dir.join("vocoder.json").is_file() {
            bail!("{} holds no model ({name})", dir.display());
        }
    }
    let clap = clap_root.join(CLAP_FOLDER);
    replace(&clap, |staging| {
        put(payload.clap, &staging.join(CLAP_FILE), payload.link)?;
        for file in payload.runtime {
            let name = file.file_name().context("a runtime file without a name")?;
            put(file, &staging.join(name), payload.link)?;
        }
        put_models(payload, &staging.join("models"))
    })?;
    let vst3 = match payload.vst3 {
        Some(bundle) => {
            let dest = vst3_root.join(VST3_BUNDLE);
            replace(&dest, |staging| {
                copy_tree(bundle, staging, payload.link)?;
                put_models(payload, &staging.join("Contents/Resources/models"))
            })?;
            Some(dest)
        }
        None => None,
    };
    Ok(Installed {
        clap: clap.join(CLAP_FILE),
        vst3,
    })
}

/// Removes what [`install`] put under `home` (never the data dir: ratings and fine-tuned
/// versions stay). Returns what was removed.
pub fn uninstall(home: &Path) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for dir in [clap_dir(home), vst3_dir(home)] {
        if dir.exists() {
            fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
            removed.push(dir);
        }
    }
    Ok(removed)
}

fn put_models(payload: &Payload<'_>, models: &Path) -> Result<()> {
    for (name, dir) in payload.models {
        copy_tree(dir, &models.join(name), payload.link)?;
    }
    Ok(())
}

/// Fills a staging folder beside `dest` with `fill`, then renames it over `dest`.
fn replace(dest: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let parent = dest
        .parent()
        .context("an install folder without a parent")?;
    let name = dest
        .file_name()
        .context("an install folder without a name")?;
    fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let staging = parent.join(format!(".{}.installing", name.to_string_lossy()));
    if staging.exists() {
        fs::remove_dir_all(&staging).with_context(|| format!("removing {}", staging.display()))?;
    }
    fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
    if let Err(e) = fill(&staging) {
        let _ = fs::remove_dir_all(&staging);
        return Err(e);
    }
    // A directory cannot be renamed over a non-empty one: the old install goes first, aside.
    let old = parent.join(format!(".{}.old", name.to_string_lossy()));
    if dest.exists() {
        if old.exists() {
            fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))?;
        }
        fs::rename(dest, &old).with_context(|| format!("moving {} aside", dest.display()))?;
    }
    fs::rename(&staging, dest).with_context(|| format!("installing {}", dest.display()))?;
    if old.exists() {
        fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))?;
    }
    Ok(())
}

/// Copies (or hard-links) a folder tree.
pub fn copy_tree(from: &Path, to: &Path, link: bool) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let path = entry?.path();
        let dest = to.join(path.file_name().context("an entry without a name")?);
        if path.is_dir() {
            copy_tree(&path, &dest, link)?;
        } else {
            put(&path, &dest, link)?;
        }
    }
    Ok(())
}

/// Copies (or hard-links) the file `from` resolves to: a symlinked library arrives as the file.
fn put(from: &Path, to: &Path, link: bool) -> Result<()> {
    let real = fs::canonicalize(from).with_context(|| format!("resolving {}", from.display()))?;
    if link && fs::hard_link(&real, to).is_ok() {
        return Ok(());
    }
    fs::copy(&real, to)
        .map(|_| ())
        .with_context(|| format!("copying {} to {}", real.display(), to.display()))
}
