//! Virtual producers: a hidden taste (see `taste.rs`), noisy star ratings, longer listening to
//! what they like, and spammers who give top marks without listening.
use super::taste::Taste;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// Who a rater is.
#[derive(Debug, Clone, PartialEq)]
pub enum RaterKind {
    /// Likes clips that score above the taste's pivot: utility = logistic((score − pivot) / width).
    Honest {
        /// What it likes.
        taste: Taste,
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

impl Rater {
    /// Rates a clip of `clip_ms` whose taste score is `score`.
    pub fn rate(&self, score: f32, clip_ms: u64, rng: &mut ChaCha8Rng) -> Draw {
        match &self.kind {
            RaterKind::Spammer => Draw {
                accepted: true,
                stars: 5,
                // 2–15 % of the clip: below the 25 % spam threshold.
                listen_ms: (clip_ms as f64 * rng.random_range(0.02..0.15)) as u64,
                utility: None,
            },
            RaterKind::Honest { taste, noise } => {
                let u = taste.utility(score);
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

/// `honest` raters sharing one taste with rating noise, and `spammers`.
pub fn panel(honest: usize, spammers: usize, taste: Taste, noise: f32) -> Vec<Rater> {
    let mut raters: Vec<Rater> = (0..honest)
        .map(|i| Rater {
            id: format!("producer-{i}"),
            kind: RaterKind::Honest { taste, noise },
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

    #[test]
    fn honest_raters_prefer_what_scores_higher_and_listen_longer_spammers_glance() {
        let taste = Taste {
            pivot: 2000.0,
            width: 300.0,
        };
        let raters = panel(1, 1, taste, 0.05);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let dark = raters[0].rate(1000.0, 6000, &mut rng);
        let bright = raters[0].rate(3000.0, 6000, &mut rng);
        assert!(bright.stars > dark.stars && bright.accepted && !dark.accepted);
        assert!(bright.listen_ms > dark.listen_ms && dark.listen_ms >= 1800);
        let spam = raters[1].rate(1000.0, 6000, &mut rng);
        assert!(spam.stars == 5 && spam.accepted && spam.listen_ms < 1500);
    }
}
