//! The worker thread's loop: resolve and (re)load the model, run jobs, never let a panic out.
use super::{Event, Job, WorkerConfig};
use crate::manifest;
use crate::model::Model;
use crate::pipeline::Pipeline;
use crossbeam_channel::{Receiver, Sender};
use std::ops::ControlFlow;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub(super) fn start(
    config: WorkerConfig,
    jobs: Receiver<Job>,
    events: Sender<Event>,
    cancel_upto: Arc<AtomicU64>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("refrain-worker".into())
        .spawn(move || {
            let mut state = State {
                config,
                loaded: None,
                events,
                cancel_upto,
            };
            while let Ok(job) = jobs.recv() {
                match job {
                    Job::Shutdown => break,
                    Job::Generate { id, request } => {
                        if !state.run_job(id, &request) {
                            break;
                        }
                    }
                }
            }
        })
}

struct State {
    config: WorkerConfig,
    loaded: Option<(PathBuf, Pipeline)>,
    events: Sender<Event>,
    cancel_upto: Arc<AtomicU64>,
}

impl State {
    /// The version directory to use now: fixed, else the data dir's pointer, else the base.
    fn wanted_dir(&self) -> PathBuf {
        if let Some(dir) = &self.config.model_dir {
            return dir.clone();
        }
        match &self.config.data_dir {
            Some(data) => manifest::current_version_dir(data, &self.config.shipped_base),
            None => self.config.shipped_base.clone(),
        }
    }

    /// Loads the wanted model unless it is the one already loaded.
    fn ensure_model(&mut self) -> Result<(), String> {
        let dir = self.wanted_dir();
        if self.loaded.as_ref().is_some_and(|(d, _)| *d == dir) {
            return Ok(());
        }
        self.loaded = None;
        let model = Model::load(&dir, self.config.options)
            .map_err(|e| format!("cannot load the model: {e}"))?;
        let pipeline = Pipeline::new(model).map_err(|e| format!("cannot use the model: {e}"))?;
        let m = pipeline.model();
        let _ = self.events.send(Event::ModelLoaded {
            dir: dir.clone(),
            name: m.manifest().name.clone(),
            version: m.manifest().version,
            provider: m.provider().to_string(),
            warnings: m.warnings().to_vec(),
        });
        self.loaded = Some((dir, pipeline));
        Ok(())
    }

    /// Runs one job; false when the owner has gone away.
    fn run_job(&mut self, id: u64, request: &crate::pipeline::GenerateRequest) -> bool {
        if self.cancel_upto.load(Ordering::SeqCst) >= id {
            return self.events.send(Event::Cancelled { id }).is_ok();
        }
        let outcome = catch_unwind(AssertUnwindSafe(
            || -> Result<Option<crate::pipeline::Timings>, String> {
                self.ensure_model()?;
                let Some((_, pipeline)) = self.loaded.as_mut() else {
                    return Err("no model loaded".into());
                };
                let events = &self.events;
                let cancel = &self.cancel_upto;
                let mut progress = |p| {
                    let _ = events.try_send(Event::Progress { id, progress: p });
                    if cancel.load(Ordering::SeqCst) >= id {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                };
                match pipeline.generate(request, &mut progress) {
                    Ok((clips, timings)) => {
                        for clip in clips {
                            if events
                                .send(Event::Clip {
                                    id,
                                    clip: Box::new(clip),
                                })
                                .is_err()
                            {
                                return Ok(None);
                            }
                        }
                        Ok(Some(timings))
                    }
                    Err(e) if e.is_cancelled() => Ok(None),
                    Err(e) => Err(e.to_string()),
                }
            },
        ));
        let event = match outcome {
            Ok(Ok(Some(timings))) => Event::Done { id, timings },
            Ok(Ok(None)) => Event::Cancelled { id },
            Ok(Err(reason)) => Event::Failed { id, reason },
            Err(panic) => {
                // A panic may have left the sessions mid-run: reload before the next job.
                self.loaded = None;
                let text = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                tracing::error!("generation job {id} panicked: {text}");
                Event::Failed {
                    id,
                    reason: format!("internal error (please report): {text}"),
                }
            }
        };
        self.events.send(event).is_ok()
    }
}
