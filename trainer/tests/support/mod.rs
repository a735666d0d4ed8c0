//! Tiny networks and a tiny audio configuration shared by the trainer's integration tests:
//! small enough that pretraining, export and fine-tuning run in seconds.
#![allow(dead_code)] // each test binary uses its own subset

use refrain_engine::spectrogram::AudioConfig;
use refrain_trainer::model::{AutoencoderConfig, UnetConfig};
use refrain_trainer::pretrain::version::export_initialised;
use std::path::Path;

/// 32 mel bins × 32 frames.
pub fn audio() -> AudioConfig {
    AudioConfig {
        n_mels: 32,
        frames: 32,
        ..AudioConfig::default()
    }
}

/// An autoencoder to a 2×8×8 latent.
pub fn autoencoder() -> AutoencoderConfig {
    AutoencoderConfig {
        in_channels: 1,
        latent_channels: 2,
        channels: vec![8, 16],
        res_blocks: 1,
        norm_groups: 4,
    }
}

/// A UNet over that latent.
pub fn unet() -> UnetConfig {
    UnetConfig {
        latent_channels: 2,
        embedding_dim: 16,
        channels: vec![8, 16],
        res_blocks: 1,
        attention: true,
        norm_groups: 4,
    }
}

/// Values per latent of [`autoencoder`].
pub const LATENT_LEN: usize = 2 * 8 * 8;

/// Exports the tiny networks, randomly initialised from `seed`, as a version in `dir`, with
/// `guard` as its held-out guard latents.
pub fn initialised_version(dir: &Path, seed: u64, guard: Vec<Vec<f32>>) {
    export_initialised(dir, audio(), &autoencoder(), &unet(), seed, Some(guard)).unwrap();
}

/// Copies a directory tree (a fixture repo into a temp dir, to break it there).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
