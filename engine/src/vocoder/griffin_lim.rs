//! The reference vocoder: inverse mel, then fast Griffin-Lim from random phases.
use super::{Vocoder, VocoderError, GRIFFIN_LIM};
use crate::spectrogram::{AudioConfig, GriffinLim, Mel, MelTransform, SpectrogramError};

/// Inverse mel (damped pseudo-inverse + NNLS) then fast Griffin-Lim with the config's iterations
/// and random initial phases drawn from the seed.
pub struct GriffinLimVocoder {
    transform: MelTransform,
    iters: usize,
}

impl GriffinLimVocoder {
    /// Plans the STFT and filterbank for `config` (the pseudo-inverse is built on first use).
    pub fn new(config: &AudioConfig) -> Result<Self, SpectrogramError> {
        Ok(Self {
            transform: MelTransform::new(config)?,
            iters: config.griffin_lim_iters,
        })
    }
}

impl Vocoder for GriffinLimVocoder {
    fn name(&self) -> &'static str {
        GRIFFIN_LIM
    }

    fn render(&mut self, mel: &Mel, seed: u64) -> Result<Vec<f32>, VocoderError> {
        Ok(self
            .transform
            .from_model(mel, GriffinLim::fast(self.iters, seed))?)
    }
}
