//! Tiny networks and a tiny audio configuration shared by the trainer's integration tests:
//! small enough that pretraining, export and fine-tuning run in seconds.
#![allow(dead_code)] // each test binary uses its own subset

use burn::tensor::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use refrain_engine::ddim::NoiseSchedule;
use refrain_engine::feedback::{
    ClipId, FeedbackStore, NewGeneration, NewSong, SongAudio, SongId, Uid,
};
use refrain_engine::manifest::Manifest;
use refrain_engine::spectrogram::AudioConfig;
use refrain_trainer::finetune::load_unet;
use refrain_trainer::model::{AutoencoderConfig, UnetConfig};
use refrain_trainer::pretrain::version::export_initialised;
use refrain_trainer::training::diffusion::{noise_batch, spread_timesteps};
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

/// ε-MSE of a version's UNet on `latents` at fixed timesteps and noise.
pub fn eps_loss(dir: &Path, latents: &[Vec<f32>]) -> f32 {
    let m = Manifest::load(dir).unwrap();
    let device = Device::flex();
    let (unet, _, _) = load_unet(dir, &m, &device).unwrap();
    let schedule = NoiseSchedule::from_config(&m.schedule).unwrap();
    let n = 16;
    let x0: Vec<f32> = (0..n)
        .flat_map(|i| latents[i % latents.len()].clone())
        .collect();
    let ts = spread_timesteps(n, schedule.num_train_timesteps());
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let noised = noise_batch(&schedule, &x0, LATENT_LEN, &ts, 16, &mut rng).unwrap();
    let (s, t, e) = noised.tensors([2, 8, 8], 16, &device);
    (unet.forward(s, t) - e)
        .powi_scalar(2)
        .mean()
        .into_scalar::<f32>()
}

/// Stores a 0.1 s silent song with `latent`.
pub fn song_with_latent(store: &mut FeedbackStore, latent: Vec<f32>) -> SongId {
    store
        .add_song(NewSong {
            source: "test".into(),
            sample_rate: 22050,
            duration_s: 1.0,
            wav: SongAudio::Samples(vec![0.0; 2205]),
            latent,
        })
        .unwrap()
}

/// Stores a clip made from one song (weight 1) with `latent`, 0.1 s of silence as its audio.
pub fn one_song_clip(
    store: &mut FeedbackStore,
    song: SongId,
    seed: u64,
    latent: Vec<f32>,
    request: Option<Uid>,
    baseline: bool,
) -> ClipId {
    store
        .add_generation(NewGeneration {
            song_ids: vec![song],
            weights: vec![1.0],
            seed,
            strength: 0.5,
            steps: 10,
            eta: 0.0,
            detail: 0.0,
            model_version: 0,
            is_baseline: baseline,
            audio: vec![0.0; 2205],
            sample_rate: 22050,
            latent,
            request,
        })
        .unwrap()
}
