//! What a simulated round measures: mean rating, blind win rate, and output diversity.
use serde::Serialize;

/// Mean of the present values (None when there are none).
pub fn mean(values: impl Iterator<Item = f32>) -> Option<f32> {
    let (mut sum, mut n) = (0.0f64, 0usize);
    for v in values {
        sum += f64::from(v);
        n += 1;
    }
    (n > 0).then(|| (sum / n as f64) as f32)
}

/// Share of pairs the first member wins (a tie counts half), over pairs where both are present.
pub fn win_rate(pairs: impl Iterator<Item = (Option<f32>, Option<f32>)>) -> Option<f32> {
    mean(pairs.filter_map(|p| match p {
        (Some(a), Some(b)) if a > b => Some(1.0),
        (Some(a), Some(b)) if a < b => Some(0.0),
        (Some(_), Some(_)) => Some(0.5),
        _ => None,
    }))
}

/// Mean pairwise Euclidean distance between latents (None with fewer than two).
pub fn diversity(latents: &[&[f32]]) -> Option<f32> {
    let mut ds = Vec::new();
    for (i, a) in latents.iter().enumerate() {
        for b in &latents[i + 1..] {
            let d: f32 = a.iter().zip(b.iter()).map(|(x, y)| (x - y) * (x - y)).sum();
            ds.push(d.sqrt());
        }
    }
    mean(ds.into_iter())
}

/// Per-version results of a simulation arm.
#[derive(Debug, Clone, Serialize)]
pub struct VersionMetrics {
    /// Model version rated in this round.
    pub version: u32,
    /// Ratings given in the round (all raters, both clips of each pair).
    pub ratings: usize,
    /// Mean stars of honest raters on this version's clips.
    pub mean_rating: Option<f32>,
    /// Mean noiseless utility of this version's clips (ground truth).
    pub mean_utility: Option<f32>,
    /// Share of pairs where this version's clip got more stars than the base's (ties half).
    pub win_rate: Option<f32>,
    /// The same on noiseless utility.
    pub utility_win_rate: Option<f32>,
    /// Mean pairwise latent distance of this version's clips over the base's on the same requests.
    pub diversity_ratio: Option<f32>,
    /// Pool size the fine-tune that made this version trained on (None for the base).
    pub pool: Option<usize>,
    /// What the fine-tune's guard said, when this version was made by one.
    pub guard: Option<(f32, f32)>,
    /// Why the fine-tune after this round published nothing, if it did not.
    pub no_version: Option<String>,
}

/// The goals, checked on one arm.
#[derive(Debug, Clone, Serialize)]
pub struct Goals {
    /// Mean rating rose from each version to the next.
    pub rating_rises_every_iteration: bool,
    /// Win rate against the base at the third fine-tuned version (None: fewer iterations).
    pub win_rate_at_3: Option<f32>,
    /// Lowest diversity ratio over the fine-tuned versions.
    pub min_diversity_ratio: Option<f32>,
    /// All three goals met (rises, win rate ≥ 70 % by iteration 3, diversity ≥ 80 %).
    pub met: bool,
}

impl Goals {
    /// Checks the goals on an arm's versions.
    pub fn check(versions: &[VersionMetrics]) -> Self {
        let ratings: Vec<Option<f32>> = versions.iter().map(|v| v.mean_rating).collect();
        let rises = ratings.len() > 1
            && ratings
                .windows(2)
                .all(|w| matches!((w[0], w[1]), (Some(a), Some(b)) if b > a));
        let win_rate_at_3 = versions
            .iter()
            .find(|v| v.version == 3)
            .and_then(|v| v.win_rate);
        let min_div = versions
            .iter()
            .filter_map(|v| v.diversity_ratio)
            .fold(None, |m: Option<f32>, d| Some(m.map_or(d, |m| m.min(d))));
        let met =
            rises && win_rate_at_3.is_some_and(|w| w >= 0.7) && min_div.is_some_and(|d| d >= 0.8);
        Self {
            rating_rises_every_iteration: rises,
            win_rate_at_3,
            min_diversity_ratio: min_div,
            met,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn win_rate_counts_ties_half_and_skips_missing() {
        let pairs = [
            (Some(3.0), Some(2.0)),
            (Some(2.0), Some(2.0)),
            (Some(1.0), Some(4.0)),
            (None, Some(1.0)),
        ];
        assert_eq!(win_rate(pairs.into_iter()), Some(0.5));
        assert_eq!(win_rate(std::iter::empty()), None);
    }

    #[test]
    fn diversity_is_mean_pairwise_distance() {
        let a = [0.0f32, 0.0];
        let b = [3.0f32, 4.0];
        let c = [0.0f32, 4.0];
        // Distances 5, 4, 3.
        assert_eq!(diversity(&[&a, &b, &c]), Some(4.0));
        assert_eq!(diversity(&[&a]), None);
    }
}
