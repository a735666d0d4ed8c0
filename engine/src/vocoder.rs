//! The vocoder seam: a model-range mel spectrogram back to audio at the model's rate.
//!
//! Every model of the audio-diffusion family ends in the same mel format, so the vocoder is
//! chosen separately from the networks: the pipeline holds a `Box<dyn Vocoder>` and never names
//! an algorithm. Griffin-Lim (inverse mel by NNLS, then fast Griffin-Lim) is the one
//! implementation today and stays the reference a better vocoder is measured against.
use crate::spectrogram::{AudioConfig, GriffinLim, Mel, MelTransform, SpectrogramError};

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

/// Names [`by_name`] accepts.
pub const NAMES: &[&str] = &[GRIFFIN_LIM];

/// The name of the Griffin-Lim vocoder.
pub const GRIFFIN_LIM: &str = "griffin-lim";

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
        other => Err(VocoderError::Unknown(other.to_string())),
    }
}

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
