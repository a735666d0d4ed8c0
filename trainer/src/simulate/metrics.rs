//! What a simulated round measures: mean rating, blind win rate, and output diversity.
use serde::{Deserialize, Serialize};

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

/// What the honest rater said about one request's clip and its comparison (None: a spammer, or
/// no comparison in round 0).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct RequestOutcome {
    /// Stars of this version's clip.
    pub stars: Option<f32>,
    /// Its noiseless utility.
    pub utility: Option<f32>,
    /// Stars of the base's clip for the same request.
    pub twin_stars: Option<f32>,
    /// Its noiseless utility.
    pub twin_utility: Option<f32>,
}

/// 95 % percentile-bootstrap interval of `stat` over resamples of `n` items (requests), drawn
/// with a fixed seed so a table is reproducible; None when `stat` has no value.
pub fn bootstrap(n: usize, stat: impl Fn(&[usize]) -> Option<f32>) -> Option<(f32, f32)> {
    use rand::{RngExt, SeedableRng};
    const DRAWS: usize = 2000;
    if n == 0 {
        return None;
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0xB007);
    let mut values: Vec<f32> = (0..DRAWS)
        .filter_map(|_| {
            let pick: Vec<usize> = (0..n).map(|_| rng.random_range(0..n)).collect();
            stat(&pick)
        })
        .collect();
    if values.len() < DRAWS / 2 {
        return None;
    }
    values.sort_by(f32::total_cmp);
    let at = |p: f64| values[((values.len() - 1) as f64 * p).round() as usize];
    Some((at(0.025), at(0.975)))
}

/// Mean stars gained from `a` to `b` paired by request (the same requests are heard every
/// round; a request counts where an honest rater rated both), with its 95 % interval. Paired,
/// so spammers drawing different requests in the two rounds do not move it.
pub fn paired_gain(a: &VersionMetrics, b: &VersionMetrics) -> Option<(f32, (f32, f32))> {
    let diffs: Vec<Option<f32>> = a
        .requests
        .iter()
        .zip(&b.requests)
        .map(|(x, y)| y.stars.zip(x.stars).map(|(y, x)| y - x))
        .collect();
    let mean_of = |pick: &[usize]| mean(pick.iter().filter_map(|&i| diffs[i]));
    let all: Vec<usize> = (0..diffs.len()).collect();
    mean_of(&all).zip(bootstrap(diffs.len(), mean_of))
}

/// 95 % interval of a version's blind star win rate against the base.
pub fn win_interval(v: &VersionMetrics) -> Option<(f32, f32)> {
    let r = &v.requests;
    bootstrap(r.len(), |pick| {
        win_rate(pick.iter().map(|&i| (r[i].stars, r[i].twin_stars)))
    })
}

/// Per-version results of a simulation arm.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// Each request's outcome, in request order (for intervals).
    pub requests: Vec<RequestOutcome>,
    /// Wall time of the fine-tune round that made this version (s).
    pub finetune_s: Option<f64>,
    /// Pool size the fine-tune that made this version trained on (None for the base).
    pub pool: Option<usize>,
    /// What the fine-tune's guard said, when this version was made by one.
    pub guard: Option<(f32, f32)>,
    /// Why the fine-tune after this round published nothing, if it did not.
    pub no_version: Option<String>,
}

/// Issue 14's goals, checked on one arm (the paper's gains: +0.20 stars after its first
/// iteration, +0.39 more after its second).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Goals {
    /// Mean stars v1 − v0 (goal ≥ 0.20).
    pub gain_v1: Option<f32>,
    /// Mean stars v2 − v1 (goal ≥ 0.39).
    pub gain_v2: Option<f32>,
    /// Blind star win rate against the base at v3 (goal ≥ 70 %).
    pub win_rate_at_3: Option<f32>,
    /// Lowest diversity ratio over the fine-tuned versions (goal ≥ 80 %).
    pub min_diversity_ratio: Option<f32>,
    /// Held-out loss of the last version over the base's, minus 1 (goal ≤ 5 %).
    pub forgetting: Option<f32>,
    /// All five met.
    pub met: bool,
}

/// Stars the paper gained after its first iteration.
pub const GOAL_GAIN_V1: f32 = 0.20;
/// Stars the paper gained after its second iteration.
pub const GOAL_GAIN_V2: f32 = 0.39;

impl Goals {
    /// Checks the goals on an arm's versions.
    pub fn check(versions: &[VersionMetrics]) -> Self {
        let stars = |v: u32| {
            versions
                .iter()
                .find(|m| m.version == v)
                .and_then(|m| m.mean_rating)
        };
        let gain = |a: u32, b: u32| stars(b).zip(stars(a)).map(|(b, a)| b - a);
        let win_rate_at_3 = versions
            .iter()
            .find(|v| v.version == 3)
            .and_then(|v| v.win_rate);
        let min_div = versions
            .iter()
            .filter_map(|v| v.diversity_ratio)
            .fold(None, |m: Option<f32>, d| Some(m.map_or(d, |m| m.min(d))));
        // The base's held-out loss is what the first fine-tune measured before it began.
        let base_loss = versions.iter().find_map(|v| v.guard).map(|g| g.0);
        let last_loss = versions.iter().rev().find_map(|v| v.guard).map(|g| g.1);
        let forgetting = base_loss
            .zip(last_loss)
            .filter(|(b, _)| *b > 0.0)
            .map(|(b, l)| l / b - 1.0);
        let (gain_v1, gain_v2) = (gain(0, 1), gain(1, 2));
        let met = gain_v1.is_some_and(|g| g >= GOAL_GAIN_V1)
            && gain_v2.is_some_and(|g| g >= GOAL_GAIN_V2)
            && win_rate_at_3.is_some_and(|w| w >= 0.7)
            && min_div.is_some_and(|d| d >= 0.8)
            && forgetting.is_some_and(|f| f <= 0.05);
        Self {
            gain_v1,
            gain_v2,
            win_rate_at_3,
            min_diversity_ratio: min_div,
            forgetting,
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
    fn bootstrap_brackets_the_mean_and_narrows_with_more_data() {
        let mean_of = |v: &[f32]| {
            let v = v.to_vec();
            move |pick: &[usize]| mean(pick.iter().map(|&i| v[i]))
        };
        let small: Vec<f32> = (0..10).map(|i| (i % 2) as f32).collect();
        let large: Vec<f32> = (0..1000).map(|i| (i % 2) as f32).collect();
        let (a, b) = bootstrap(small.len(), mean_of(&small)).unwrap();
        let (c, d) = bootstrap(large.len(), mean_of(&large)).unwrap();
        assert!(a < 0.5 && 0.5 < b, "{a} {b}");
        assert!(
            c < 0.5 && 0.5 < d && d - c < 0.5 * (b - a),
            "{c} {d} vs {a} {b}"
        );
        assert_eq!(bootstrap(0, mean_of(&small)), None);
        assert_eq!(bootstrap(5, |_| None), None);
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
