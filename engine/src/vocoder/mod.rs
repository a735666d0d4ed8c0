//! The vocoder seam: a model-range mel spectrogram back to audio at the model's rate.
//!
//! Every model of the audio-diffusion family ends in the same mel format, so the vocoder is
//! chosen separately from the networks: the pipeline holds a `Box<dyn Vocoder>` and never names
//! an algorithm. Both implementations start from the linear magnitude the mel inversion
//! recovers (damped pseudo-inverse + NNLS): [`griffin_lim`] from random phases (the reference
//! and the fallback), [`pghi`] from phase-gradient heap integration and fewer iterations. The
//! [`neural`] one replaces the mel inversion by a trained network's magnitude and is loaded from
//! its own directory; when it cannot be, [`resolve`] falls back to Griffin-Lim and says why.
mod griffin_lim;
pub mod neural;
mod pghi;

pub use griffin_lim::GriffinLimVocoder;
pub use neural::{
    NeuralSpec, NeuralVocoder, PhaseInit, DEFAULT_PHASE_INIT, DEFAULT_PHASE_ITERS,
    DEFAULT_PHASE_MOMENTUM,
};
pub use pghi::{PghiVocoder, PGHI_ITERS, PGHI_MOMENTUM};

use crate::spectrogram::{AudioConfig, Mel, SpectrogramError};
use std::path::{Path, PathBuf};

/// Why a vocoder could not be built or could not render.
#[derive(Debug, thiserror::Error)]
pub enum VocoderError {
    /// The mel did not fit the vocoder's configuration, or the DSP failed.
    #[error(transparent)]
    Spectrogram(#[from] SpectrogramError),
    /// No vocoder has this name.
    #[error("unknown vocoder `{0}` (known: {known})", known = NAMES.join(", "))]
    Unknown(String),
    /// The neural vocoder's directory is missing, damaged or for another mel format.
    #[error("neural vocoder in {}: {reason}", .dir.display())]
    Neural {
        /// Its directory.
        dir: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// The name of the Griffin-Lim vocoder.
pub const GRIFFIN_LIM: &str = "griffin-lim";
/// The name of the PGHI vocoder.
pub const PGHI: &str = "pghi";
/// The name of the neural vocoder.
pub const NEURAL: &str = "neural";
/// Names [`by_name`] accepts.
pub const NAMES: &[&str] = &[GRIFFIN_LIM, PGHI, NEURAL];
/// The vocoder a model version uses when its manifest names none: the best measured by `cargo
/// xtask bench vocoder` (README, Vocoders). Where its network is missing, [`resolve`] falls back
/// to Griffin-Lim and says so.
pub const DEFAULT: &str = NEURAL;

/// Turns model-range mels into audio.
pub trait Vocoder: Send {
    /// The name clips and manifests record.
    fn name(&self) -> &'static str;

    /// Audio for one mel, `hop · frames − 1` samples at the model rate; `seed` makes a
    /// randomised vocoder reproducible.
    fn render(&mut self, mel: &Mel, seed: u64) -> Result<Vec<f32>, VocoderError>;
}

/// The vocoder called `name` for a model with audio `config`; the neural one is loaded from
/// [`crate::locator::shipped_vocoder`].
pub fn by_name(name: &str, config: &AudioConfig) -> Result<Box<dyn Vocoder>, VocoderError> {
    by_name_in(name, config, &crate::locator::shipped_vocoder())
}

/// [`by_name`] with the neural vocoder's directory given.
pub fn by_name_in(
    name: &str,
    config: &AudioConfig,
    neural_dir: &Path,
) -> Result<Box<dyn Vocoder>, VocoderError> {
    match name {
        GRIFFIN_LIM => Ok(Box::new(GriffinLimVocoder::new(config)?)),
        PGHI => Ok(Box::new(PghiVocoder::new(config)?)),
        NEURAL => Ok(Box::new(NeuralVocoder::load(neural_dir, config)?)),
        other => Err(VocoderError::Unknown(other.to_string())),
    }
}

/// The vocoder called `name`, or Griffin-Lim with a warning that says why when it cannot be
/// built (unknown name, missing or damaged network): a clip always renders.
pub fn resolve(
    name: &str,
    config: &AudioConfig,
    neural_dir: &Path,
) -> Result<(Box<dyn Vocoder>, Option<String>), VocoderError> {
    match by_name_in(name, config, neural_dir) {
        Ok(v) => Ok((v, None)),
        Err(e) if name != GRIFFIN_LIM => {
            let warning = format!("vocoder `{name}` unavailable ({e}); using Griffin-Lim");
            tracing::warn!("{warning}");
            Ok((Box::new(GriffinLimVocoder::new(config)?), Some(warning)))
        }
        Err(e) => Err(e),
    }
}
