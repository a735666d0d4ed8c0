//! The vocoder seam: a model-range mel spectrogram back to audio at the model's rate.
//!
//! Every model of the audio-diffusion family ends in the same mel format, so the vocoder is
//! chosen separately from the networks: the pipeline holds a `Box<dyn Vocoder>` and never names
//! an algorithm. Both implementations start from the linear magnitude the mel inversion
//! recovers (damped pseudo-inverse + NNLS): [`griffin_lim`] from random phases (the reference
//! and the fallback), [`pghi`] from phase-gradient heap integration and fewer iterations.
mod griffin_lim;
mod pghi;

pub use griffin_lim::GriffinLimVocoder;
pub use pghi::{PghiVocoder, PGHI_ITERS, PGHI_MOMENTUM};

use crate::spectrogram::{AudioConfig, Mel, SpectrogramError};

/// Why a vocoder could not be built or could not render.
#[derive(Debug, thiserror::Error)]
pub enum VocoderError {
    /// The mel did not fit the vocoder's configuration, or the DSP failed.
    #[error(transparent)]
    Spectrogram(#[from] SpectrogramError),
    /// No vocoder has this name.
    #[error("unknown vocoder `{0}` (known: {known})", known = NAMES.join(", "))]
    Unknown(String),
}

/// The name of the Griffin-Lim vocoder.
pub const GRIFFIN_LIM: &str = "griffin-lim";
/// The name of the PGHI vocoder.
pub const PGHI: &str = "pghi";
/// Names [`by_name`] accepts.
pub const NAMES: &[&str] = &[GRIFFIN_LIM, PGHI];

/// Turns model-range mels into audio.
pub trait Vocoder: Send {
    /// The name clips and manifests record.
    fn name(&self) -> &'static str;

    /// Audio for one mel, `hop · frames − 1` samples at the model rate; `seed` makes a
    /// randomised vocoder reproducible.
    fn render(&mut self, mel: &Mel, seed: u64) -> Result<Vec<f32>, VocoderError>;
}

/// The vocoder called `name` for a model with audio `config`.
pub fn by_name(name: &str, config: &AudioConfig) -> Result<Box<dyn Vocoder>, VocoderError> {
    match name {
        GRIFFIN_LIM => Ok(Box::new(GriffinLimVocoder::new(config)?)),
        PGHI => Ok(Box::new(PghiVocoder::new(config)?)),
        other => Err(VocoderError::Unknown(other.to_string())),
    }
}
