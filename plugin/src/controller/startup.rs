//! Controller start-up: the data dir from the model locator, the feedback store (rating sink)
//! opened when one exists and the engine worker started — all on the controller thread, so a
//! slow disk never stalls the host's activate call. Nothing is created here: a host scanning
//! plugins activates them, and a scan must leave no data dir, database or 46 MB of capture
//! buffers behind; those come at the first capture, clip or rating.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use refrain_engine::catalog::TimingBook;
use refrain_engine::feedback::{OpenOptions, RatingSink, SinkOptions, DB_FILE};
use refrain_engine::locator::{self, MODEL_DIR_ENV};
use refrain_engine::manifest::MANIFEST_FILE;
use refrain_engine::model::ModelOptions;
use refrain_engine::worker::{Worker, WorkerConfig};

use super::{test_hook, ControllerSetup, State, MAX_CAPTURE_SECONDS};
use crate::audio_thread::CaptureBuffer;

impl State {
    pub(super) fn start(setup: ControllerSetup) -> Self {
        Self::start_in(setup, locator::data_dir().map_err(|e| e.to_string()))
    }

    /// [`Self::start`] with the data dir given (tests pass a temporary one).
    pub(super) fn start_in(setup: ControllerSetup, data_dir: Result<PathBuf, String>) -> Self {
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
            model_dir: locator::model_dir_from_env(),
            shipped_base: PathBuf::new(),
            loaded: None,
            timings: None,
            applied_choice: None,
            vocoder_warning: None,
            job_counts: HashMap::new(),
            worker: None,
            events: crossbeam_channel::never(),
            sink: None,
            clips: Vec::new(),
            next_key: 1,
            song_rows: Default::default(),
            job_songs: HashMap::new(),
            job_requests: HashMap::new(),
            spare: None,
            capture_buffers: false,
            in_temp: false,
            hook: test_hook::TestHook::from_env(),
        };
        let dir = match data_dir {
            Ok(dir) => dir,
            Err(e) => {
                let temp = temp_data_dir();
                state.data_note(format!(
                    "No data folder ({e}): this session works in {}, which is not kept. Set \
                     REFRAIN_HOME to keep captures and ratings.",
                    temp.display()
                ));
                state.in_temp = true;
                temp
            }
        };
        // An existing store opens now, so ratings spooled last session are replayed.
        if dir.join(DB_FILE).is_file() {
            state.open_store(&dir);
        }
        state.start_worker(&dir);
        state.ui().export_dir = dir.join("exports");
        state.timings = Some(TimingBook::open(&dir));
        state.data_dir = Some(dir);
        state.refresh_versions();
        state.sync_choice();
        state
    }

    /// Two buffers, at the first capture: one armed in the audio thread, one ready for the next
    /// capture while the controller writes the previous one.
    pub(super) fn allocate_capture_buffers(&mut self) {
        if self.capture_buffers {
            return;
        }
        self.capture_buffers = true;
        let frames = MAX_CAPTURE_SECONDS * self.sample_rate as usize;
        let _ = self
            .ends
            .spare
            .push(CaptureBuffer::with_capacity(frames, self.sample_rate));
        self.spare = Some(CaptureBuffer::with_capacity(frames, self.sample_rate));
    }

    /// Opens the feedback store (creating it and the data dir) unless it is open; when there
    /// is no data dir or it does not open, `sink` stays `None` and the error is shown.
    /// Shows `message` as an error now and keeps it in view for the session.
    fn data_note(&self, message: String) {
        self.error(message.clone());
        self.ui().data_note = Some(message);
    }

    /// A data dir that cannot be written moves this session to a temporary one (said in the
    /// editor), so clips are still made, kept for the session and exportable.
    pub(super) fn ensure_store(&mut self) {
        if self.sink.is_some() {
            return;
        }
        if let Some(dir) = self.data_dir.clone() {
            self.open_store(&dir);
        }
        if self.sink.is_some() || self.in_temp {
            return;
        }
        let temp = temp_data_dir();
        self.in_temp = true;
        self.open_store(&temp);
        if self.sink.is_some() {
            let was = self.data_dir.replace(temp.clone());
            self.ui().export_dir = temp.join("exports");
            self.data_note(format!(
                "{} cannot be written: this session's captures, clips and ratings go to {}, \
                 which is not kept. Export what you want to keep.",
                was.map_or_else(|| "The data folder".into(), |d| d.display().to_string()),
                temp.display()
            ));
        }
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
        let base = locator::shipped_base(Some(dir));
        self.shipped_base.clone_from(&base);
        let model = locator::model_to_load(Some(dir), &base);
        let found = model.join(MANIFEST_FILE).is_file();
        {
            let mut ui = self.ui();
            ui.model_found = found;
            ui.model = if found {
                format!("model in {} (loads at the first Generate)", model.display())
            } else {
                format!(
                    "No model found. Install one into {} or set {MODEL_DIR_ENV}.",
                    locator::base_in_data_dir(dir).display()
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
}

/// This session's data dir when the real one is missing or read-only (per process, so two
/// instances of one host share it and two hosts do not).
fn temp_data_dir() -> PathBuf {
    std::env::temp_dir().join(format!("refrain-{}", std::process::id()))
}
