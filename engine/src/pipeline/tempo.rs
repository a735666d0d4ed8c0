//! Clips that fit the session: how N bars at the host's tempo map onto the model's fixed window
//! (docs/ARCHITECTURE.md §4.5). The model hears a whole number of beats stretched into its
//! window; longer clips are continued window by window; the result is stretched back to exactly
//! N bars and folded into a seamless loop.
use crate::audio::{meter_for, LoopInfo};
use crate::spectrogram::AudioConfig;
use serde::{Deserialize, Serialize};

/// Tempos outside this range are refused (a host reporting 0 or 10 000 BPM is a bug, not music).
pub const BPM_RANGE: (f64, f64) = (20.0, 400.0);
/// At most this many bars per clip (a request for more is a typo, and costs minutes per seed).
pub const MAX_BARS: u32 = 64;
/// Share of the latent window each continuation keeps from the one before (the outpainting's
/// known region): enough context for the model to carry the phrase on, small enough that each
/// window still adds most of its length.
const OVERLAP_FRACTION: f64 = 0.25;

/// A clip of `bars` bars at `bpm` with `beats_per_bar` beats (the host's tempo and metre).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BarFit {
    /// Quarter-note beats per minute as the host reports it.
    pub bpm: f64,
    /// Beats per bar (4 in 4/4, 3 in 3/4, 3.5 quarter notes in 7/8).
    pub beats_per_bar: f64,
    /// Bars in the clip.
    pub bars: u32,
}

impl BarFit {
    /// Why this fit cannot be used, if it cannot.
    pub fn problem(&self) -> Option<String> {
        let (lo, hi) = BPM_RANGE;
        if !(self.bpm.is_finite() && self.bpm >= lo && self.bpm <= hi) {
            return Some(format!("tempo must be {lo}–{hi} BPM, got {}", self.bpm));
        }
        if !(self.beats_per_bar.is_finite() && (0.5..=32.0).contains(&self.beats_per_bar)) {
            return Some(format!(
                "beats per bar must be 0.5–32, got {}",
                self.beats_per_bar
            ));
        }
        if self.bars == 0 || self.bars > MAX_BARS {
            return Some(format!("bars must be 1–{MAX_BARS}, got {}", self.bars));
        }
        None
    }

    /// Seconds per beat.
    pub fn beat_secs(&self) -> f64 {
        60.0 / self.bpm
    }

    /// Seconds per bar.
    pub fn bar_secs(&self) -> f64 {
        self.beats_per_bar * self.beat_secs()
    }

    /// The clip's exact length in samples at `rate`.
    pub fn clip_samples(&self, rate: u32) -> usize {
        (f64::from(self.bars) * self.bar_secs() * f64::from(rate)).round() as usize
    }

    /// What a WAV of this clip (`frames` at `rate`) tells a DAW in its loop chunks.
    pub fn loop_info(&self, frames: usize, rate: u32) -> LoopInfo {
        LoopInfo {
            frames: u32::try_from(frames).unwrap_or(u32::MAX),
            sample_rate: rate,
            bpm: self.bpm as f32,
            beats: (f64::from(self.bars) * self.beats_per_bar).round() as u32,
            meter: meter_for(self.beats_per_bar),
        }
    }
}

/// How a [`BarFit`] is laid onto the model's windows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layout {
    /// The request.
    pub fit: BarFit,
    /// Beats of real time one model window holds: whole bars when a bar fits in the window,
    /// else whole beats, whichever keeps the stretch closest to 1.
    pub window_beats: f64,
    /// Samples in one model window at the model rate.
    pub window_samples: usize,
    /// The model's sample rate.
    pub model_rate: u32,
    /// Latent columns (time axis) in one window.
    pub latent_width: usize,
    /// Latent columns a continuation keeps from the window before.
    pub overlap_columns: usize,
    /// Model-rate samples between the starts of consecutive windows.
    pub shift_samples: usize,
    /// Windows rendered per clip (1 = no continuation).
    pub windows: usize,
    /// Model-rate samples of model time the clip and its loop tail need.
    pub needed_samples: usize,
}

impl Layout {
    /// Lays `fit` out for a model with `config` and a latent `latent_width` columns wide.
    pub fn new(fit: BarFit, config: &AudioConfig, latent_width: usize) -> Self {
        let window_secs = config.window_secs();
        let beats_in_window = window_secs / fit.beat_secs();
        let window_beats = if beats_in_window >= fit.beats_per_bar {
            fit.beats_per_bar * (beats_in_window / fit.beats_per_bar).round().max(1.0)
        } else {
            beats_in_window.round().max(1.0)
        };
        let window_samples = config.window_samples();
        let latent_width = latent_width.max(2);
        let overlap_columns =
            ((latent_width as f64 * OVERLAP_FRACTION).round() as usize).clamp(1, latent_width - 1);
        let shift_samples = (window_samples as f64 * (latent_width - overlap_columns) as f64
            / latent_width as f64)
            .round() as usize;
        // Real seconds → model samples: one window holds `window_beats` beats.
        let model_per_real = window_samples as f64 / (window_beats * fit.beat_secs());
        let real = f64::from(fit.bars) * fit.bar_secs() + loop_tail_secs(&fit);
        let needed_samples = (real * model_per_real).ceil() as usize;
        let windows = 1 + needed_samples
            .saturating_sub(window_samples)
            .div_ceil(shift_samples.max(1));
        Self {
            fit,
            window_beats,
            window_samples,
            model_rate: config.sample_rate,
            latent_width,
            overlap_columns,
            shift_samples,
            windows,
            needed_samples,
        }
    }

