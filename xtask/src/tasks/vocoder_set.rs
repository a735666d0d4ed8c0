//! The music `cargo xtask bench vocoder` renders: whole held-out files of the corpus packages
//! (the same files `refrain-trainer corpus` holds out: every 10th of each package's sorted audio
//! files, index 9, 19, …; `BuildOptions::heldout_every` in trainer/src/corpus/build.rs), all the
//! music of a Debian package that is not in the corpus, and the repository's synth loop.
//! Written as `family<TAB>path` lines for the engine's `vocoder` bench to read.
use crate::corpus::{install_packages, PACKAGES};
use crate::workspace;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The package outside the corpus: LinCity-NG's three songs (GPL-2+, per its copyright file):
/// blues, ambient and electronic pieces none of the models heard.
pub const EXTERNAL: &str = "lincity-ng-data";
/// Which of a package's sorted files are held out (see the module doc).
const HELDOUT_EVERY: usize = 10;
const AUDIO_EXTENSIONS: &[&str] = &["ogg", "oga", "flac", "wav", "mp3"];

/// Installs missing packages, lists the set, writes it to `out`; returns how many files.
pub fn write(out: &Path) -> Result<usize> {
    let mut packages: Vec<&str> = PACKAGES.to_vec();
    packages.push(EXTERNAL);
    install_packages(&packages)?;
    let mut lines = Vec::new();
    for package in PACKAGES {
        let files = package_files(package)?;
        for (n, file) in files.iter().enumerate() {
            if n % HELDOUT_EVERY == HELDOUT_EVERY - 1 {
                lines.push(format!("{package}\t{}", file.display()));
            }
        }
    }
    // Its songs only, not the game's sound effects.
    let songs = package_files(EXTERNAL)?
        .into_iter()
        .filter(|f| f.to_string_lossy().contains("/music/"));
    for file in songs {
        lines.push(format!(
            "{EXTERNAL} (not in the corpus)\t{}",
            file.display()
        ));
    }
    let synth = workspace::root().join("examples/loop.wav");
    lines.push(format!("synth (examples/loop.wav)\t{}", synth.display()));
    std::fs::write(out, lines.join("\n") + "\n")
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(lines.len())
}

/// The package's audio files (`dpkg -L`), sorted, as the corpus builder lists them.
fn package_files(package: &str) -> Result<Vec<PathBuf>> {
    let out = Command::new("dpkg").args(["-L", package]).output()?;
    if !out.status.success() {
        bail!("{package} is not installed");
    }
    let mut files: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(PathBuf::from)
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    files.sort();
    files.dedup();
    if files.is_empty() {
        bail!("{package} lists no audio files");
    }
    Ok(files)
}
