//! Where corpus audio comes from: files of installed Debian packages, with their licenses.
use super::CorpusError;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Audio files of one source and the license they are distributed under.
#[derive(Debug, Clone)]
pub struct AudioSource {
    /// A short name (the Debian package).
    pub name: String,
    /// License names from the package's copyright file (DEP-5 `License:` fields).
    pub licenses: Vec<String>,
    /// The copyright file the licenses were read from.
    pub copyright: PathBuf,
    /// The audio files, sorted for determinism.
    pub files: Vec<PathBuf>,
}

const AUDIO_EXTENSIONS: &[&str] = &["ogg", "oga", "flac", "wav", "mp3"];

/// Lists an installed package's audio files (`dpkg -L`) and reads its license names.
pub fn package_source(package: &str) -> Result<AudioSource, CorpusError> {
    let err = |reason: String| CorpusError::Package {
        package: package.to_string(),
        reason,
    };
    let out = Command::new("dpkg")
        .args(["-L", package])
        .output()
        .map_err(|e| err(format!("cannot run dpkg: {e}")))?;
    if !out.status.success() {
        return Err(err(format!(
            "not installed ({}); `cargo xtask corpus` installs it with apt-get",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let mut files: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(PathBuf::from)
        .filter(|p| is_audio(p) && p.is_file())
        .collect();
    files.sort();
    files.dedup();
    if files.is_empty() {
        return Err(err("lists no audio files".into()));
    }
    let copyright = PathBuf::from(format!("/usr/share/doc/{package}/copyright"));
    let text = std::fs::read_to_string(&copyright).map_err(|source| CorpusError::Io {
        path: copyright.clone(),
        source,
    })?;
    Ok(AudioSource {
        name: package.to_string(),
        licenses: license_names(&text),
        copyright,
        files,
    })
}

fn is_audio(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// The distinct `License:` short names of a DEP-5 copyright file, in order of appearance, plus
/// licenses referenced as `/usr/share/common-licenses/NAME` (free-form files). A file naming
/// neither yields `["see copyright file"]`, so the manifest never invents a license.
pub fn license_names(copyright: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for line in copyright.lines() {
        if let Some(rest) = line.strip_prefix("License:") {
            let name = rest.trim().to_string();
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    // Older, free-form copyright files name their licenses by pointing at common-licenses.
    const COMMON: &str = "/usr/share/common-licenses/";
    for (at, _) in copyright.match_indices(COMMON) {
        let rest = &copyright[at + COMMON.len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
            .collect();
        let name = name.trim_end_matches('.').to_string();
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    if names.is_empty() {
        names.push("see copyright file".into());
    }
    names
}
