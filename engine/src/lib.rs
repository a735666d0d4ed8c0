//! Refrain's engine: everything between captured audio and generated clips, with no GUI.
//!
//! Data flows one way (see `docs/ARCHITECTURE.md`): audio → spectrogram → latent → model → audio.

pub mod audio;
pub mod catalog;
pub mod ddim;
pub mod feedback;
pub mod latent;
pub mod locator;
pub mod manifest;
pub mod model;
pub mod pipeline;
pub mod runtime;
pub mod spectrogram;
pub mod vocoder;
pub mod worker;

/// This engine's crate version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
