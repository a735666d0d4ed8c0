//! The plugin's parameters and its persisted (non-automatable) state.
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use nice_plug::prelude::*;
use refrain_engine::feedback::{SongId, Uid};
use refrain_engine::pipeline::detail::DEFAULT_DETAIL;
use serde::{Deserialize, Serialize};

/// At most this many captured songs are kept for the merge (DESIGN 4.4 uses n-way SLERP; the
/// editor shows four rows).
pub const MAX_SONGS: usize = 4;

/// Clips are this many bars at the host's tempo unless the project says otherwise.
pub const DEFAULT_CLIP_BARS: i32 = 4;
/// The longest clip the editor offers (each ~4.5 s of model time costs one window's sampling).
pub const MAX_CLIP_BARS: i32 = 16;

/// "1 bar", "4 bars".
pub fn bars_text(bars: u32) -> String {
    if bars == 1 {
        "1 bar".to_string()
    } else {
        format!("{bars} bars")
    }
}

/// What Clip length 0 shows: the model's own window, not fitted to bars.
const ONE_WINDOW: &str = "One window";

/// Reads a Clip length as shown ("One window", "1 bar", "4 bars") or typed ("4", "0").
pub fn parse_bars(text: &str) -> Option<i32> {
    let text = text.trim();
    if text.eq_ignore_ascii_case(ONE_WINDOW) {
        return Some(0);
    }
    let number = text
        .strip_suffix("bars")
        .or_else(|| text.strip_suffix("bar"))
        .unwrap_or(text)
        .trim();
    number.parse().ok()
}

/// How the capture length is counted.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthUnit {
    /// Bars at the host tempo (120 BPM 4/4 when the host has no tempo).
    #[id = "bars"]
    Bars,
    /// Seconds.
    #[id = "seconds"]
    Seconds,
}

/// One captured song, persisted in the plugin state; the audio lives in a WAV under the data
/// dir, so the project file stays small and the capture survives reopening the project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SongRef {
    /// Name shown and recorded with clips (renamable).
    pub name: String,
    /// Merge weight (≥ 0).
    pub weight: f32,
    /// The capture's WAV file.
    pub wav: PathBuf,
    /// Duration in seconds.
    pub duration_s: f64,
    /// The feedback store's row for this capture, once a clip made from it was saved. Persisted
    /// so a reopened project reuses the row instead of adding the same capture again (the
    /// store keeps its own copy of the audio, so the WAV path alone cannot find the row).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored: Option<StoredSong>,
}

/// A song row in the feedback store: the row id for a cheap lookup, and the uid that proves the
/// row is still the same song (the data dir may have been replaced or re-created since).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSong {
    /// Row id in the store that issued it.
    pub id: SongId,
    /// The row's globally unique id.
    pub uid: Uid,
}

/// Parameters (automatable where that makes musical sense) plus the persisted song list.
#[derive(Params)]
pub struct RefrainParams {
    /// How far from the songs the variations may go (img2img strength).
    #[id = "strength"]
    pub strength: FloatParam,
    /// How much of the songs' fine detail (onsets, edges) is added back to the variations.
    #[id = "detail"]
    pub detail: FloatParam,
    /// DDIM steps.
    #[id = "steps"]
    pub steps: IntParam,
    /// Clips per Generate.
    #[id = "variations"]
    pub variations: IntParam,
    /// Base seed; each variation adds its index.
    #[id = "seed"]
    pub seed: IntParam,
    /// Keep the seed between runs (else a fresh one per run).
    #[id = "seed_lock"]
    pub seed_lock: BoolParam,
    /// DDIM η (0 = deterministic).
    #[id = "eta"]
    pub eta: FloatParam,
    /// Preview gain.
    #[id = "preview_level"]
    pub preview_level: FloatParam,
    /// Dry/wet: 0 = track only, 0.5 = track untouched plus preview, 1 = preview only.
    #[id = "dry_wet"]
    pub dry_wet: FloatParam,
    /// The host's bypass: the track passes untouched, no preview is mixed in.
    #[id = "bypass"]
    pub bypass: BoolParam,
    /// Clip length in bars at the host's tempo (0 = one model window, today's 5.94 s, and what
    /// any setting gives when the host reports no tempo).
    #[id = "clip_bars"]
    pub clip_bars: IntParam,
    /// Capture length, in `capture_unit`s.
    #[id = "capture_length"]
    pub capture_length: FloatParam,
    /// Bars or seconds.
    #[id = "capture_unit"]
    pub capture_unit: EnumParam<LengthUnit>,
    /// Captured songs (persisted; see [`SongRef`]).
    #[persist = "songs"]
    pub songs: Arc<Mutex<Vec<SongRef>>>,
    /// The model version this project generates with: a key of the version list
    /// (`refrain_engine::catalog`), or empty to follow the latest (`models/current`), so a
    /// project keeps the sound it was made with after new fine-tunes land.
    #[persist = "model"]
    pub model_choice: Arc<Mutex<String>>,
    /// The vocoder this project renders with (`refrain_engine::vocoder::NAMES`), or empty for
    /// the model version's own; saved with the project like the model choice.
    #[persist = "vocoder"]
    pub vocoder_choice: Arc<Mutex<String>>,
}

