//! The pretraining corpus: freely licensed music from Debian packages plus our own synthesised
//! loops, sliced into model windows and cached as quantised mel spectrograms outside git.
//!
//! Layout of a corpus directory:
//! - `mels.u8`: `windows × n_mels × frames` bytes, each the model-range mel quantised to 0..=255
//!   (audio-diffusion's own 8-bit image format, 0.31 dB per step; 4× smaller than f32).
//! - `index.json`: one [`WindowInfo`] per window, in file order.
//! - `manifest.json`: the [`CorpusManifest`] (sources, licenses, counts, duration) — the part
//!   that is committed to the repository.

mod build;
mod cache;
mod sources;

pub use build::{build, BuildOptions};
pub use cache::{Corpus, CorpusManifest, SourceSummary, Split, WindowInfo};
pub use sources::{license_names, package_source, AudioSource};

/// Why the corpus could not be built or read.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: std::path::PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A Debian package was not installed or listed no audio.
    #[error("package {package}: {reason}")]
    Package {
        /// The package name.
        package: String,
        /// What went wrong.
        reason: String,
    },
    /// The corpus files disagree with each other or with the audio config.
    #[error("corpus at {path} is inconsistent: {reason}")]
    Inconsistent {
        /// The corpus directory.
        path: std::path::PathBuf,
        /// What does not match.
        reason: String,
    },
    /// JSON could not be parsed or written.
    #[error("{path}: {source}")]
    Json {
        /// The file involved.
        path: std::path::PathBuf,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// The spectrogram configuration was rejected.
    #[error(transparent)]
    Spectrogram(#[from] refrain_engine::spectrogram::SpectrogramError),
}
