//! The audio-thread side: capture into a pre-allocated buffer and play a preview clip, with
//! nothing but atomics and lock-free SPSC rings (`rtrb`) shared with the controller thread.
//!
//! Rules this file keeps: no allocation, no deallocation, no lock, no I/O, no waiting. Buffers
//! arrive already allocated (spare capture buffers, boxed preview clips) and leave through a
//! ring so that the controller, not the audio thread, frees them.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use rtrb::{Consumer, Producer, RingBuffer};

use crate::transport::frames_to_next_bar;
pub use crate::transport::TransportInfo;

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

/// A stereo capture buffer, allocated by the controller before the audio thread needs it.
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

/// Controller → audio thread.
#[derive(Debug)]
pub enum ToAudio {
    /// Start looping this clip (replacing the current one).
    Play(Box<PreviewClip>),
    /// Stop the preview.
    Stop,
}

/// Audio thread → controller.
#[derive(Debug)]
pub enum FromAudio {
    /// A finished capture (the controller writes it and recycles the buffer).
    Captured(Box<CaptureBuffer>),
    /// A preview clip the audio thread no longer plays, handed back to be freed elsewhere.
    Retired(Box<PreviewClip>),
}

/// Atomics shared by the audio thread, the controller and the editor.
#[derive(Debug, Default)]
pub struct Shared {
    /// Set by the controller to arm; the audio thread clears it when it takes it.
    pub arm: AtomicBool,
    /// Set to cancel an armed or running capture.
    pub cancel_capture: AtomicBool,
    /// Capture length as f32 bits, in bars when `length_in_bars`, else seconds.
    pub capture_length: AtomicU32,
    /// Whether `capture_length` counts bars.
    pub length_in_bars: AtomicBool,
    /// One of [`capture_state`].
    pub capture_state: AtomicU8,
    /// Frames recorded in the running capture.
    pub capture_done: AtomicU64,
    /// Frames the running capture will record.
    pub capture_total: AtomicU64,
    /// Key of the clip playing now (0 = none).
    pub playing_key: AtomicU64,
    /// The host sample rate (set at activation).
    pub sample_rate: AtomicU32,
}

/// Output mix for a block: preview level (linear) and dry/wet (0 = dry only, 1 = preview only).
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    /// Linear gain of the preview.
    pub level: f32,
    /// Dry/wet balance in 0..=1.
    pub dry_wet: f32,
}

impl Mix {
    /// Equal-level crossfade law: both at unity at 0.5, so the default leaves the input
    /// untouched and adds the preview on top.
    fn gains(self) -> (f32, f32) {
        let w = self.dry_wet.clamp(0.0, 1.0);
        ((2.0 * (1.0 - w)).min(1.0), (2.0 * w).min(1.0) * self.level)
    }
}

/// The controller's ends of the rings.
pub struct ControllerEnds {
    /// Commands to the audio thread.
    pub to_audio: Producer<ToAudio>,
    /// Spare capture buffers for the audio thread.
    pub spare: Producer<Box<CaptureBuffer>>,
    /// Captures and retired clips from the audio thread.
    pub from_audio: Consumer<FromAudio>,
}

/// Ring capacities: commands are rare; retired clips must always find a slot (see `drain`).
const TO_AUDIO: usize = 16;
const SPARES: usize = 2;
const FROM_AUDIO: usize = 64;

/// The audio thread's state, owned by the plugin and used only from `process()`.
pub struct AudioCore {
    shared: Arc<Shared>,
    to_audio: Consumer<ToAudio>,
    spare: Consumer<Box<CaptureBuffer>>,
    from_audio: Producer<FromAudio>,
    capture: Option<Box<CaptureBuffer>>,
    preview: Option<Box<PreviewClip>>,
    preview_pos: usize,
    /// The preview waits for the next bar before it starts.
    preview_waits: bool,
    /// The transport was running in the previous block (to see it start).
    was_playing: bool,
}

impl AudioCore {
    /// Builds the rings (allocates: call from activate, never from `process`).
    pub fn new(shared: Arc<Shared>) -> (Self, ControllerEnds) {
        let (to_tx, to_rx) = RingBuffer::new(TO_AUDIO);
        let (spare_tx, spare_rx) = RingBuffer::new(SPARES);
        let (from_tx, from_rx) = RingBuffer::new(FROM_AUDIO);
        let core = Self {
            shared,
            to_audio: to_rx,
            spare: spare_rx,
            from_audio: from_tx,
            capture: None,
            preview: None,
            preview_pos: 0,
            preview_waits: false,
            was_playing: false,
        };
        let ends = ControllerEnds {
            to_audio: to_tx,
            spare: spare_tx,
            from_audio: from_rx,
        };
        (core, ends)
    }

    /// One block: capture the input, then mix the preview into the output in place.
    pub fn process(&mut self, left: &mut [f32], right: &mut [f32], t: &TransportInfo, mix: Mix) {
        let frames = left.len().min(right.len());
        let rate = self.shared.sample_rate.load(Ordering::Relaxed) as f32;
        self.take_commands();
        // The transport just started: restart the loop on the host's next bar, so the preview
        // lines up with the track instead of running on from wherever it was.
        if t.playing && !self.was_playing && self.preview.is_some() {
            self.preview_pos = 0;
            self.preview_waits = true;
        }
        self.was_playing = t.playing;
        self.capture_block(&left[..frames], &right[..frames], t, rate);
        self.preview_block(&mut left[..frames], &mut right[..frames], t, rate, mix);
    }

    fn take_commands(&mut self) {
        // Each command may retire the playing clip, so only take one when a slot is free for it.
        while self.from_audio.slots() > 1 {
            let Ok(cmd) = self.to_audio.pop() else { break };
            self.retire_preview();
            if let ToAudio::Play(clip) = cmd {
                self.shared.playing_key.store(clip.key, Ordering::Relaxed);
                self.preview = Some(clip);
                self.preview_pos = 0;
                // preview_block decides: the next bar, or at once when there is none to wait for.
                self.preview_waits = true;
            }
        }
    }

    fn retire_preview(&mut self) {
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

    fn capture_block(&mut self, left: &[f32], right: &[f32], t: &TransportInfo, rate: f32) {
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

    fn preview_block(
        &mut self,
        left: &mut [f32],
        right: &mut [f32],
        t: &TransportInfo,
        rate: f32,
        mix: Mix,
    ) {
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
                Some(offset) if (offset as usize) < left.len() => {
                    start = offset as usize;
                    self.preview_waits = false;
                }
                Some(_) => return,
            }
        }
        let (dry, wet) = mix.gains();
        let n = clip.samples.len();
        for i in start..left.len() {
            let s = clip.samples[self.preview_pos] * wet;
            left[i] = left[i] * dry + s;
            right[i] = right[i] * dry + s;
            self.preview_pos = (self.preview_pos + 1) % n;
        }
        clip.played
            .fetch_add((left.len() - start) as u64, Ordering::Relaxed);
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

#[cfg(test)]
#[path = "rt_tests.rs"]
mod tests;
