//! The generation worker: a dedicated thread (not the plugin framework's shared executor) that
//! owns the model, takes jobs over a bounded channel, reports progress, clips and failures as
//! events, honours cancel within one UNet step, and reloads the model between jobs when the data
//! dir's `models/current` pointer moves or the owner selects another version.

mod thread;

use crate::model::ModelOptions;
use crate::pipeline::{Clip, GenerateRequest, Progress, Timings};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Jobs waiting beyond the running one; more is a producer clicking faster than it can listen.
pub const QUEUE: usize = 4;
/// Events buffered for the owner; progress is dropped (not clips) when the owner lags.
pub const EVENTS: usize = 1024;

/// Share of clips made by the parent version for the blind A/B (docs/ARCHITECTURE.md §4.4): enough for a
/// win-rate estimate within a few dozen ratings without spending most listening on old output.
pub const DEFAULT_BASELINE_SHARE: f32 = 0.25;

/// Where the worker finds its model.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// A fixed model version directory; when set, the data dir pointer is ignored.
    pub model_dir: Option<PathBuf>,
    /// The data dir whose `models/current` names the version to use.
    pub data_dir: Option<PathBuf>,
    /// The shipped base version, used when no pointer names another.
    pub shipped_base: PathBuf,
    /// Session options.
    pub options: ModelOptions,
    /// Fraction of clips secretly made by the parent version (0 disables the blind baseline).
    pub baseline_share: f32,
}

/// A message to the worker.
#[derive(Debug)]
pub enum Job {
    /// Generate clips for a request.
    Generate {
        /// Caller-visible job id.
        id: u64,
        /// The request.
        request: Box<GenerateRequest>,
    },
    /// Use this version directory from now on (`None`: follow the data dir's pointer again) and
    /// load it at once, so the next Generate does not wait for it.
    Select {
        /// The version directory.
        dir: Option<PathBuf>,
    },
    /// Stop the thread after the current job.
    Shutdown,
}

/// A message from the worker.
#[derive(Debug)]
pub enum Event {
    /// A model version was loaded (at the first job, or after the pointer moved).
    ModelLoaded {
        /// Its directory.
        dir: PathBuf,
        /// Model name and version.
        name: String,
        /// Version number.
        version: u32,
        /// Execution provider in use.
        provider: String,
        /// Load warnings (for example CUDA requested, CPU used).
        warnings: Vec<String>,
    },
    /// A selected version did not load; the previous one is unloaded too, so nothing generates
    /// with a model the producer did not choose.
    ModelFailed {
        /// The directory that failed.
        dir: PathBuf,
        /// Why, for the producer's eyes.
        reason: String,
    },
    /// Job progress.
    Progress {
        /// Job id.
        id: u64,
        /// Where it is.
        progress: Progress,
    },
    /// One finished clip.
    Clip {
        /// Job id.
        id: u64,
        /// The clip.
        clip: Box<Clip>,
    },
    /// The job finished; all its clips were sent.
    Done {
        /// Job id.
        id: u64,
        /// Stage timings.
        timings: Timings,
    },
    /// The job was cancelled.
    Cancelled {
        /// Job id.
        id: u64,
    },
    /// The job failed; `reason` is meant for the producer's eyes.
    Failed {
        /// Job id.
        id: u64,
        /// What went wrong.
        reason: String,
    },
}

/// Why a job could not be submitted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WorkerError {
    /// The queue is full.
    #[error("the generator is busy ({QUEUE} jobs queued); wait or cancel")]
    Busy,
    /// The worker thread has stopped.
    #[error("the generator thread has stopped")]
    Stopped,
}

/// The owner's handle: submit jobs, cancel, read events. Dropping it stops the thread.
pub struct Worker {
    jobs: Sender<Job>,
    events: Receiver<Event>,
    next_id: u64,
    cancel_upto: Arc<AtomicU64>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    /// Starts the worker thread. The model loads lazily at the first job, off the caller's thread.
    pub fn spawn(config: WorkerConfig) -> std::io::Result<Self> {
        let (jobs, job_rx) = crossbeam_channel::bounded(QUEUE);
        let (event_tx, events) = crossbeam_channel::bounded(EVENTS);
        let cancel_upto = Arc::new(AtomicU64::new(0));
        let handle = thread::start(config, job_rx, event_tx, Arc::clone(&cancel_upto))?;
        Ok(Self {
            jobs,
            events,
            next_id: 1,
            cancel_upto,
            handle: Some(handle),
        })
    }

    /// Queues a request; returns its job id.
    pub fn submit(&mut self, request: GenerateRequest) -> Result<u64, WorkerError> {
        let id = self.next_id;
        match self.jobs.try_send(Job::Generate {
            id,
            request: Box::new(request),
        }) {
            Ok(()) => {
                self.next_id += 1;
                Ok(id)
            }
            Err(TrySendError::Full(_)) => Err(WorkerError::Busy),
            Err(TrySendError::Disconnected(_)) => Err(WorkerError::Stopped),
        }
    }

    /// Switches to the version in `dir` (`None`: the one `models/current` names) and loads it in
    /// the background, after the running job; answers with [`Event::ModelLoaded`] or
    /// [`Event::ModelFailed`].
    pub fn select(&self, dir: Option<PathBuf>) -> Result<(), WorkerError> {
        self.jobs
            .try_send(Job::Select { dir })
            .map_err(|e| match e {
                TrySendError::Full(_) => WorkerError::Busy,
                TrySendError::Disconnected(_) => WorkerError::Stopped,
            })
    }

    /// Cancels every job submitted so far (running and queued); later jobs are unaffected.
    pub fn cancel_all(&self) {
        self.cancel_upto
            .store(self.next_id.saturating_sub(1), Ordering::SeqCst);
    }

    /// The event stream. The owner must keep draining it; clips wait when it is full.
    pub fn events(&self) -> &Receiver<Event> {
        &self.events
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.cancel_all();
        let _ = self.jobs.try_send(Job::Shutdown);
        // Dropping our receiver makes the worker's sends fail, so a worker blocked on a full
        // event channel wakes up and exits instead of waiting for us forever.
        drop(std::mem::replace(
            &mut self.events,
            crossbeam_channel::never(),
        ));
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}
