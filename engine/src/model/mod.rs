//! A loaded model version: manifest checked, the three ONNX sessions created once, their I/O
//! validated against the manifest, warmed up, and the execution provider actually in use known.

mod autoencoder;
mod cuda_hint;
mod load;
mod provider;
mod session;
mod unet;

pub use load::{Model, ModelOptions};
pub use provider::Provider;
pub use unet::UnetDenoiser;

use std::path::PathBuf;

/// Why a model version could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The manifest or a file hash was wrong (the message names the file and field).
    #[error(transparent)]
    Manifest(#[from] crate::manifest::ManifestError),
    /// ONNX Runtime could not be loaded or refused a file.
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeError),
    /// A graph's inputs or outputs disagree with the manifest.
    #[error("{file}: {field}: {problem}")]
    Io {
        /// The ONNX file.
        file: PathBuf,
        /// The input or output (and dimension) that does not match.
        field: String,
        /// What was expected and found.
        problem: String,
    },
    /// Running a network failed.
    #[error("{file}: inference failed: {message}")]
    Inference {
        /// The ONNX file.
        file: PathBuf,
        /// ONNX Runtime's message.
        message: String,
    },
    /// The network produced NaN or infinite values.
    #[error("{file}: produced NaN or infinite values")]
    NotFinite {
        /// The ONNX file.
        file: PathBuf,
    },
    /// An execution provider name was not recognised.
    #[error("unknown execution provider `{0}` (use auto, cpu or cuda)")]
    UnknownProvider(String),
}
