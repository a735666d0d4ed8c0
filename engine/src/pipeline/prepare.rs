//! Choosing and resampling one song's window without touching the rest of the song.
use super::tempo::{self, Layout};
use super::{PipelineError, SongInput, SongUse};
use crate::audio;
use crate::spectrogram::AudioConfig;

/// Songs longer than this are refused: only one ~6 s window is used, and decoding hours of audio
/// into memory is a mistake worth a message rather than a stall.
pub const MAX_SONG_SECONDS: f64 = 30.0 * 60.0;

/// A song's window at the model rate, and how it was chosen.
#[derive(Debug, Clone)]
pub struct PreparedSong {
    /// `window_samples()` samples at the model rate.
    pub window: Vec<f32>,
    /// Where it came from.
    pub usage: SongUse,
}

/// Picks the window (given offset, else the loudest) at the song's own rate, cuts it with a
/// margin for the resampler, and resamples only that: a 10-minute song costs what 6 s cost.
/// With a `layout` the window is the layout's whole beats from a bar line (the loudest bar,
/// or the offset), repeated when the song is shorter, and stretched into the model's window.
pub fn prepare(
    song: &SongInput,
    config: &AudioConfig,
    layout: Option<&Layout>,
) -> Result<PreparedSong, PipelineError> {
    let problem = |problem: String| PipelineError::Song {
        song: song.name.clone(),
        problem,
    };
    let rate = song.audio.sample_rate;
    let seconds = song.audio.duration_secs();
    if seconds > MAX_SONG_SECONDS {
        return Err(problem(format!(
            "is {:.0} min long; the limit is {:.0} min (only a {:.1} s window is used: trim it)",
            seconds / 60.0,
            MAX_SONG_SECONDS / 60.0,
            config.window_secs()
        )));
    }
    if !(song.weight.is_finite() && song.weight >= 0.0) {
        return Err(problem(format!("weight must be ≥ 0, got {}", song.weight)));
    }
    let mut mono = song.audio.mono();
    let replaced = audio::sanitize(&mut mono);
    if replaced > 0 {
        tracing::warn!(
            "song `{}`: replaced {replaced} NaN/infinite samples with silence",
            song.name
        );
    }
    let source_len = match layout {
        Some(l) => (l.song_span_secs() * rate as f64).round() as usize,
        None => (config.window_secs() * rate as f64).ceil() as usize,
    };
    let start = match song.offset_s {
        Some(offset) if !(offset.is_finite() && offset >= 0.0) => {
            return Err(problem(format!("offset must be ≥ 0 s, got {offset}")));
        }
        Some(offset) if offset >= seconds => {
            return Err(problem(format!(
                "offset {offset:.2} s is past its end ({seconds:.2} s)"
            )));
        }
        Some(offset) => (offset * rate as f64) as usize,
        None => match layout {
            Some(l) => {
                let bar = (l.fit.bar_secs() * rate as f64).round() as usize;
                tempo::loudest_bar_window(&mono, source_len, bar)
            }
            None => audio::loudest_window(&mono, source_len, (rate as usize / 20).max(1)),
        },
    };
    let window = match layout {
        Some(l) => {
            let span = tempo::tiled(&mono, start, source_len);
            let at_model_rate = audio::resample(&span, rate, config.sample_rate)?;
            audio::stretch_to(&at_model_rate, l.window_samples, config.sample_rate)?
        }
        None => cut_and_resample(&mono, start, source_len, rate, config)?,
    };
    let peak = window.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if peak < 1e-4 {
        return Err(problem(format!(
            "is silent at {:.2} s (peak below −80 dBFS): pick another offset or capture",
            start as f64 / rate as f64
        )));
    }
    let usage = SongUse {
        name: song.name.clone(),
        weight: song.weight,
        offset_s: start as f64 / rate as f64,
        replaced_samples: replaced,
    };
    Ok(PreparedSong { window, usage })
}

/// `source_len` samples of `mono` from `start`, resampled to the model's window (zeros past the
/// song's end), with a few ms of margin each side so the resampler's filter sees real context.
fn cut_and_resample(
    mono: &[f32],
    start: usize,
    source_len: usize,
    rate: u32,
    config: &AudioConfig,
) -> Result<Vec<f32>, PipelineError> {
    let margin = (rate as usize / 50).max(64);
    let from = start.saturating_sub(margin);
    let to = (start + source_len + margin).min(mono.len());
    let resampled = audio::resample(&mono[from..to], rate, config.sample_rate)?;
    let skip = ((start - from) as f64 * config.sample_rate as f64 / rate as f64).round() as usize;
    Ok(audio::fit_length(
        resampled.get(skip..).unwrap_or(&[]),
        config.window_samples(),
    ))
}
