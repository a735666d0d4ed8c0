//! Virtual producers: a hidden taste for brightness (spectral centroid), noisy star ratings,
//! longer listening to what they like, and spammers who give top marks without listening.
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use refrain_engine::spectrogram::{AudioConfig, Spectrum, Stft};

/// The hidden, measurable property raters care about: the clip's mean spectral centroid (Hz),
/// weighted by frame energy so silent frames do not count.
pub fn spectral_centroid(audio: &[f32], config: &AudioConfig) -> Option<f32> {
    let mut stft = Stft::new(config).ok()?;
    let mut spectrum = Spectrum::zeros(0, 0);
    stft.forward(audio, &mut spectrum);
    let bin_hz = config.sample_rate as f64 / config.n_fft as f64;
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

/// Who a rater is.
#[derive(Debug, Clone, PartialEq)]
pub enum RaterKind {
    /// Likes clips brighter than `pivot_hz`: utility = logistic((centroid − pivot) / width).
    Honest {
        /// Centroid at which the rater is undecided.
        pivot_hz: f32,
        /// How sharply taste turns with brightness.
        width_hz: f32,
        /// Standard deviation of rating noise, in utility units.
        noise: f32,
    },
    /// Top marks, Accept, and a glance: every rating is spam.
    Spammer,
}

/// A virtual producer.
#[derive(Debug, Clone, PartialEq)]
pub struct Rater {
    /// The rater id stored with each rating.
    pub id: String,
    /// Its behaviour.
    pub kind: RaterKind,
}

/// One rating a rater gives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Draw {
    /// Accept (true) or Reject.
    pub accepted: bool,
    /// 1–5 stars.
    pub stars: u8,
    /// How long it listened.
    pub listen_ms: u64,
    /// The rater's noiseless utility in [0, 1] (None for spammers): the simulation's ground truth.
    pub utility: Option<f32>,
}

/// Noiseless utility of a clip with centroid `c` for a taste (pivot, width).
pub fn utility(c: f32, pivot_hz: f32, width_hz: f32) -> f32 {
    1.0 / (1.0 + (-(c - pivot_hz) / width_hz.max(1e-3)).exp())
}

impl Rater {
    /// Rates a clip of `clip_ms` whose hidden property is `centroid`.
    pub fn rate(&self, centroid: f32, clip_ms: u64, rng: &mut ChaCha8Rng) -> Draw {
        match &self.kind {
            RaterKind::Spammer => Draw {
                accepted: true,
                stars: 5,
                // 2–15 % of the clip: below the 25 % spam threshold.
                listen_ms: (clip_ms as f64 * rng.random_range(0.02..0.15)) as u64,
                utility: None,
            },
            RaterKind::Honest {
                pivot_hz,
                width_hz,
                noise,
            } => {
                let u = utility(centroid, *pivot_hz, *width_hz);
                let noisy = (u + noise * gaussian(rng)).clamp(0.0, 1.0);
                let stars = (1.0 + 4.0 * noisy).round().clamp(1.0, 5.0) as u8;
                // People listen longer to what they like; nobody below 30 % (they judge fairly).
                let fraction = (0.3 + 0.7 * noisy + 0.05 * gaussian(rng)).clamp(0.3, 1.0);
                Draw {
                    accepted: stars >= 4,
                    stars,
                    listen_ms: (clip_ms as f64 * f64::from(fraction)) as u64,
                    utility: Some(u),
                }
            }
        }
    }
}

/// A standard normal draw (Box–Muller; two uniforms per value keeps the stream simple).
fn gaussian(rng: &mut ChaCha8Rng) -> f32 {
    let u1 = rng.random::<f32>().max(1e-7);
    let u2 = rng.random::<f32>();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

/// `honest` raters sharing one taste (pivot, width) with rating noise, and `spammers`.
pub fn panel(
    honest: usize,
    spammers: usize,
    pivot_hz: f32,
    width_hz: f32,
    noise: f32,
) -> Vec<Rater> {
    let mut raters: Vec<Rater> = (0..honest)
        .map(|i| Rater {
            id: format!("producer-{i}"),
            kind: RaterKind::Honest {
                pivot_hz,
                width_hz,
                noise,
            },
        })
        .collect();
    raters.extend((0..spammers).map(|i| Rater {
        id: format!("spammer-{i}"),
        kind: RaterKind::Spammer,
    }));
    raters
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn tone(hz: f32, config: &AudioConfig) -> Vec<f32> {
        let sr = config.sample_rate as f32;
        (0..config.sample_rate as usize)
            .map(|i| (std::f32::consts::TAU * hz * i as f32 / sr).sin())
            .collect()
    }

    #[test]
    fn centroid_follows_the_tone() {
        let config = AudioConfig::default();
        let low = spectral_centroid(&tone(440.0, &config), &config).unwrap();
        let high = spectral_centroid(&tone(3000.0, &config), &config).unwrap();
        assert!((low - 440.0).abs() < 60.0, "{low}");
        assert!((high - 3000.0).abs() < 150.0, "{high}");
        assert_eq!(spectral_centroid(&vec![0.0; 22050], &config), None);
    }

    #[test]
    fn honest_raters_prefer_bright_and_listen_longer_spammers_glance() {
        let raters = panel(1, 1, 2000.0, 300.0, 0.05);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let dark = raters[0].rate(1000.0, 6000, &mut rng);
        let bright = raters[0].rate(3000.0, 6000, &mut rng);
        assert!(bright.stars > dark.stars && bright.accepted && !dark.accepted);
        assert!(bright.listen_ms > dark.listen_ms && dark.listen_ms >= 1800);
        let spam = raters[1].rate(1000.0, 6000, &mut rng);
        assert!(spam.stars == 5 && spam.accepted && spam.listen_ms < 1500);
    }
}