    /// Seconds of the song that fill one model window (`window_beats` beats at the tempo).
    pub fn song_span_secs(&self) -> f64 {
        self.window_beats * self.fit.beat_secs()
    }

    /// Model time ÷ real time: above 1 the model hears the song slowed down.
    pub fn stretch(&self) -> f64 {
        self.window_samples as f64 / (self.song_span_secs() * f64::from(self.model_rate))
    }
}

/// Length of the crossfade that folds the clip's continuation onto its start so it loops: an
/// eighth of a beat, 10–40 ms (long enough to hide the seam, short enough to keep the downbeat).
pub fn loop_tail_secs(fit: &BarFit) -> f64 {
    (fit.beat_secs() / 8.0).clamp(0.010, 0.040)
}

/// The start, in samples, of the `span`-sample window of `samples` that starts on a bar line
/// (every `bar` samples from 0) and is loudest; 0 when the song is not longer than `span`.
pub fn loudest_bar_window(samples: &[f32], span: usize, bar: usize) -> usize {
    if samples.len() <= span || bar == 0 {
        return 0;
    }
    let energy = |start: usize| -> f64 {
        samples[start..start + span]
            .iter()
            .map(|&v| {
                if v.is_finite() {
                    f64::from(v) * f64::from(v)
                } else {
                    0.0
                }
            })
            .sum()
    };
    let last = samples.len() - span;
    let mut best = (0, energy(0));
    for start in (bar..=last).step_by(bar) {
        let e = energy(start);
        if e > best.1 {
            best = (start, e);
        }
    }
    best.0
}

/// `samples[start..start + span]`, repeating the song from `start` when it ends first (a
/// one-bar capture fills a three-bar window as the loop it is).
pub fn tiled(samples: &[f32], start: usize, span: usize) -> Vec<f32> {
    let from = &samples[start.min(samples.len())..];
    if from.is_empty() {
        return vec![0.0; span];
    }
    from.iter().copied().cycle().take(span).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(bpm: f64, beats_per_bar: f64, bars: u32) -> Layout {
        let fit = BarFit {
            bpm,
            beats_per_bar,
            bars,
        };
        Layout::new(fit, &AudioConfig::default(), 32)
    }

    #[test]
    fn the_window_holds_whole_bars_or_whole_beats_near_its_own_length() {
        // The default window is 5.94 s: three bars of 4/4 at 120 BPM, slightly sped up.
        let l = layout(120.0, 4.0, 2);
        assert_eq!(l.window_beats, 12.0);
        assert!((l.stretch() - 0.99).abs() < 0.01, "{}", l.stretch());
        assert_eq!(l.windows, 1);
        // One bar of 4/4 at 60 BPM is 4 s: the model hears it slowed down 1.49×.
        assert_eq!(layout(60.0, 4.0, 1).window_beats, 4.0);
        // A bar longer than the window: whole beats instead (2.97 → 3 beats at 30 BPM).
        assert_eq!(layout(30.0, 4.0, 1).window_beats, 3.0);
        // 7/8 (3.5 quarter notes) at 140 BPM: 1.5 s bars, four of them.
        assert_eq!(layout(140.0, 3.5, 1).window_beats, 14.0);
        for bpm in [20.0, 47.0, 90.0, 128.0, 174.0, 400.0] {
            let s = layout(bpm, 4.0, 1).stretch();
            assert!((0.66..=1.5).contains(&s), "{bpm} BPM: stretch {s}");
        }
    }

    #[test]
    fn longer_clips_take_more_windows_that_cover_them_and_the_loop_tail() {
        let l = layout(100.0, 4.0, 8);
        assert_eq!(l.overlap_columns, 8);
        assert!(l.windows >= 3);
        let covered = l.window_samples + (l.windows - 1) * l.shift_samples;
        assert!(covered >= l.needed_samples);
        assert!(covered - l.needed_samples < l.shift_samples);
        let fit = l.fit;
        assert_eq!(fit.clip_samples(44_100), 846_720);
    }

    #[test]
    fn bar_windows_start_on_bar_lines_and_short_songs_repeat() {
        let mut song = vec![0.1f32; 1000];
        song[600..800].iter_mut().for_each(|v| *v = 0.9);
        assert_eq!(loudest_bar_window(&song, 200, 100), 600);
        // Ties go to the earliest bar: [500, 800) holds the loud part as well as [600, 900).
        assert_eq!(loudest_bar_window(&song, 300, 100), 500);
        assert_eq!(loudest_bar_window(&song, 2000, 100), 0);
        assert_eq!(tiled(&[1.0, 2.0, 3.0], 1, 5), vec![2.0, 3.0, 2.0, 3.0, 2.0]);
        assert_eq!(tiled(&[1.0], 5, 2), vec![0.0, 0.0]);
    }

    #[test]
    fn fits_outside_music_are_refused() {
        let ok = BarFit {
            bpm: 120.0,
            beats_per_bar: 4.0,
            bars: 4,
        };
        assert_eq!(ok.problem(), None);
        assert!(BarFit { bpm: 0.0, ..ok }.problem().is_some());
        assert!(BarFit {
            beats_per_bar: 0.0,
            ..ok
        }
        .problem()
        .is_some());
        assert!(BarFit {
            bars: MAX_BARS + 1,
            ..ok
        }
        .problem()
        .is_some());
    }
}
