//! The networks, in burn: the mel autoencoder ([`autoencoder`]) and the latent noise predictor
//! ([`unet`]), built from export-safe [`layers`].
//!
//! Sizes come from serde config structs so tests can build tiny models and a model version can
//! record the sizes it was trained with. All three networks export through burn-onnx and run in
//! the engine with the I/O contract of docs/ARCHITECTURE.md §4.1.
pub mod autoencoder;
pub mod layers;
pub mod unet;

pub use autoencoder::{AutoencoderConfig, Decoder, Encoder};
pub use unet::{Unet, UnetConfig};

/// A configuration that cannot build a network.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Sizes that do not fit together; the message says which.
    #[error("invalid model config: {0}")]
    Config(String),
}

/// GroupNorm needs every width divisible by the group count.
pub(crate) fn check_groups(groups: usize, channels: &[usize]) -> Result<(), ModelError> {
    if groups == 0 {
        return Err(ModelError::Config("norm_groups must be at least 1".into()));
    }
    match channels.iter().find(|&&c| c == 0 || c % groups != 0) {
        Some(c) => Err(ModelError::Config(format!(
            "channel width {c} is not a positive multiple of norm_groups {groups}"
        ))),
        None => Ok(()),
    }
}
