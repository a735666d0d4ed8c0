//! What both test hosts (CLAP and VST3) play and count: the sample rate, block size and tempo, the
//! input signal (a 220 Hz stereo sine at −10 dBFS), real-time pacing, and the run's report.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};

/// The host's sample rate.
pub const SAMPLE_RATE: f64 = 48_000.0;
/// Frames per process call.
pub const BLOCK: usize = 512;
/// The transport's tempo in BPM (4/4, playing from bar 0).
pub const TEMPO: f64 = 120.0;

/// What a run observed.
#[derive(Debug, Default)]
pub struct RunReport {
    /// Blocks processed.
    pub blocks: u64,
    /// Blocks whose output equalled the input exactly (pass-through).
    pub untouched_blocks: u64,
    /// Blocks whose output differed from the input (a preview was mixed in).
    pub mixed_blocks: u64,
    /// Whether `done` returned true before the deadline.
    pub finished: bool,
}

/// Block counters the audio thread updates while the main thread watches.
#[derive(Default)]
pub struct Counters {
    blocks: AtomicU64,
    untouched: AtomicU64,
    mixed: AtomicU64,
}

impl Counters {
    /// Counts one processed block: untouched when `output` equals `input` exactly.
    pub fn count(&self, input: &[[f32; BLOCK]; 2], output: &[[f32; BLOCK]; 2]) {
        let counter = if input == output {
            &self.untouched
        } else {
            &self.mixed
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.blocks.fetch_add(1, Ordering::Relaxed);
    }

    /// The report of a run that `finished` or not.
    pub fn report(&self, finished: bool) -> RunReport {
        RunReport {
            blocks: self.blocks.load(Ordering::Relaxed),
            untouched_blocks: self.untouched.load(Ordering::Relaxed),
            mixed_blocks: self.mixed.load(Ordering::Relaxed),
            finished,
        }
    }
}

/// The input signal and the clock: the next block of the sine, and a wait until that block
/// is due, so listening time means what it says.
pub struct Player {
    /// Frames played so far (the transport's position).
    pub frame: u64,
    start: Instant,
    blocks: u32,
}

impl Default for Player {
    fn default() -> Self {
        Self {
            frame: 0,
            start: Instant::now(),
            blocks: 0,
        }
    }
}

impl Player {
    /// Fills `input` (both channels) with the next block of the sine.
    pub fn next_block(&mut self, input: &mut [[f32; BLOCK]; 2]) {
        for (i, v) in input[0].iter_mut().enumerate() {
            let t = (self.frame + i as u64) as f64 / SAMPLE_RATE;
            *v = 0.3 * (2.0 * std::f64::consts::PI * 220.0 * t).sin() as f32;
        }
        input[1] = input[0];
    }

    /// Advances the transport by one block and sleeps until the next one is due.
    pub fn advance(&mut self) {
        self.frame += BLOCK as u64;
        self.blocks += 1;
        let block_time = Duration::from_secs_f64(BLOCK as f64 / SAMPLE_RATE);
        let due = self.start + block_time * self.blocks;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
}

/// Runs `audio` on an audio thread (it processes until the flag it is given is set) while this
/// thread calls `service` (the format's main-thread duties) and `done` every 100 ms, until
/// `done()` or `timeout`; returns what the audio thread returned and whether `done` said so.
pub fn drive<T: Send>(
    timeout: Duration,
    audio: impl FnOnce(&AtomicBool) -> Result<T> + Send,
    mut service: impl FnMut(),
    done: &mut dyn FnMut() -> bool,
) -> Result<(T, bool)> {
    let stop = AtomicBool::new(false);
    let deadline = Instant::now() + timeout;
    let mut finished = false;
    let result = std::thread::scope(|s| {
        let audio = s.spawn(|| audio(&stop));
        while Instant::now() < deadline && !audio.is_finished() {
            service();
            if done() {
                finished = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        stop.store(true, Ordering::Release);
        audio
            .join()
            .map_err(|_| anyhow!("the audio thread panicked"))?
    })?;
    Ok((result, finished))
}
