//! How close a vocoder's audio is to the audio the mel was made from, in the figures the
//! vocoder literature reports: log-spectral distance, multi-resolution STFT distance (Yamamoto
//! et al., Parallel WaveGAN, 2020: spectral convergence plus log-magnitude L1, averaged over
//! three resolutions) and onset preservation (correlation of the spectral flux).
//!
//! Every figure is phase-blind but not blind to what phase does to a signal: a smeared transient
//! spreads energy into neighbouring frames, which the finer resolutions and the flux see.
use super::{spectral_convergence, AudioConfig, SpectrogramError, Spectrum, Stft};

/// (n_fft, hop) of the multi-resolution distance: Parallel WaveGAN's three at 24 kHz, which fit
/// 22.05 kHz audio the same way.
pub const MR_RESOLUTIONS: [(usize, usize); 3] = [(512, 128), (1024, 256), (2048, 512)];

/// Magnitudes below this are treated as this (−120 dB re full scale) inside logarithms.
const FLOOR: f64 = 1e-6;

/// The figures for one rendered window against its reference.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Quality {
    /// ‖|X| − |Y|‖ / ‖|X|‖ at the model's STFT.
    pub spectral_convergence: f64,
    /// Mean over frames of the RMS difference of the dB spectra, in dB.
    pub log_spectral_distance: f64,
    /// Mean over [`MR_RESOLUTIONS`] of spectral convergence + mean |log|X| − log|Y||.
    pub multi_resolution: f64,
    /// Pearson correlation of the two spectral-flux curves (1 = onsets kept exactly).
    pub onset_correlation: f64,
}

/// STFTs at the model's resolution and at [`MR_RESOLUTIONS`].
pub struct QualityMeter {
    model: Stft,
    multi: Vec<Stft>,
}

