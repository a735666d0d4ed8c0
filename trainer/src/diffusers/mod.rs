//! Models of the diffusers audio-diffusion family (teticio's `audio-diffusion` and
//! `latent-audio-diffusion` repos, and the paper's fine-tune of them) rebuilt in burn: the repo's
//! configs ([`config`]), the networks with diffusers' parameter names ([`unet`], [`vae`], from
//! [`blocks`]) and the weight loader ([`weights`]). The networks export to ONNX in Refrain's
//! model contract like the base model's.
pub mod blocks;
pub mod checks;
pub mod config;
pub mod unet;
pub mod vae;
pub mod weights;

pub use config::{MelConfig, SchedulerConfig, UnetConfig, VaeConfig};
pub use unet::DiffusersUnet;
pub use vae::{DiffusersDecoder, DiffusersEncoder};

use burn::tensor::Device;
use std::path::{Path, PathBuf};

/// Why a diffusers repo could not be read or rebuilt.
#[derive(Debug, thiserror::Error)]
pub enum DiffusersError {
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A config is malformed or asks for something not implemented (the message names it).
    #[error("{}: {problem}", path.display())]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// A component has no weight file.
    #[error("{}: no diffusion_pytorch_model.safetensors or .bin", dir.display())]
    MissingWeights {
        /// The component directory.
        dir: PathBuf,
    },
    /// The weights do not fit the network the config describes.
    #[error("{}: {message}", file.display())]
    Weights {
        /// The weight file.
        file: PathBuf,
        /// What did not fit.
        message: String,
    },
}

/// The UNet of the repo at `repo` (its `unet/` folder), config checked and weights loaded.
pub fn load_unet(
    repo: &Path,
    reshape_norms: bool,
    device: &Device,
) -> Result<(UnetConfig, DiffusersUnet), DiffusersError> {
    let dir = repo.join("unet");
    let path = dir.join("config.json");
    let config: UnetConfig = config::read(&path)?;
    config.check(&path)?;
    let mut unet = DiffusersUnet::new(&config, reshape_norms, device);
    weights::load(&mut unet, &weights::weight_file(&dir)?, &[])?;
    Ok((config, unet))
}

/// The VAE of the repo at `repo` (its `vqvae/` folder) as encoder and decoder networks.
pub fn load_vae(
    repo: &Path,
    device: &Device,
) -> Result<(VaeConfig, DiffusersEncoder, DiffusersDecoder), DiffusersError> {
    let dir = repo.join("vqvae");
    let path = dir.join("config.json");
    let config: VaeConfig = config::read(&path)?;
    config.check(&path)?;
    let file = weights::weight_file(&dir)?;
    let mut encoder = DiffusersEncoder::new(&config, device);
    weights::load(&mut encoder, &file, &["encoder.", "quant_conv."])?;
    let mut decoder = DiffusersDecoder::new(&config, device);
    weights::load(&mut decoder, &file, &["decoder.", "post_quant_conv."])?;
    Ok((config, encoder, decoder))
}
