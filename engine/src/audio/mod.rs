//! Audio I/O and sample-level DSP: decoding songs, writing WAV files, resampling and shaping.
//!
//! Everything here works on planar `f32` audio in [`Audio`]; the rest of the engine (spectrogram,
//! model, worker) only ever sees that type, never a file format or a resampler.

mod error;
mod loop_chunks;
mod read;
mod resample;
mod shape;
mod stretch;
mod wav;

pub use error::AudioError;
pub use loop_chunks::{append_loop_chunks, meter_for, read_loop_chunks, LoopInfo};

/// Audio the engine hands out is scaled down when its peak exceeds this (generated clips,
/// round trips), so nothing clips in a fixed-point file or after export.
pub const PEAK_CEILING: f32 = 0.98;
pub use read::read_file;
pub use resample::{resample, resample_audio};
pub use shape::{fit_length, loudest_window, sanitize};
pub use stretch::stretch_to;
pub use wav::{quantize_i16, quantize_i24, write_wav, write_wav_i16, write_wav_pcm24};

/// A clip of planar audio: one `Vec<f32>` per channel, all of the same length, nominally in
/// [-1, 1].
///
/// Planar (rather than interleaved) because almost every consumer works per channel: the
/// resampler, the mono downmix that feeds the mel spectrogram, and the per-channel synth voices.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// Frames per second.
    pub sample_rate: u32,
    /// One vector of samples per channel; every channel has [`Audio::frames`] samples.
    pub channels: Vec<Vec<f32>>,
}

impl Audio {
    /// Builds a clip from planar channels, checking the invariants the rest of the engine relies
    /// on: a non-zero rate, at least one channel and equally long channels.
    pub fn new(sample_rate: u32, channels: Vec<Vec<f32>>) -> Result<Self, AudioError> {
        if sample_rate == 0 {
            return Err(AudioError::InvalidSampleRate { rate: sample_rate });
        }
        let Some(first) = channels.first() else {
            return Err(AudioError::InvalidAudio(
                "a clip needs at least one channel".into(),
            ));
        };
        let frames = first.len();
        if let Some((i, ch)) = channels.iter().enumerate().find(|(_, c)| c.len() != frames) {
            return Err(AudioError::InvalidAudio(format!(
                "channel {i} has {} samples but channel 0 has {frames}",
                ch.len()
            )));
        }
        Ok(Self {
            sample_rate,
            channels,
        })
    }

    /// A one-channel clip.
    pub fn from_mono(sample_rate: u32, samples: Vec<f32>) -> Self {
        Self {
            sample_rate,
            channels: vec![samples],
        }
    }

    /// Number of frames (samples per channel); 0 for a clip with no channels.
    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    /// Number of channels.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// Length in seconds (0 when the rate is 0, rather than a NaN or infinity).
    pub fn duration_secs(&self) -> f64 {
        if self.sample_rate == 0 {
            return 0.0;
        }
        self.frames() as f64 / f64::from(self.sample_rate)
    }

    /// Downmix to mono as the mean of the channels.
    ///
    /// The mean (not the sum) keeps a full-scale mono source that was duplicated to stereo at
    /// full scale, and never clips a clip that did not clip before.
    pub fn mono(&self) -> Vec<f32> {
        match self.channels.as_slice() {
            [] => Vec::new(),
            [only] => only.clone(),
            many => {
                let scale = 1.0 / many.len() as f32;
                let mut out = vec![0.0f32; self.frames()];
                for ch in many {
                    for (o, s) in out.iter_mut().zip(ch) {
                        *o += *s;
                    }
                }
                out.iter_mut().for_each(|o| *o *= scale);
                out
            }
        }
    }

    /// Largest absolute sample value over all channels (0 for an empty clip).
    pub fn peak(&self) -> f32 {
        self.channels
            .iter()
            .flatten()
            .fold(0.0f32, |m, s| m.max(s.abs()))
    }
}
