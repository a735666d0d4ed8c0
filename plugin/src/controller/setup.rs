//! Controller start-up (data dir, rating sink, worker, capture buffers) and captures → songs.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use refrain_engine::audio::{write_wav, Audio};
use refrain_engine::feedback::{now_ms, OpenOptions, RatingSink, SinkOptions};
use refrain_engine::manifest::{current_version_dir, data_dir};
use refrain_engine::model::ModelOptions;
use refrain_engine::worker::{Worker, WorkerConfig};

use super::{hook, ControllerSetup, State, MAX_CAPTURE_SECONDS};
use crate::params::{SongRef, MAX_SONGS};
use crate::rt::CaptureBuffer;

/// Env var naming a fixed model version directory (tests, or a model outside the data dir).
pub const MODEL_DIR_ENV: &str = "REFRAIN_MODEL_DIR";

/// Where the model is looked for when neither `REFRAIN_MODEL_DIR` nor `models/current` names
/// one: `<data dir>/models/base` (the README says how to install the shipped base there).
pub fn shipped_base(data_dir: &Path) -> PathBuf {
    data_dir.join("models").join("base")
}

impl State {
    pub(super) fn start(setup: ControllerSetup) -> Self {
        let ControllerSetup {
            params,
            shared,
            ui,
            commands,
            ends,
            sample_rate,
        } = setup;
        let mut state = Self {
            params,
            shared,
            ui,
            commands,
            ends,
            sample_rate,
            data_dir: None,
            model_dir: std::env::var_os(MODEL_DIR_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            worker: None,
            events: crossbeam_channel::never(),
            sink: None,
            clips: Vec::new(),
            next_key: 1,
            song_rows: Default::default(),
            job_songs: HashMap::new(),
            spare: None,
            hook: hook::TestHook::from_env(),
        };
        state.allocate_capture_buffers();
        match data_dir() {
            Ok(dir) => {
                state.open_store(&dir);
                state.start_worker(&dir);
                state.ui().export_dir = dir.join("exports");
                state.data_dir = Some(dir);
            }
            Err(e) => state.error(format!("No data folder: {e}. Set REFRAIN_HOME.")),
        }
        state
    }

    /// Two buffers: one armed in the audio thread, one ready for the next capture while the
    /// controller writes the previous one.
    fn allocate_capture_buffers(&mut self) {
        let frames = MAX_CAPTURE_SECONDS * self.sample_rate as usize;
        let _ = self
            .ends
            .spare
            .push(CaptureBuffer::with_capacity(frames, self.sample_rate));
        self.spare = Some(CaptureBuffer::with_capacity(frames, self.sample_rate));
    }

    fn open_store(&mut self, dir: &Path) {
        match RatingSink::open(dir, &OpenOptions::default(), SinkOptions::default()) {
            Ok(sink) => self.sink = Some(sink),
            Err(e) => self.error(format!(
                "Ratings cannot be saved: the feedback store in {} did not open ({e})",
                dir.display()
            )),
        }
    }

    fn start_worker(&mut self, dir: &Path) {
        let base = shipped_base(dir);
        let model = self
            .model_dir
            .clone()
            .unwrap_or_else(|| current_version_dir(dir, &base));
        let found = model.join("manifest.json").is_file();
        {
            let mut ui = self.ui();
            ui.model_found = found;
            ui.model = if found {
                format!("model in {} (loads at the first Generate)", model.display())
            } else {
                format!(
                    "No model found. Install one into {} or set {MODEL_DIR_ENV}.",
                    base.display()
                )
            };
        }
        let config = WorkerConfig {
            model_dir: self.model_dir.clone(),
            data_dir: Some(dir.to_path_buf()),
            shipped_base: base,
            options: ModelOptions::default(),
            baseline_share: refrain_engine::worker::DEFAULT_BASELINE_SHARE,
        };
        match Worker::spawn(config) {
            Ok(worker) => {
                self.events = worker.events().clone();
                self.worker = Some(worker);
            }
            Err(e) => self.error(format!("The generator thread did not start: {e}")),
        }
    }

    /// A finished capture: written as a WAV under `<data dir>/captures`, added to the songs.
    pub(super) fn captured(&mut self, mut buf: Box<CaptureBuffer>) {
        let result = self.save_capture(&buf);
        buf.len = 0;
        // Recycle the buffer: the next capture needs no allocation.
        if self.spare.is_none() {
            self.spare = Some(buf);
        }
        match result {
            Ok(song) => {
                let name = song.name.clone();
                let mut songs = self.params.songs.lock().unwrap_or_else(|e| e.into_inner());
                if songs.len() >= MAX_SONGS {
                    drop(songs);
                    self.error(format!(
                        "{name} was captured, but {MAX_SONGS} songs are the most: remove one first"
                    ));
                    return;
                }
                songs.push(song);
                drop(songs);
                self.status(format!("Captured {name}"));
                if let Some(hook) = self.hook.as_mut() {
                    hook.captured = true;
                }
            }
            Err(e) => self.error(e),
        }
        self.shared.capture_done.store(0, Ordering::Relaxed);
    }

    fn save_capture(&self, buf: &CaptureBuffer) -> Result<SongRef, String> {
        let Some(dir) = &self.data_dir else {
            return Err("Capture not saved: no data folder".into());
        };
        if buf.len == 0 {
            return Err("The capture was empty".into());
        }
        let captures = dir.join("captures");
        std::fs::create_dir_all(&captures)
            .map_err(|e| format!("Could not create {}: {e}", captures.display()))?;
        let audio = Audio::new(
            buf.sample_rate,
            vec![buf.left[..buf.len].to_vec(), buf.right[..buf.len].to_vec()],
        )
        .map_err(|e| format!("Capture not saved: {e}"))?;
        let path = captures.join(format!("capture-{}.wav", now_ms()));
        write_wav(&path, &audio).map_err(|e| format!("Could not write {}: {e}", path.display()))?;
        let count = self.params.songs.lock().map(|s| s.len()).unwrap_or(0);
        Ok(SongRef {
            name: format!("Capture {}", count + 1),
            weight: 1.0,
            wav: path,
            duration_s: audio.duration_secs(),
            stored: None,
        })
    }
}