impl QualityMeter {
    /// Plans the transforms for audio at `config`'s rate.
    pub fn new(config: &AudioConfig) -> Result<Self, SpectrogramError> {
        let multi = MR_RESOLUTIONS
            .iter()
            .map(|&(n_fft, hop)| {
                Stft::new(&AudioConfig {
                    n_fft,
                    hop_length: hop,
                    win_length: n_fft,
                    ..config.clone()
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            model: Stft::new(config)?,
            multi,
        })
    }

    /// Compares `rebuilt` with `reference` over their common length, after scaling `rebuilt` by
    /// the gain that best matches its model-resolution magnitudes to the reference's: a
    /// model-range mel is normalised to its own maximum, so no vocoder can know the original
    /// level, and the figures should judge the sound, not the gain.
    pub fn measure(&mut self, reference: &[f32], rebuilt: &[f32]) -> Quality {
        let n = reference.len().min(rebuilt.len());
        let x = &reference[..n];
        let (sx, sy) = spectra(&mut self.model, x, &rebuilt[..n]);
        let (mut dot, mut energy) = (0.0f64, 0.0f64);
        for (p, q) in sx.data.iter().zip(&sy.data) {
            dot += f64::from(p.norm()) * f64::from(q.norm());
            energy += f64::from(q.norm_sqr());
        }
        let gain = if energy > 0.0 {
            (dot / energy) as f32
        } else {
            1.0
        };
        let scaled: Vec<f32> = rebuilt[..n].iter().map(|s| s * gain).collect();
        let y = &scaled[..];
        let (sx, sy) = spectra(&mut self.model, x, y);
        let mut multi = 0.0;
        for stft in &mut self.multi {
            let (a, b) = spectra(stft, x, y);
            multi += spectral_convergence(&a, &b) + log_magnitude_l1(&a, &b);
        }
        Quality {
            spectral_convergence: spectral_convergence(&sx, &sy),
            log_spectral_distance: log_spectral_distance(&sx, &sy),
            multi_resolution: multi / self.multi.len().max(1) as f64,
            onset_correlation: pearson(&flux(&sx), &flux(&sy)),
        }
    }
}

fn spectra(stft: &mut Stft, x: &[f32], y: &[f32]) -> (Spectrum, Spectrum) {
    let (mut a, mut b) = (Spectrum::default(), Spectrum::default());
    stft.forward(x, &mut a);
    stft.forward(y, &mut b);
    (a, b)
}

fn ln_mag(c: &realfft::num_complex::Complex32) -> f64 {
    f64::from(c.norm()).max(FLOOR).ln()
}

/// Mean |ln|X| − ln|Y|| over every coefficient.
fn log_magnitude_l1(a: &Spectrum, b: &Spectrum) -> f64 {
    let sum: f64 = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(p, q)| (ln_mag(p) - ln_mag(q)).abs())
        .sum();
    sum / a.data.len().max(1) as f64
}

/// Mean over frames of sqrt(mean over bins of (20 log10 |X| − 20 log10 |Y|)²), in dB.
pub fn log_spectral_distance(a: &Spectrum, b: &Spectrum) -> f64 {
    let to_db = 20.0 / std::f64::consts::LN_10;
    let mut total = 0.0;
    for t in 0..a.frames {
        let sq: f64 = a
            .frame(t)
            .iter()
            .zip(b.frame(t))
            .map(|(p, q)| ((ln_mag(p) - ln_mag(q)) * to_db).powi(2))
            .sum();
        total += (sq / a.n_freqs.max(1) as f64).sqrt();
    }
    total / a.frames.max(1) as f64
}

/// Spectral flux per frame: the summed rise of the log magnitude from the previous frame.
fn flux(s: &Spectrum) -> Vec<f64> {
    (1..s.frames)
        .map(|t| {
            s.frame(t)
                .iter()
                .zip(s.frame(t - 1))
                .map(|(now, before)| (ln_mag(now) - ln_mag(before)).max(0.0))
                .sum()
        })
        .collect()
}

/// Pearson correlation; 1 for two constant curves that are equal, 0 when only one is constant.
fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n == 0 {
        return 1.0;
    }
    let (ma, mb) = (
        a[..n].iter().sum::<f64>() / n as f64,
        b[..n].iter().sum::<f64>() / n as f64,
    );
    let (mut cov, mut va, mut vb) = (0.0, 0.0, 0.0);
    for (x, y) in a[..n].iter().zip(&b[..n]) {
        cov += (x - ma) * (y - mb);
        va += (x - ma).powi(2);
        vb += (y - mb).powi(2);
    }
    match (va > 0.0, vb > 0.0) {
        (true, true) => cov / (va * vb).sqrt(),
        (false, false) => 1.0,
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone_with_clicks(n: usize, shift: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let click = if (i + shift).is_multiple_of(4000) {
                    0.9
                } else {
                    0.0
                };
                0.3 * (i as f32 * 0.07).sin() + click
            })
            .collect()
    }

    #[test]
    fn identical_audio_scores_perfectly_and_damage_scores_worse() {
        let config = AudioConfig::default();
        let mut meter = QualityMeter::new(&config).unwrap();
        let x = tone_with_clicks(40_000, 0);
        let same = meter.measure(&x, &x);
        assert!(same.spectral_convergence < 1e-9 && same.multi_resolution < 1e-9);
        assert!(same.log_spectral_distance < 1e-6);
        assert!((same.onset_correlation - 1.0).abs() < 1e-9);

        // Clicks moved by a third of a frame: the tone is intact, the onsets are not.
        let moved = meter.measure(&x, &tone_with_clicks(40_000, 1700));
        assert!(moved.multi_resolution > 0.05, "{moved:?}");
        assert!(moved.onset_correlation < 0.9, "{moved:?}");
        // A level change alone is not a difference (the mel carries no absolute level).
        let quiet: Vec<f32> = x.iter().map(|s| s * 0.25).collect();
        let scaled = meter.measure(&x, &quiet);
        assert!(scaled.spectral_convergence < 1e-5, "{scaled:?}");
        // Added noise raises every distance.
        let noisy: Vec<f32> = x
            .iter()
            .enumerate()
            .map(|(i, s)| s + 0.05 * ((i * 7919 % 1000) as f32 / 500.0 - 1.0))
            .collect();
        let noise = meter.measure(&x, &noisy);
        assert!(noise.log_spectral_distance > 1.0 && noise.spectral_convergence > 0.01);
    }
}
