//! The slaney mel scale and filterbank, as `librosa.filters.mel(htk=False, norm="slaney")`.
use super::{AudioConfig, SpectrogramError};

const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

/// Hz → mel on the slaney scale (linear below 1 kHz, logarithmic above).
pub fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step()
    } else {
        hz / F_SP
    }
}

/// Mel → Hz on the slaney scale.
pub fn mel_to_hz(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (log_step() * (mel - MIN_LOG_MEL)).exp()
    } else {
        F_SP * mel
    }
}

/// One mel band: its non-zero weights over consecutive FFT bins starting at `start`.
#[derive(Debug, Clone)]
struct Band {
    start: usize,
    weights: Vec<f32>,
}

/// A sparse slaney-normalised mel filterbank. Each band touches only a few bins, so applying it
/// costs about two multiply-adds per FFT bin instead of `n_mels` (the dense product dominated).
#[derive(Debug, Clone)]
pub struct MelFilterbank {
    n_freqs: usize,
    bands: Vec<Band>,
}

impl MelFilterbank {
    /// Builds the filterbank for `config` (weights computed in f64, stored as f32).
    pub fn new(config: &AudioConfig) -> Result<Self, SpectrogramError> {
        config.validate()?;
        let n_freqs = config.n_freqs();
        let sr = config.sample_rate as f64;
        let fft_hz: Vec<f64> = (0..n_freqs)
            .map(|k| k as f64 * sr / config.n_fft as f64)
            .collect();
        let (lo, hi) = (hz_to_mel(config.fmin as f64), hz_to_mel(config.fmax as f64));
        let n_points = config.n_mels + 2;
        let mel_hz: Vec<f64> = (0..n_points)
            .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (n_points - 1) as f64))
            .collect();
        let bands = (0..config.n_mels)
            .map(|m| {
                let (left, centre, right) = (mel_hz[m], mel_hz[m + 1], mel_hz[m + 2]);
                let norm = 2.0 / (right - left);
                let dense: Vec<f64> = fft_hz
                    .iter()
                    .map(|&f| {
                        let lower = (f - left) / (centre - left);
                        let upper = (right - f) / (right - centre);
                        lower.min(upper).max(0.0) * norm
                    })
                    .collect();
                let start = dense.iter().position(|&w| w > 0.0).unwrap_or(0);
                let end = dense
                    .iter()
                    .rposition(|&w| w > 0.0)
                    .map_or(start, |e| e + 1);
                Band {
                    start,
                    weights: dense[start..end].iter().map(|&w| w as f32).collect(),
                }
            })
            .collect();
        Ok(Self { n_freqs, bands })
    }

    /// Number of mel bands.
    pub fn n_mels(&self) -> usize {
        self.bands.len()
    }

    /// Number of FFT bins it reads.
    pub fn n_freqs(&self) -> usize {
        self.n_freqs
    }

    /// Bands with no weight at all (librosa warns about these; inversion cannot recover them).
    pub fn empty_bands(&self) -> usize {
        self.bands.iter().filter(|b| b.weights.is_empty()).count()
    }

    /// The dense `[n_mels][n_freqs]` matrix, row-major (for tests and the pseudo-inverse).
    pub fn dense(&self) -> Vec<f32> {
        let mut out = vec![0.0; self.n_mels() * self.n_freqs];
        for (m, band) in self.bands.iter().enumerate() {
            let row = &mut out[m * self.n_freqs..(m + 1) * self.n_freqs];
            row[band.start..band.start + band.weights.len()].copy_from_slice(&band.weights);
        }
        out
    }

    /// Applies the filterbank to power stored frequency-major (`n_freqs × frames`), writing
    /// mel-major output (`n_mels × frames`).
    pub fn apply_frames(&self, power: &[f32], frames: usize, mel: &mut [f32]) {
        for (out, band) in mel.chunks_exact_mut(frames).zip(&self.bands) {
            out.fill(0.0);
            for (k, &w) in (band.start..).zip(&band.weights) {
                let row = &power[k * frames..(k + 1) * frames];
                for (o, p) in out.iter_mut().zip(row) {
                    *o += w * p;
                }
            }
        }
    }

    /// The transpose applied to one frame: spreads `n_mels` values back over `n_freqs` bins.
    pub fn apply_transpose_frame(&self, mel: &[f32], power: &mut [f32]) {
        power.fill(0.0);
        for (&v, band) in mel.iter().zip(&self.bands) {
            let bins = &mut power[band.start..band.start + band.weights.len()];
            for (p, w) in bins.iter_mut().zip(&band.weights) {
                *p += v * w;
            }
        }
    }

    /// Applies the filterbank to one frame of power (`n_freqs`), writing `n_mels` values.
    pub fn apply_frame(&self, power: &[f32], mel: &mut [f32]) {
        for (out, band) in mel.iter_mut().zip(&self.bands) {
            let bins = &power[band.start..band.start + band.weights.len()];
            *out = bins.iter().zip(&band.weights).map(|(p, w)| p * w).sum();
        }
    }
}
