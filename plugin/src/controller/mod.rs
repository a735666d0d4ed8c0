//! The plugin's controller thread: neither the audio thread nor the GUI thread. It owns the
//! engine worker and the rating sink, turns captures into songs and songs into generation jobs,
//! saves clips and ratings to the feedback store, and hands clips to the audio thread.
//!
//! Everything that allocates, blocks or touches the disk for the audio path happens here. One file
//! per thing the producer does: [`capture`] (arm, captures → songs), [`generate`] (jobs, worker
//! events, clips into the store), [`review`] (preview, rate, export) and [`versions`] (choose
//! the model version); [`startup`] opens the
//! store and starts the worker; this file holds the state and the loop that dispatches commands.

mod capture;
mod drag_out;
mod generate;
mod review;
mod song_peaks;
mod songs;
mod startup;
pub mod test_hook;
#[cfg(test)]
mod tests;
mod versions;
mod vocoder;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{select, Receiver};
use refrain_engine::feedback::RatingSink;
use refrain_engine::pipeline::ClipParams;
use refrain_engine::worker::{Event, Worker};

use crate::audio_thread::{CaptureBuffer, ControllerEnds, Shared};
use crate::params::RefrainParams;
use crate::ui_state::{Command, UiState};

/// Longest capture the pre-allocated buffers hold.
pub const MAX_CAPTURE_SECONDS: usize = 60;
/// How often the controller polls the audio rings when nothing else wakes it.
const POLL: Duration = Duration::from_millis(15);

/// What the controller thread is started with.
pub struct ControllerSetup {
    /// Parameters and the persisted song list.
    pub params: Arc<RefrainParams>,
    /// Atomics shared with the audio thread.
    pub shared: Arc<Shared>,
    /// State shared with the editor.
    pub ui: Arc<Mutex<UiState>>,
    /// Editor commands.
    pub commands: Receiver<Command>,
    /// The controller's ends of the audio rings.
    pub ends: ControllerEnds,
    /// Host sample rate.
    pub sample_rate: u32,
}

/// Handle to the running controller; dropping it stops and joins the thread (and so the worker).
pub struct Controller {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    sample_rate: u32,
}

impl Controller {
    /// Starts the thread. Opening the store and spawning the worker happen on it, so a slow disk
    /// never stalls the host's activate call.
    pub fn spawn(setup: ControllerSetup) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let sample_rate = setup.sample_rate;
        let stop_flag = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("refrain-controller".into())
            .spawn(move || State::start(setup).run(&stop_flag))?;
        Ok(Self {
            stop,
            handle: Some(handle),
            sample_rate,
        })
    }

    /// The host rate this controller was started for.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// A clip this session generated.
struct ClipEntry {
    key: u64,
    clip_id: Option<refrain_engine::feedback::ClipId>,
    audio: Vec<f32>,
    params: ClipParams,
    played: Arc<AtomicU64>,
}

/// The controller thread's state.
struct State {
    params: Arc<RefrainParams>,
    shared: Arc<Shared>,
    ui: Arc<Mutex<UiState>>,
    commands: Receiver<Command>,
    ends: ControllerEnds,
    sample_rate: u32,
    data_dir: Option<PathBuf>,
    model_dir: Option<PathBuf>,
    /// The shipped base the locator found.
    shipped_base: PathBuf,
    /// What the worker has loaded.
    loaded: Option<versions::LoadedVersion>,
    /// Measured time per variation of each version (none without a data dir).
    timings: Option<refrain_engine::catalog::TimingBook>,
    /// The version choice last applied (`None` before the first).
    applied_choice: Option<String>,
    /// Why the last clip was not rendered with the vocoder asked for (shown when its job ends).
    vocoder_warning: Option<String>,
    /// Clips and steps of running jobs.
    job_counts: HashMap<u64, versions::JobCount>,
    worker: Option<Worker>,
    events: Receiver<Event>,
    sink: Option<RatingSink>,
    clips: Vec<ClipEntry>,
    next_key: u64,
    /// Store rows of the songs clips were made from.
    song_rows: songs::SongRows,
    /// The songs each job was given, to map a clip's songs back to files.
    job_songs: HashMap<u64, Vec<crate::params::SongRef>>,
    /// The request uid each job's clips are stored under (made at its first clip).
    job_requests: HashMap<u64, refrain_engine::feedback::Uid>,
    /// Spare capture buffer kept for when the audio thread hands one back.
    spare: Option<Box<CaptureBuffer>>,
    /// Whether the capture buffers were allocated (at the first Arm).
    capture_buffers: bool,
    /// The data dir is a temporary one (the real one is missing or cannot be written).
    in_temp: bool,
    hook: Option<test_hook::TestHook>,
}

impl State {
    fn run(mut self, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            let events = self.events.clone();
            select! {
                recv(self.commands) -> cmd => {
                    if let Ok(cmd) = cmd {
                        self.command(cmd);
                    }
                }
                recv(events) -> ev => {
                    if let Ok(ev) = ev {
                        self.event(ev);
                    }
                }
                default(POLL) => {}
            }
            self.poll_audio();
            self.sync_song_peaks();
            self.sync_choice();
            self.sync_vocoder();
            self.step_hook();
        }
    }

    fn ui(&self) -> MutexGuard<'_, UiState> {
        // A panic elsewhere while holding the lock must not take the controller down with it.
        self.ui.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn error(&self, message: impl Into<String>) {
        let message = message.into();
        tracing::warn!("{message}");
        self.ui().error = Some(message);
    }

    fn status(&self, message: impl Into<String>) {
        let mut ui = self.ui();
        ui.status = message.into();
        ui.error = None;
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Arm => self.arm(None),
            Command::CancelCapture => {
                self.shared.cancel_capture.store(true, Ordering::Relaxed);
            }
            Command::Generate => self.generate(None),
            Command::Cancel => {
                if let Some(worker) = &self.worker {
                    worker.cancel_all();
                }
            }
            Command::Preview(key) => self.preview(key),
            Command::StopPreview => {
                let _ = self.ends.to_audio.push(crate::audio_thread::ToAudio::Stop);
            }
            Command::Rate {
                key,
                accepted,
                stars,
            } => self.rate(key, accepted, stars),
            Command::Export(key) => {
                self.export(key);
            }
            Command::DragOut(key) => self.drag_out(key),
            Command::UseVersion(key) => self.use_version(key),
            Command::RefreshVersions => self.refresh_versions(),
            Command::UseVocoder(name) => self.use_vocoder(name),
        }
    }

    fn poll_audio(&mut self) {
        while let Ok(msg) = self.ends.from_audio.pop() {
            match msg {
                crate::audio_thread::FromAudio::Captured(buf) => self.captured(buf),
                // Freed here, off the audio thread.
                crate::audio_thread::FromAudio::Retired(clip) => drop(clip),
            }
        }
        if let Some(buf) = self.spare.take() {
            if let Err(rtrb::PushError::Full(buf)) = self.ends.spare.push(buf) {
                self.spare = Some(buf);
            }
        }
    }
}
