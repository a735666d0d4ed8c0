//! Audio ↔ model-range mel spectrogram for one [`AudioConfig`], with all buffers reused.
use super::{
    db_to_power, from_unit, griffin_lim, power_to_db, to_unit, AudioConfig, GriffinLim,
    MelFilterbank, MelInverse, SpectrogramError, Spectrum, Stft,
};

/// A mel spectrogram stored mel-major (`data[mel * frames + frame]`), the layout of the model's
/// `[B, 1, n_mels, frames]` tensors and of librosa's output.
#[derive(Debug, Clone, PartialEq)]
pub struct Mel {
    /// Mel bands (rows).
    pub n_mels: usize,
    /// Frames (columns).
    pub frames: usize,
    /// Values, mel-major.
    pub data: Vec<f32>,
}

impl Mel {
    /// The value at band `mel`, frame `frame`.
    pub fn at(&self, mel: usize, frame: usize) -> f32 {
        self.data[mel * self.frames + frame]
    }
}

/// Converts audio to mel spectrograms and back for one configuration.
pub struct MelTransform {
    config: AudioConfig,
    stft: Stft,
    filterbank: MelFilterbank,
    inverse: Option<MelInverse>,
    spectrum: Spectrum,
    power: Vec<f32>,
}

impl MelTransform {
    /// Plans the STFT and builds the filterbank; the pseudo-inverse is built on first inversion.
    pub fn new(config: &AudioConfig) -> Result<Self, SpectrogramError> {
        Ok(Self {
            config: config.clone(),
            stft: Stft::new(config)?,
            filterbank: MelFilterbank::new(config)?,
            inverse: None,
            spectrum: Spectrum::default(),
            power: Vec::new(),
        })
    }

    /// The configuration this transform was built for.
    pub fn config(&self) -> &AudioConfig {
        &self.config
    }

    /// The filterbank in use.
    pub fn filterbank(&self) -> &MelFilterbank {
        &self.filterbank
    }

    /// Mel power spectrogram (librosa `melspectrogram(power=2.0)`), 1 + len / hop frames.
    pub fn mel_power(&mut self, samples: &[f32]) -> Result<Mel, SpectrogramError> {
        if samples.is_empty() {
            return Err(SpectrogramError::Empty);
        }
        self.stft.forward(samples, &mut self.spectrum);
        let (frames, n_freqs, n_mels) = (
            self.spectrum.frames,
            self.spectrum.n_freqs,
            self.config.n_mels,
        );
        // Power laid out frequency-major, so each band's sum over frames is a run of
        // contiguous multiply-adds (the per-frame band loop was dominated by tiny low bands).
        self.power.clear();
        self.power.resize(n_freqs * frames, 0.0);
        const BLOCK: usize = 16;
        for t0 in (0..frames).step_by(BLOCK) {
            for k0 in (0..n_freqs).step_by(BLOCK) {
                for t in t0..(t0 + BLOCK).min(frames) {
                    let row = &self.spectrum.data[t * n_freqs..(t + 1) * n_freqs];
                    let k_end = (k0 + BLOCK).min(n_freqs);
                    for (k, c) in (k0..k_end).zip(&row[k0..k_end]) {
                        self.power[k * frames + t] = c.norm_sqr();
                    }
                }
            }
        }
        let mut data = vec![0.0f32; n_mels * frames];
        self.filterbank.apply_frames(&self.power, frames, &mut data);
        Ok(Mel {
            n_mels,
            frames,
            data,
        })
    }

    /// Mel in dB relative to its maximum, floored at −top_db; also returns the reference power.
    pub fn mel_db(&mut self, samples: &[f32]) -> Result<(Mel, f32), SpectrogramError> {
        let mut mel = self.mel_power(samples)?;
        let reference = power_to_db(&mut mel.data, self.config.top_db);
        Ok((mel, reference))
    }

    /// The model's input: one window of `window_samples()` (padded or trimmed) as a mel in [−1, 1].
    pub fn to_model(&mut self, samples: &[f32]) -> Result<Mel, SpectrogramError> {
        let n = self.config.window_samples();
        let mut window = samples[..samples.len().min(n)].to_vec();
        window.resize(n, 0.0);
        let (mut mel, _) = self.mel_db(&window)?;
        to_unit(&mut mel.data, self.config.top_db);
        Ok(mel)
    }

