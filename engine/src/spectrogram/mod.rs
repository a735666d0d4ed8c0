//! Mel spectrograms compatible with librosa (and so with teticio/audio-diffusion), and their
//! inversion back to audio.
//!
//! The forward path is STFT → slaney mel → dB (ref = max, top_db) → [−1, 1]; the inverse path is
//! [−1, 1] → dB → power → linear magnitude (NNLS: pseudo-inverse start + FISTA) → Griffin-Lim. All is
//! driven by an [`AudioConfig`], which the model manifest supplies.

mod config;
mod db;
mod filterbank;
mod griffin_lim;
mod mel;
mod mel_inverse;
mod metrics;
mod pghi;
mod quality;
mod stft;

pub use config::AudioConfig;
pub use db::{db_to_power, from_unit, power_to_db, to_unit};
pub use filterbank::{hz_to_mel, mel_to_hz, MelFilterbank};
pub use griffin_lim::{griffin_lim, griffin_lim_from, GriffinLim};
pub use mel::{Mel, MelTransform};
pub use mel_inverse::{MelInverse, NNLS_STEPS};
pub use metrics::spectral_convergence;
pub use pghi::{pghi_phase, PghiGeometry, DEFAULT_TOLERANCE as PGHI_TOLERANCE};
pub use quality::{log_spectral_distance, Quality, QualityMeter, MR_RESOLUTIONS};
pub use stft::{Spectrum, Stft};

/// Why a spectrogram operation could not be done.
#[derive(Debug, thiserror::Error)]
pub enum SpectrogramError {
    /// The configuration is inconsistent (names the field).
    #[error("invalid audio config: {field} {problem}")]
    InvalidConfig {
        /// The offending field of [`AudioConfig`].
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// A mel or spectrum did not have the shape the configuration implies.
    #[error("shape mismatch: expected {expected}, got {got}")]
    Shape {
        /// The expected shape, as text.
        expected: String,
        /// The shape received.
        got: String,
    },
    /// The input audio was empty.
    #[error("no audio samples to analyse")]
    Empty,
}
