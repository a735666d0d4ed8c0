//! The audio-thread side: capture into a pre-allocated buffer ([`capture`]) and play a preview
//! clip ([`preview`]), with nothing but atomics and lock-free SPSC rings (`rtrb`) shared with the
//! controller thread. This file holds the shared state, the rings and the per-block order.
//!
//! Rules this file keeps: no allocation, no deallocation, no lock, no I/O, no waiting. Buffers
//! arrive already allocated (spare capture buffers, boxed preview clips) and leave through a
//! ring so that the controller, not the audio thread, frees them.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use rtrb::{Consumer, Producer, RingBuffer};

mod capture;
mod preview;

pub use crate::transport::TransportInfo;
pub use capture::{capture_state, CaptureBuffer};
pub use preview::{Mix, PreviewClip};

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
    /// Channels of the track (the layout the host activated: 1 or 2; 0 before activation).
    pub track_channels: AtomicU32,
    /// The host's tempo as f64 bits, the last one it reported (0 = never reported): what a
    /// Generate fits its clips to.
    pub host_tempo: AtomicU64,
    /// Quarter notes per bar as f64 bits, reported with the tempo.
    pub host_beats_per_bar: AtomicU64,
}

impl Shared {
    /// The host's last reported tempo and quarter notes per bar, if it ever reported one.
    pub fn host_tempo(&self) -> Option<(f64, f64)> {
        let tempo = f64::from_bits(self.host_tempo.load(Ordering::Relaxed));
        let bar = f64::from_bits(self.host_beats_per_bar.load(Ordering::Relaxed));
        (tempo.is_finite() && tempo > 0.0 && bar.is_finite() && bar > 0.0).then_some((tempo, bar))
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

    /// One stereo block: capture the input, then mix the preview into the output in place.
    pub fn process(&mut self, left: &mut [f32], right: &mut [f32], t: &TransportInfo, mix: Mix) {
        self.process_channels(&mut [left, right], t, mix);
    }

    /// One block of one channel (mono track) or more (the first two are captured as left and
    /// right; the preview goes into every channel).
    pub fn process_channels(&mut self, channels: &mut [&mut [f32]], t: &TransportInfo, mix: Mix) {
        if let Some(tempo) = t.tempo.filter(|v| v.is_finite() && *v > 0.0) {
            self.shared
                .host_tempo
                .store(tempo.to_bits(), Ordering::Relaxed);
            self.shared
                .host_beats_per_bar
                .store(t.beats_per_bar.to_bits(), Ordering::Relaxed);
        }
        let Some(frames) = channels.iter().map(|c| c.len()).min() else {
            return;
        };
        let rate = self.shared.sample_rate.load(Ordering::Relaxed) as f32;
        self.take_commands();
        // The transport just started: restart the loop on the host's next bar, so the preview
        // lines up with the track instead of running on from wherever it was.
        if t.playing && !self.was_playing && self.preview.is_some() {
            self.preview_pos = 0;
            self.preview_waits = true;
        }
        self.was_playing = t.playing;
        match channels {
            [mono] => self.capture_block(&mono[..frames], &mono[..frames], t, rate),
            [left, right, ..] => self.capture_block(&left[..frames], &right[..frames], t, rate),
            [] => return,
        }
        self.preview_block(channels, frames, t, rate, mix);
        flush_denormals(channels);
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
}

/// Denormal samples become 0: passed on, they cost the next plugin's (and the host's) CPU on
/// every operation, and clap-validator's fuzzer refuses an output that carries them.
fn flush_denormals(channels: &mut [&mut [f32]]) {
    for x in channels.iter_mut().flat_map(|c| c.iter_mut()) {
        if x.is_subnormal() {
            *x = 0.0;
        }
    }
}

#[cfg(test)]
mod tests;
