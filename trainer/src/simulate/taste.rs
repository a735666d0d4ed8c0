//! What simulated producers like: three built-in tastes, each a property measured on the clip's
//! audio (higher = liked), or an external scorer (`--taste-cmd`, see `scorer.rs`).
use refrain_engine::spectrogram::{AudioConfig, Spectrum, Stft};
use serde::{Deserialize, Serialize};

/// A built-in taste: the property of a clip's audio the raters like more of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum TasteKind {
    /// Brightness: the energy-weighted mean spectral centroid (Hz).
    Brightness,
    /// Rhythmic density: onsets per second, picked from the spectral flux.
    Density,
    /// Weight of the low end: the share of spectral energy below [`LOW_END_HZ`].
    LowEnd,
}

/// The top of "the low end" for [`TasteKind::LowEnd`].
pub const LOW_END_HZ: f64 = 150.0;

impl TasteKind {
    /// Every built-in taste, in the order `bench loop` runs them.
    pub const ALL: [TasteKind; 3] = [Self::Brightness, Self::Density, Self::LowEnd];

    /// The property this taste likes more of, measured on mono audio at `config`'s rate (None
    /// for silence or audio too short to measure).
    pub fn measure(self, audio: &[f32], config: &AudioConfig) -> Option<f32> {
        let mut stft = Stft::new(config).ok()?;
        let mut spectrum = Spectrum::zeros(0, 0);
        stft.forward(audio, &mut spectrum);
        if spectrum.frames == 0 {
            return None;
        }
        let bin_hz = config.sample_rate as f64 / config.n_fft as f64;
        match self {
            Self::Brightness => centroid(&spectrum, bin_hz),
            Self::Density => {
                let seconds = audio.len() as f64 / f64::from(config.sample_rate.max(1));
                onsets(&spectrum).map(|n| (n as f64 / seconds.max(1e-3)) as f32)
            }
            Self::LowEnd => low_share(&spectrum, bin_hz),
        }
    }

    /// What the taste measures, for tables.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Brightness => "brightness (spectral centroid, Hz)",
            Self::Density => "rhythmic density (onsets per second)",
            Self::LowEnd => "low end (energy share below 150 Hz)",
        }
    }
}

/// Energy-weighted mean spectral centroid in Hz.
fn centroid(spectrum: &Spectrum, bin_hz: f64) -> Option<f32> {
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for t in 0..spectrum.frames {
        for (k, c) in spectrum.frame(t).iter().enumerate() {
            let m = f64::from(c.norm());
            num += m * k as f64 * bin_hz;
            den += m;
        }
    }
    (den > 1e-9).then(|| (num / den) as f32)
}

/// Share of the power below [`LOW_END_HZ`].
fn low_share(spectrum: &Spectrum, bin_hz: f64) -> Option<f32> {
    let cut = (LOW_END_HZ / bin_hz).ceil() as usize;
    let (mut low, mut all) = (0.0f64, 0.0f64);
    for t in 0..spectrum.frames {
        for (k, c) in spectrum.frame(t).iter().enumerate() {
            let p = f64::from(c.norm_sqr());
            all += p;
            if k < cut {
                low += p;
            }
        }
    }
    (all > 1e-12).then(|| (low / all) as f32)
}

/// Onsets: peaks of the half-wave rectified log-magnitude flux that are the largest within
/// ±3 frames (≈ 70 ms at hop 512), above 1.5 × the flux's mean over ±10 frames and above a
/// tenth of the clip's largest flux (so noise in quiet passages does not count).
fn onsets(spectrum: &Spectrum) -> Option<usize> {
    let log: Vec<Vec<f32>> = (0..spectrum.frames)
        .map(|t| {
            spectrum
                .frame(t)
                .iter()
                .map(|c| (1.0 + 100.0 * c.norm()).ln())
                .collect()
        })
        .collect();
    let flux: Vec<f32> = (0..log.len())
        .map(|t| match t {
            0 => 0.0,
            _ => log[t]
                .iter()
                .zip(&log[t - 1])
                .map(|(a, b)| (a - b).max(0.0))
                .sum(),
        })
        .collect();
    let top = flux.iter().copied().fold(0.0f32, f32::max);
    if top <= 1e-6 {
        return None;
    }
    let window = |t: usize, r: usize| &flux[t.saturating_sub(r)..(t + r + 1).min(flux.len())];
    let count = (1..flux.len())
        .filter(|&t| {
            let f = flux[t];
            let local = window(t, 10);
            let mean = local.iter().sum::<f32>() / local.len() as f32;
            f >= 0.1 * top
                && f > 1.5 * mean
                && window(t, 3).iter().all(|&g| g <= f)
                && window(t, 3).iter().position(|&g| g == f) == Some(t.min(3))
        })
        .count();
    Some(count)
}

