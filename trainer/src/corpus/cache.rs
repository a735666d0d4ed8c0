//! Reading and writing the cached corpus (quantised mels + index + manifest).
use super::CorpusError;
use refrain_engine::spectrogram::{AudioConfig, Mel};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Whether a window trains the model or measures it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Used for training.
    Train,
    /// Held out: whole source files never seen in training.
    Heldout,
}

/// Where one cached window came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WindowInfo {
    /// Source name (Debian package or `synth`).
    pub source: String,
    /// File path (or the synth spec) within the source.
    pub file: String,
    /// Start of the window in the file, in seconds.
    pub offset_s: f64,
    /// Train or held out.
    pub split: Split,
}

/// Per-source counts and licensing, as committed in the corpus manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceSummary {
    /// Source name (Debian package or `synth`).
    pub name: String,
    /// License names as stated by the source.
    pub licenses: Vec<String>,
    /// Where the licenses were read from.
    pub copyright: String,
    /// Audio files used.
    pub files: usize,
    /// Windows cached.
    pub windows: usize,
    /// Of which held out.
    pub heldout_windows: usize,
    /// Seconds of audio the windows cover.
    pub duration_s: f64,
}

/// The corpus manifest: what it holds and under which licenses.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CorpusManifest {
    /// Format of this manifest and the cache files.
    pub format_version: u32,
    /// The audio configuration the mels were computed with.
    pub audio: AudioConfig,
    /// Per-source summaries.
    pub sources: Vec<SourceSummary>,
    /// All windows.
    pub windows: usize,
    /// Held-out windows.
    pub heldout_windows: usize,
    /// Seconds of audio covered.
    pub duration_s: f64,
}

/// Maps a model-range value in [−1, 1] to a byte (audio-diffusion's 8-bit image scale).
pub fn quantize(x: f32) -> u8 {
    (((x.clamp(-1.0, 1.0) + 1.0) * 127.5) + 0.5) as u8
}

/// Maps a byte back to the model range.
pub fn dequantize(q: u8) -> f32 {
    q as f32 / 127.5 - 1.0
}

/// A corpus loaded into memory (about 64 KiB per window at the default config).
pub struct Corpus {
    /// The corpus directory.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: CorpusManifest,
    /// One entry per window.
    pub index: Vec<WindowInfo>,
    data: Vec<u8>,
}

impl Corpus {
    /// Reads a corpus directory written by [`super::build`], checking its parts agree.
    pub fn open(dir: &Path) -> Result<Self, CorpusError> {
        let manifest: CorpusManifest = read_json(&dir.join("manifest.json"))?;
        let index: Vec<WindowInfo> = read_json(&dir.join("index.json"))?;
        let path = dir.join("mels.u8");
        let data = std::fs::read(&path).map_err(|source| CorpusError::Io { path, source })?;
        let per = manifest.audio.n_mels * manifest.audio.frames;
        if index.len() != manifest.windows || data.len() != per * index.len() {
            return Err(CorpusError::Inconsistent {
                path: dir.to_path_buf(),
                reason: format!(
                    "manifest says {} windows, index has {}, mels.u8 holds {} bytes ({} per window)",
                    manifest.windows,
                    index.len(),
                    data.len(),
                    per
                ),
            });
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
            index,
            data,
        })
    }

    /// Number of windows.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when the corpus holds no window.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Indices of the windows in `split`.
    pub fn indices(&self, split: Split) -> Vec<usize> {
        (0..self.len())
            .filter(|&i| self.index[i].split == split)
            .collect()
    }

    /// Window `i` in the model range, mel-major (`n_mels × frames`), written into `out`.
    pub fn window_into(&self, i: usize, out: &mut [f32]) {
        let per = self.manifest.audio.n_mels * self.manifest.audio.frames;
        for (o, &q) in out.iter_mut().zip(&self.data[i * per..(i + 1) * per]) {
            *o = dequantize(q);
        }
    }

    /// Window `i` in the model range as a new vector.
    pub fn window(&self, i: usize) -> Vec<f32> {
        let mut out = vec![0.0; self.manifest.audio.n_mels * self.manifest.audio.frames];
        self.window_into(i, &mut out);
        out
    }
}

/// Writes windows to `mels.u8` as they come, then the index and manifest.
pub(super) struct CorpusWriter {
    dir: PathBuf,
    mels: std::io::BufWriter<std::fs::File>,
    pub(super) index: Vec<WindowInfo>,
}

impl CorpusWriter {
    pub(super) fn create(dir: &Path) -> Result<Self, CorpusError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CorpusError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path = dir.join("mels.u8");
        let file = std::fs::File::create(&path).map_err(io(&path))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            mels: std::io::BufWriter::new(file),
            index: Vec::new(),
        })
    }

    pub(super) fn push(&mut self, mel: &Mel, info: WindowInfo) -> Result<(), CorpusError> {
        let bytes: Vec<u8> = mel.data.iter().map(|&x| quantize(x)).collect();
        let path = self.dir.join("mels.u8");
        self.mels
            .write_all(&bytes)
            .map_err(|source| CorpusError::Io { path, source })?;
        self.index.push(info);
        Ok(())
    }

    pub(super) fn finish(mut self, manifest: &CorpusManifest) -> Result<(), CorpusError> {
        let path = self.dir.join("mels.u8");
        self.mels
            .flush()
            .map_err(|source| CorpusError::Io { path, source })?;
        write_json(&self.dir.join("index.json"), &self.index)?;
        write_json(&self.dir.join("manifest.json"), manifest)
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, CorpusError> {
    let text = std::fs::read_to_string(path).map_err(|source| CorpusError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| CorpusError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes pretty JSON with a trailing newline.
pub(super) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), CorpusError> {
    let mut text = serde_json::to_string_pretty(value).map_err(|source| CorpusError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    text.push('\n');
    std::fs::write(path, text).map_err(|source| CorpusError::Io {
        path: path.to_path_buf(),
        source,
    })
}