    /// Linear STFT magnitude (frame-major) for a mel in the model's [−1, 1] range.
    pub fn magnitude_from_model(&mut self, mel: &Mel) -> Result<Vec<f32>, SpectrogramError> {
        let mut frames_major = self.frame_major(mel)?;
        from_unit(&mut frames_major, self.config.top_db);
        db_to_power(&mut frames_major, 1.0);
        Ok(self.magnitude_from_frames(&frames_major))
    }

    /// [`MelTransform::new`] with its mel inversion set to `steps` NNLS steps when given (what a
    /// neural vocoder's spec asks for, and what its training must build its input with).
    pub fn with_inverse_steps(
        config: &AudioConfig,
        steps: Option<usize>,
    ) -> Result<Self, SpectrogramError> {
        let mut transform = Self::new(config)?;
        if let Some(steps) = steps {
            transform.set_inverse_steps(steps);
        }
        Ok(transform)
    }

    /// Uses `steps` NNLS refinement steps in the mel inversion from now on (a neural vocoder
    /// whose spec says so corrects a cheaper inversion; 0 = the clipped pseudo-inverse).
    pub fn set_inverse_steps(&mut self, steps: usize) {
        self.inverse = Some(MelInverse::new(&self.filterbank).with_steps(steps));
    }

    /// NNLS steps its mel inversion takes (what a network trained on its output must be fed).
    pub fn inverse_steps(&self) -> usize {
        self.inverse
            .as_ref()
            .map_or(super::mel_inverse::NNLS_STEPS, MelInverse::steps)
    }

    /// Linear STFT magnitude (frame-major) for a mel power spectrogram (librosa `mel_to_stft`).
    pub fn magnitude_from_power(&mut self, mel: &Mel) -> Result<Vec<f32>, SpectrogramError> {
        let frames_major = self.frame_major(mel)?;
        Ok(self.magnitude_from_frames(&frames_major))
    }

    fn magnitude_from_frames(&mut self, frames_major: &[f32]) -> Vec<f32> {
        let inverse = self
            .inverse
            .get_or_insert_with(|| MelInverse::new(&self.filterbank));
        let mut magnitude = Vec::new();
        inverse.magnitude(frames_major, &mut magnitude);
        magnitude
    }

    /// A frame-major copy of `mel`, so the pseudo-inverse reads contiguous bands.
    fn frame_major(&self, mel: &Mel) -> Result<Vec<f32>, SpectrogramError> {
        if mel.n_mels != self.config.n_mels || mel.data.len() != mel.n_mels * mel.frames {
            return Err(SpectrogramError::Shape {
                expected: format!("{} mel bands", self.config.n_mels),
                got: format!(
                    "{} bands × {} frames ({} values)",
                    mel.n_mels,
                    mel.frames,
                    mel.data.len()
                ),
            });
        }
        let mut frames_major = vec![0.0f32; mel.data.len()];
        for m in 0..mel.n_mels {
            for t in 0..mel.frames {
                frames_major[t * mel.n_mels + m] = mel.data[m * mel.frames + t];
            }
        }
        Ok(frames_major)
    }

    /// Audio for a model-range mel: inverse mel, then Griffin-Lim with `settings`.
    /// The output has `hop · (frames − 1)` samples rounded down like the forward window.
    pub fn from_model(
        &mut self,
        mel: &Mel,
        settings: GriffinLim,
    ) -> Result<Vec<f32>, SpectrogramError> {
        let magnitude = self.magnitude_from_model(mel)?;
        let length = (mel.frames * self.config.hop_length).saturating_sub(1);
        Ok(griffin_lim(&mut self.stft, &magnitude, length, settings))
    }

    /// Griffin-Lim settings from the config: the fast variant, `griffin_lim_iters` iterations.
    pub fn default_griffin_lim(&self, seed: u64) -> GriffinLim {
        GriffinLim::fast(self.config.griffin_lim_iters, seed)
    }

    /// The STFT, for callers that need linear spectra (tests, evaluation).
    pub fn stft(&mut self) -> &mut Stft {
        &mut self.stft
    }
}
