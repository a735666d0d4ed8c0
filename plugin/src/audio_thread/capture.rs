//! Capture on the audio thread: wait for the next bar (or the transport to start), then copy the
//! input into a buffer the controller allocated beforehand and hand it back through the ring
//! when full. No allocation: a missing spare buffer is reported as [`capture_state::NO_BUFFER`].
use std::sync::atomic::Ordering;

use super::{AudioCore, FromAudio, Shared, TransportInfo};
use crate::transport::frames_to_next_bar;

/// Capture state values stored in [`Shared::capture_state`].
pub mod capture_state {
    /// Nothing happening.
    pub const IDLE: u8 = 0;
    /// Armed, waiting for the next bar (or for the transport to play).
    pub const ARMED: u8 = 1;
    /// Recording.
    pub const RECORDING: u8 = 2;
    /// Armed, but no spare buffer was available (the controller has not caught up).
    pub const NO_BUFFER: u8 = 3;
}

#[derive(Debug)]
pub struct CaptureBuffer {
    /// Left channel; its length is the capacity in frames.
    pub left: Vec<f32>,
    /// Right channel (same length as `left`).
    pub right: Vec<f32>,
    /// Frames recorded so far.
    pub len: usize,
    /// The host sample rate it was recorded at.
    pub sample_rate: u32,
}

impl CaptureBuffer {
    /// A zeroed buffer holding `frames` stereo frames.
    pub fn with_capacity(frames: usize, sample_rate: u32) -> Box<Self> {
        Box::new(Self {
            left: vec![0.0; frames],
            right: vec![0.0; frames],
            len: 0,
            sample_rate,
        })
    }
}

impl AudioCore {
    pub(super) fn capture_block(
        &mut self,
        left: &[f32],
        right: &[f32],
        t: &TransportInfo,
        rate: f32,
    ) {
        use capture_state::*;
        let sh = &self.shared;
        if sh.cancel_capture.swap(false, Ordering::Relaxed) {
            if let Some(buf) = self.capture.as_mut() {
                buf.len = 0;
            }
            sh.capture_state.store(IDLE, Ordering::Relaxed);
        }
        if sh.arm.swap(false, Ordering::Relaxed) {
            sh.capture_state.store(ARMED, Ordering::Relaxed);
        }
        let state = sh.capture_state.load(Ordering::Relaxed);
        if state == ARMED || state == NO_BUFFER {
            if self.capture.is_none() {
                self.capture = self.spare.pop().ok();
            }
            let Some(buf) = self.capture.as_mut() else {
                sh.capture_state.store(NO_BUFFER, Ordering::Relaxed);
                return;
            };
            let start = capture_start(t, left.len(), rate);
            let Some(start) = start else {
                sh.capture_state.store(ARMED, Ordering::Relaxed);
                return;
            };
            buf.len = 0;
            let total = capture_frames(sh, t, rate).min(buf.left.len()) as u64;
            sh.capture_total.store(total, Ordering::Relaxed);
            sh.capture_done.store(0, Ordering::Relaxed);
            sh.capture_state.store(RECORDING, Ordering::Relaxed);
            self.record(&left[start..], &right[start..]);
        } else if state == RECORDING {
            self.record(left, right);
        }
    }

    fn record(&mut self, left: &[f32], right: &[f32]) {
        let sh = &self.shared;
        let total = sh.capture_total.load(Ordering::Relaxed) as usize;
        if let Some(buf) = self.capture.as_mut() {
            let n = left.len().min(total.saturating_sub(buf.len));
            buf.left[buf.len..buf.len + n].copy_from_slice(&left[..n]);
            buf.right[buf.len..buf.len + n].copy_from_slice(&right[..n]);
            buf.len += n;
            sh.capture_done.store(buf.len as u64, Ordering::Relaxed);
            if buf.len >= total && self.from_audio.slots() > 1 {
                if let Some(done) = self.capture.take() {
                    // slots() > 1 was checked, so this push cannot fail.
                    let _ = self.from_audio.push(FromAudio::Captured(done));
                }
                sh.capture_state
                    .store(capture_state::IDLE, Ordering::Relaxed);
            }
        }
    }
}

/// Where in a block of `frames` an armed capture starts, or `None` to keep waiting: at once
/// without a host timeline; not while a timeline's transport is stopped (the producer presses
/// play); on the next bar line while it plays (at once if its tempo gives no bar).
fn capture_start(t: &TransportInfo, frames: usize, rate: f32) -> Option<usize> {
    if !t.has_timeline() {
        return Some(0);
    }
    if !t.playing {
        return None;
    }
    match frames_to_next_bar(t, rate) {
        None => Some(0),
        Some(offset) => usize::try_from(offset).ok().filter(|o| *o < frames),
    }
}

/// Frames the armed capture should record: bars at the host tempo (120 BPM 4/4 without one),
/// else seconds.
fn capture_frames(sh: &Shared, t: &TransportInfo, rate: f32) -> usize {
    let length = f64::from(f32::from_bits(sh.capture_length.load(Ordering::Relaxed))).max(0.0);
    let seconds = if sh.length_in_bars.load(Ordering::Relaxed) {
        let beats_per_bar = if t.beats_per_bar > 0.0 {
            t.beats_per_bar
        } else {
            4.0
        };
        length * beats_per_bar * 60.0 / t.tempo.filter(|v| *v > 0.0).unwrap_or(120.0)
    } else {
        length
    };
    (seconds * f64::from(rate)).round() as usize
}