impl Default for RefrainParams {
    fn default() -> Self {
        Self {
            strength: FloatParam::new(
                "Strength",
                0.5,
                FloatRange::Linear {
                    min: 0.05,
                    max: 1.0,
                },
            )
            .with_step_size(0.01),
            detail: FloatParam::new(
                "Detail",
                DEFAULT_DETAIL as f32,
                FloatRange::Linear { min: 0.0, max: 1.0 },
            )
            .with_step_size(0.01),
            steps: IntParam::new("Steps", 25, IntRange::Linear { min: 1, max: 100 })
                .non_automatable(),
            variations: IntParam::new("Variations", 4, IntRange::Linear { min: 1, max: 8 })
                .non_automatable(),
            seed: IntParam::new(
                "Seed",
                1,
                IntRange::Linear {
                    min: 0,
                    max: 99_999,
                },
            )
            .non_automatable(),
            seed_lock: BoolParam::new("Seed lock", false).non_automatable(),
            eta: FloatParam::new("Eta", 0.0, FloatRange::Linear { min: 0.0, max: 1.0 })
                .with_step_size(0.01),
            preview_level: FloatParam::new(
                "Preview level",
                util::db_to_gain(0.0),
                FloatRange::Skewed {
                    min: util::db_to_gain(-60.0),
                    max: util::db_to_gain(6.0),
                    factor: FloatRange::gain_skew_factor(-60.0, 6.0),
                },
            )
            .with_unit(" dB")
            .with_value_to_string(formatters::v2s_f32_gain_to_db(1))
            .with_string_to_value(formatters::s2v_f32_gain_to_db()),
            dry_wet: FloatParam::new("Dry/Wet", 0.5, FloatRange::Linear { min: 0.0, max: 1.0 })
                .with_step_size(0.01),
            bypass: BoolParam::new("Bypass", false).make_bypass(),
            clip_bars: IntParam::new(
                "Clip length",
                DEFAULT_CLIP_BARS,
                IntRange::Linear {
                    min: 0,
                    max: MAX_CLIP_BARS,
                },
            )
            .with_value_to_string(Arc::new(|bars| match u32::try_from(bars) {
                Ok(bars) if bars > 0 => bars_text(bars),
                _ => ONE_WINDOW.to_string(),
            }))
            // Hosts (and clap-validator) type back what the plugin shows.
            .with_string_to_value(Arc::new(parse_bars))
            .non_automatable(),
            capture_length: FloatParam::new(
                "Capture length",
                4.0,
                FloatRange::Linear {
                    min: 1.0,
                    max: 30.0,
                },
            )
            .with_step_size(1.0)
            .non_automatable(),
            capture_unit: EnumParam::new("Capture unit", LengthUnit::Bars).non_automatable(),
            songs: Arc::new(Mutex::new(Vec::new())),
            model_choice: Arc::new(Mutex::new(String::new())),
            vocoder_choice: Arc::new(Mutex::new(String::new())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_length_reads_back_every_text_it_shows() {
        // clap-validator's param-conversions: value → text → value must round-trip.
        let params = RefrainParams::default();
        for bars in 0..=MAX_CLIP_BARS {
            let text = params
                .clip_bars
                .normalized_value_to_string(params.clip_bars.preview_normalized(bars), true);
            assert_eq!(parse_bars(&text), Some(bars), "{text}");
        }
        assert_eq!(parse_bars(" 8 "), Some(8));
        assert_eq!(parse_bars("one window"), Some(0));
        assert_eq!(parse_bars("a few"), None);
    }
}
