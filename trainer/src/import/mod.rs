//! Importing diffusers audio-diffusion repos as model versions: [`download`] fetches a hub repo
//! into the standard hub cache, [`version`] rebuilds a repo's
//! networks and writes a version directory, [`install`] puts it into the data dir whole or not
//! at all.
mod cache_link;
pub mod download;
mod download_error;
pub mod install;
pub mod version;

pub use install::{install, InstallOptions, Installed};
pub use version::{write_version, Provenance};

use std::path::PathBuf;

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The repo is not an audio-diffusion pipeline.
    #[error("{}: {problem}", path.display())]
    NotAPipeline {
        /// `model_index.json`.
        path: PathBuf,
        /// What is missing.
        problem: String,
    },
    /// A config or weight file could not be used (the message names it).
    #[error(transparent)]
    Diffusers(#[from] crate::diffusers::DiffusersError),
    /// The mel settings cannot drive the engine.
    #[error("mel settings: {0}")]
    Mel(String),
    /// ONNX export failed.
    #[error(transparent)]
    Export(#[from] crate::onnx::ExportFailure),
    /// The manifest could not be written.
    #[error("manifest: {0}")]
    Manifest(String),
    /// The name cannot be a version directory, or is taken.
    #[error("{0}")]
    Name(String),
    /// The exported version did not load through ONNX Runtime.
    #[error("the imported version does not load: {0}")]
    Check(String),
}

impl ImportError {
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
