//! Preview on the audio thread: loop the clip the controller sent, starting on the next bar
//! when the transport plays, mixed into the output; count the frames played (listening time).
//! A replaced clip goes back to the controller to be freed there.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{AudioCore, FromAudio, TransportInfo};
use crate::transport::frames_to_next_bar;

/// A clip ready to play: mono samples at the host rate, and the counter of frames played that
/// the controller reads for listening time.
#[derive(Debug)]
pub struct PreviewClip {
    /// The controller's key for the clip (never 0).
    pub key: u64,
    /// Mono samples at the host rate.
    pub samples: Vec<f32>,
    /// Frames actually played through the output (incremented by the audio thread).
    pub played: Arc<AtomicU64>,
}

/// Output mix for a block: preview level (linear) and dry/wet (0 = dry only, 1 = preview only).
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    /// Linear gain of the preview.
    pub level: f32,
    /// Dry/wet balance in 0..=1.
    pub dry_wet: f32,
    /// The host's bypass: the track passes untouched and the preview holds its place (no
    /// listening time counts).
    pub bypassed: bool,
}

impl Mix {
    /// Equal-level crossfade law: both at unity at 0.5, so the default leaves the input
    /// untouched and adds the preview on top.
    pub(super) fn gains(self) -> (f32, f32) {
        let w = self.dry_wet.clamp(0.0, 1.0);
        ((2.0 * (1.0 - w)).min(1.0), (2.0 * w).min(1.0) * self.level)
    }
}

impl AudioCore {
    pub(super) fn retire_preview(&mut self) {
        if let Some(old) = self.preview.take() {
            self.shared.playing_key.store(0, Ordering::Relaxed);
            // A slot was checked in take_commands; if the push still fails, the box is lost
            // to a leak rather than freed here (never happens with the capacities above).
            if let Err(rtrb::PushError::Full(FromAudio::Retired(b))) =
                self.from_audio.push(FromAudio::Retired(old))
            {
                std::mem::forget(b);
            }
        }
    }

    pub(super) fn preview_block(
        &mut self,
        channels: &mut [&mut [f32]],
        frames: usize,
        t: &TransportInfo,
        rate: f32,
        mix: Mix,
    ) {
        if mix.bypassed {
            return;
        }
        let Some(clip) = self.preview.as_ref() else {
            return;
        };
        if clip.samples.is_empty() {
            return;
        }
        let mut start = 0;
        if self.preview_waits {
            match frames_to_next_bar(t, rate) {
                // No bar to wait for (stopped, or no timeline): free-running, start now.
                None => self.preview_waits = false,
                Some(offset) if (offset as usize) < frames => {
                    start = offset as usize;
                    self.preview_waits = false;
                }
                Some(_) => return,
            }
        }
        let (dry, wet) = mix.gains();
        let n = clip.samples.len();
        for i in start..frames {
            let s = clip.samples[self.preview_pos] * wet;
            for channel in channels.iter_mut() {
                channel[i] = channel[i] * dry + s;
            }
            self.preview_pos = (self.preview_pos + 1) % n;
        }
        clip.played
            .fetch_add((frames - start) as u64, Ordering::Relaxed);
    }
}
