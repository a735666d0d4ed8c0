//! Inverse mel, then phase-gradient heap integration as the starting phase and a few fast
//! Griffin-Lim iterations (`spectrogram/pghi.rs` holds the algorithm).
use super::{Vocoder, VocoderError, PGHI};
use crate::spectrogram::{
    griffin_lim_from, pghi_phase, AudioConfig, GriffinLim, Mel, MelTransform, PghiGeometry,
    SpectrogramError, PGHI_TOLERANCE,
};

/// Griffin-Lim iterations after PGHI (`cargo xtask bench vocoder` measured the choice).
pub const PGHI_ITERS: usize = 16;
/// Momentum of those iterations: lower than fast Griffin-Lim's 0.99, whose first steps would
/// overshoot away from a phase that is already close.
pub const PGHI_MOMENTUM: f32 = 0.5;

/// PGHI-initialised Griffin-Lim.
pub struct PghiVocoder {
    transform: MelTransform,
    iters: usize,
    momentum: f32,
}

impl PghiVocoder {
    /// Plans the STFT and filterbank for `config`, with [`PGHI_ITERS`] iterations.
    pub fn new(config: &AudioConfig) -> Result<Self, SpectrogramError> {
        Self::tuned(config, PGHI_ITERS, PGHI_MOMENTUM)
    }

    /// The same with `iters` Griffin-Lim iterations of `momentum` after PGHI (0 iterations =
    /// PGHI alone); the benchmark compares settings with it.
    pub fn tuned(
        config: &AudioConfig,
        iters: usize,
        momentum: f32,
    ) -> Result<Self, SpectrogramError> {
        Ok(Self {
            transform: MelTransform::new(config)?,
            iters,
            momentum,
        })
    }
}

impl Vocoder for PghiVocoder {
    fn name(&self) -> &'static str {
        PGHI
    }

    fn render(&mut self, mel: &Mel, seed: u64) -> Result<Vec<f32>, VocoderError> {
        let magnitude = self.transform.magnitude_from_model(mel)?;
        let settings = GriffinLim {
            iters: self.iters,
            momentum: self.momentum,
            seed,
        };
        Ok(phase_and_invert(
            &mut self.transform,
            &magnitude,
            mel.frames,
            settings,
        ))
    }
}

/// Audio for a frame-major `magnitude` of `frames` frames: PGHI phase, then `settings`'
/// Griffin-Lim iterations (shared with the neural vocoder, which only changes the magnitude).
pub(super) fn phase_and_invert(
    transform: &mut MelTransform,
    magnitude: &[f32],
    frames: usize,
    settings: GriffinLim,
) -> Vec<f32> {
    let config = transform.config();
    let geometry = PghiGeometry {
        n_fft: config.n_fft,
        hop: config.hop_length,
        win_length: config.win_length,
    };
    let n_freqs = config.n_freqs();
    let length = (frames * config.hop_length).saturating_sub(1);
    let phases = pghi_phase(magnitude, n_freqs, geometry, PGHI_TOLERANCE, settings.seed);
    griffin_lim_from(transform.stft(), magnitude, &phases, length, settings)
}
