//! Joining rendered windows into one clip and folding its end onto its start so it loops, and
//! the seam measure the tests and the CLI report (docs/ARCHITECTURE.md §4.5).

/// Places window `k` at `k · shift` and crossfades each pair over `crossfade` samples centred in
/// their overlap (away from both windows' edges, where the decoder and the vocoder see the
/// least context). Windows are equally long; `shift` ≤ their length. The fade is linear
/// (constant gain): both sides render the same latent columns, so they are alike, and an
/// equal-power fade would lift the level by up to 3 dB at the join.
pub fn join(windows: &[Vec<f32>], shift: usize, crossfade: usize) -> Vec<f32> {
    let Some(first) = windows.first() else {
        return Vec::new();
    };
    let len = first.len();
    let shift = shift.clamp(1, len.max(1));
    let overlap = len - shift;
    let crossfade = crossfade.min(overlap);
    let mut out = first.clone();
    for (k, window) in windows.iter().enumerate().skip(1) {
        let start = k * shift;
        // The crossfade runs over [fade_from, fade_from + crossfade) of the output.
        let fade_from = start + (overlap - crossfade) / 2;
        out.truncate(fade_from + crossfade);
        for i in 0..crossfade {
            let fade_in = (i as f32 + 0.5) / crossfade as f32;
            let fade_out = 1.0 - fade_in;
            let at = fade_from + i;
            out[at] = out[at] * fade_out + window[at - start] * fade_in;
        }
        out.extend_from_slice(&window[fade_from + crossfade - start..]);
    }
    out
}

/// The first `len` samples of `audio` as a loop: the `tail` samples that follow them are
/// crossfaded into the start, so the loop's last sample runs on into its first as the music
/// ran on. Equal-power, because the start and the continuation are different music. Missing
/// samples count as silence.
pub fn fold_loop(audio: &[f32], len: usize, tail: usize) -> Vec<f32> {
    let at = |i: usize| audio.get(i).copied().unwrap_or(0.0);
    let tail = tail.min(len);
    (0..len)
        .map(|i| {
            if i < tail {
                let (from_tail, from_head) = equal_power(i, tail);
                at(i) * from_head + at(len + i) * from_tail
            } else {
                at(i)
            }
        })
        .collect()
}

/// Gains (fading out, fading in) at sample `i` of an `n`-sample equal-power crossfade.
fn equal_power(i: usize, n: usize) -> (f32, f32) {
    let x = (i as f32 + 0.5) / n.max(1) as f32 * std::f32::consts::FRAC_PI_2;
    (x.cos(), x.sin())
}

/// Sample-to-sample steps of a loop: at its seam (last sample → first) and the largest inside.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeamSteps {
    /// |first − last|.
    pub seam: f32,
    /// The largest |x[i+1] − x[i]| inside the clip.
    pub body_max: f32,
}

impl SeamSteps {
    /// Measures `clip` (empty or one-sample clips have no steps).
    pub fn of(clip: &[f32]) -> Self {
        let body_max = clip
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f32::max);
        let seam = match (clip.first(), clip.last()) {
            (Some(a), Some(b)) if clip.len() > 1 => (a - b).abs(),
            _ => 0.0,
        };
        Self { seam, body_max }
    }

    /// True when the seam is no larger than a step the clip already has inside.
    pub fn is_seamless(&self) -> bool {
        self.seam <= self.body_max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_copies_of_one_signal_give_the_signal_back() {
        let signal: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.05).sin()).collect();
        let (len, shift) = (400, 300);
        let windows: Vec<Vec<f32>> = (0..3)
            .map(|k| signal[k * shift..k * shift + len].to_vec())
            .collect();
        let joined = join(&windows, shift, 60);
        assert_eq!(joined.len(), 2 * shift + len);
        let worst = joined
            .iter()
            .zip(&signal)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        // Linear gains sum to 1, so the fades are exact where the windows agree.
        assert!(worst < 1e-5, "worst {worst}");
        assert_eq!(join(&windows[..1], shift, 60), windows[0]);
        assert!(join(&[], shift, 60).is_empty());
    }

    #[test]
    fn a_folded_ramp_loops_without_a_step() {
        // A signal whose continuation past `len` is smooth: the fold hides the jump back to 0.
        let audio: Vec<f32> = (0..1100).map(|i| (i as f32 * 0.01).sin()).collect();
        let looped = fold_loop(&audio, 1000, 50);
        assert_eq!(looped.len(), 1000);
        let steps = SeamSteps::of(&looped);
        assert!(steps.is_seamless(), "{steps:?}");
        // Cut without the fold, the same clip steps at the seam.
        assert!(!SeamSteps::of(&audio[..1000]).is_seamless());
        assert_eq!(&looped[50..], &audio[50..1000]);
    }
}