/// The taste every honest rater shares, pinned to the base's own output: undecided at the 60th
/// percentile of round 0's scores, the logistic width half the spread between the 40th and 80th.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Taste {
    /// Undecided at this score.
    pub pivot: f32,
    /// Logistic width.
    pub width: f32,
}

impl Taste {
    /// The taste pinned to round 0's scores (non-finite ones ignored).
    pub fn from_scores(scores: &[f32]) -> Self {
        let mut c: Vec<f32> = scores.iter().copied().filter(|v| v.is_finite()).collect();
        c.sort_by(f32::total_cmp);
        let q = |p: f32| {
            c.get(((c.len().max(1) - 1) as f32 * p).round() as usize)
                .copied()
                .unwrap_or(0.0)
        };
        let pivot = q(0.6);
        // A floor relative to the pivot: a base whose clips all score alike still gets a taste
        // that turns over a small, not an infinitesimal, change.
        let floor = (0.02 * pivot.abs()).max(1e-6);
        Self {
            pivot,
            width: ((q(0.8) - q(0.4)) / 2.0).max(floor),
        }
    }

    /// Noiseless utility in [0, 1] of a clip with this score.
    pub fn utility(&self, score: f32) -> f32 {
        1.0 / (1.0 + (-(score - self.pivot) / self.width.max(1e-9)).exp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SR: f32 = 22_050.0;

    fn tone(hz: f32, seconds: f32) -> Vec<f32> {
        (0..(SR * seconds) as usize)
            .map(|i| 0.5 * (std::f32::consts::TAU * hz * i as f32 / SR).sin())
            .collect()
    }

    /// Decaying noise bursts `per_second` times a second over a quiet 440 Hz tone.
    fn hits(per_second: f32, seconds: f32) -> Vec<f32> {
        let period = (SR / per_second) as usize;
        let mut state = 1u32;
        tone(440.0, seconds)
            .into_iter()
            .enumerate()
            .map(|(i, x)| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
                let env = (-((i % period) as f32) / 600.0).exp();
                0.1 * x + env * noise
            })
            .collect()
    }

    #[test]
    fn brightness_follows_the_tone() {
        let config = AudioConfig::default();
        let low = TasteKind::Brightness
            .measure(&tone(440.0, 1.0), &config)
            .unwrap();
        let high = TasteKind::Brightness
            .measure(&tone(3000.0, 1.0), &config)
            .unwrap();
        assert!((low - 440.0).abs() < 60.0, "{low}");
        assert!((high - 3000.0).abs() < 150.0, "{high}");
        assert_eq!(TasteKind::Brightness.measure(&[0.0; 22050], &config), None);
    }

    #[test]
    fn density_counts_hits_per_second() {
        let config = AudioConfig::default();
        for rate in [2.0f32, 4.0, 8.0] {
            let d = TasteKind::Density
                .measure(&hits(rate, 4.0), &config)
                .unwrap();
            assert!(
                (d - rate).abs() <= 0.26 * rate,
                "{rate} hits/s measured {d}"
            );
        }
        let steady = TasteKind::Density
            .measure(&tone(440.0, 4.0), &config)
            .unwrap();
        assert!(steady < 0.6, "a steady tone has {steady} onsets/s");
        assert_eq!(TasteKind::Density.measure(&[0.0; 22050], &config), None);
    }

    #[test]
    fn low_end_is_the_share_below_150_hz() {
        let config = AudioConfig::default();
        let bass = TasteKind::LowEnd
            .measure(&tone(60.0, 1.0), &config)
            .unwrap();
        let treble = TasteKind::LowEnd
            .measure(&tone(2000.0, 1.0), &config)
            .unwrap();
        let mix: Vec<f32> = tone(60.0, 1.0)
            .iter()
            .zip(tone(2000.0, 1.0))
            .map(|(a, b)| a + b)
            .collect();
        let half = TasteKind::LowEnd.measure(&mix, &config).unwrap();
        assert!(bass > 0.95 && treble < 0.01, "{bass} {treble}");
        assert!((half - 0.5).abs() < 0.05, "{half}");
    }

    #[test]
    fn taste_is_pinned_to_the_scores_and_likes_more() {
        let scores: Vec<f32> = (0..=100).map(|i| i as f32).chain([f32::NAN]).collect();
        let t = Taste::from_scores(&scores);
        assert_eq!(t.pivot, 60.0);
        assert_eq!(t.width, 20.0);
        assert!((t.utility(60.0) - 0.5).abs() < 1e-6);
        assert!(t.utility(90.0) > 0.8 && t.utility(30.0) < 0.2);
        let flat = Taste::from_scores(&[5.0; 10]);
        assert!((flat.width - 0.1).abs() < 1e-6, "{flat:?}");
    }
}
