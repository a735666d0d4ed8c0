//! The audio/spectrogram configuration shared by the engine, the trainer and the model manifest.
use super::SpectrogramError;
use serde::{Deserialize, Serialize};

/// Audio and spectrogram parameters; defaults follow docs/ARCHITECTURE.md §5 (audio-diffusion).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioConfig {
    /// Model sample rate in Hz.
    pub sample_rate: u32,
    /// FFT size in samples.
    pub n_fft: usize,
    /// Hop between frames in samples.
    pub hop_length: usize,
    /// Hann window length (≤ n_fft; centred in the FFT frame like librosa).
    pub win_length: usize,
    /// Number of mel bands.
    pub n_mels: usize,
    /// Frames per model window.
    pub frames: usize,
    /// Lowest mel filter edge in Hz.
    pub fmin: f32,
    /// Highest mel filter edge in Hz.
    pub fmax: f32,
    /// Dynamic range kept below the maximum, in dB.
    pub top_db: f32,
    /// Griffin-Lim iterations used when inverting.
    pub griffin_lim_iters: usize,
}

impl Default for AudioConfig {
    fn default() -> Self {
        Self {
            sample_rate: 22_050,
            n_fft: 2048,
            hop_length: 512,
            win_length: 2048,
            n_mels: 256,
            frames: 256,
            fmin: 0.0,
            fmax: 11_025.0,
            top_db: 80.0,
            griffin_lim_iters: 32,
        }
    }
}

impl AudioConfig {
    /// Frequency bins of one real FFT frame.
    pub fn n_freqs(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Samples in one model window. One less than `frames * hop` so that librosa's centred STFT
    /// yields exactly `frames` frames (audio-diffusion's convention).
    pub fn window_samples(&self) -> usize {
        (self.frames * self.hop_length).saturating_sub(1)
    }

    /// Duration of one model window in seconds.
    pub fn window_secs(&self) -> f64 {
        self.window_samples() as f64 / self.sample_rate as f64
    }

    /// Frames a centred STFT produces for `samples` samples (librosa: 1 + len / hop).
    pub fn frames_for(&self, samples: usize) -> usize {
        1 + samples / self.hop_length
    }

    /// Checks every field, naming the first one that is unusable.
    pub fn validate(&self) -> Result<(), SpectrogramError> {
        let bad = |field, problem: String| Err(SpectrogramError::InvalidConfig { field, problem });
        if self.sample_rate == 0 {
            return bad("sample_rate", "must be > 0".into());
        }
        if self.n_fft < 16 || !self.n_fft.is_multiple_of(2) {
            return bad(
                "n_fft",
                format!("must be even and ≥ 16, got {}", self.n_fft),
            );
        }
        if self.win_length == 0 || self.win_length > self.n_fft {
            return bad(
                "win_length",
                format!("must be in 1..=n_fft, got {}", self.win_length),
            );
        }
        if self.hop_length == 0 || self.hop_length > self.win_length {
            return bad(
                "hop_length",
                format!("must be in 1..=win_length, got {}", self.hop_length),
            );
        }
        if self.n_mels == 0 {
            return bad("n_mels", "must be > 0".into());
        }
        if self.frames == 0 {
            return bad("frames", "must be > 0".into());
        }
        let nyquist = self.sample_rate as f32 / 2.0;
        if !(self.fmin >= 0.0 && self.fmin < self.fmax && self.fmax <= nyquist) {
            return bad(
                "fmin/fmax",
                format!(
                    "need 0 ≤ fmin < fmax ≤ {nyquist}, got {} and {}",
                    self.fmin, self.fmax
                ),
            );
        }
        if !(self.top_db > 0.0 && self.top_db.is_finite()) {
            return bad("top_db", format!("must be positive, got {}", self.top_db));
        }
        Ok(())
    }
}
