//! The worker thread's loop: resolve and (re)load the model (and its parent for the blind
//! baseline), run jobs, never let a panic out.
use super::{Event, Job, WorkerConfig};
use crate::locator;
use crate::manifest::Manifest;
use crate::model::Model;
use crate::pipeline::{Clip, GenerateRequest, Pipeline, PipelineError, Timings};
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
                selected: None,
                loaded: None,
                events,
                cancel_upto,
            };
            while let Ok(job) = jobs.recv() {
                match job {
                    Job::Shutdown => break,
                    Job::Select { dir } => {
                        state.selected = dir;
                        if !state.load_now() {
                            break;
                        }
                    }
                    Job::Generate { id, request } => {
                        if !state.run_job(id, &request) {
                            break;
                        }
                    }
                }
            }
        })
}

/// The current version's pipeline and, when its parent can be found, the parent's.
struct Loaded {
    dir: PathBuf,
    current: Pipeline,
    baseline: Option<Pipeline>,
}

struct State {
    config: WorkerConfig,
    /// The owner's choice, ahead of the config and the pointer.
    selected: Option<PathBuf>,
    loaded: Option<Loaded>,
    events: Sender<Event>,
    cancel_upto: Arc<AtomicU64>,
}

/// Whether `seed`'s clip comes from the parent version: a hash of the seed, so the split is
/// reproducible but shows no pattern a producer could learn (every 4th clip would).
pub(super) fn is_baseline_seed(seed: u64, share: f32) -> bool {
    let mut z = seed ^ 0x5EED_BA5E_11A5_0001;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    ((z >> 11) as f64 / (1u64 << 53) as f64) < share as f64
}

impl State {
    /// The version directory to use now: selected, else fixed, else the data dir's pointer, else the base.
    fn wanted_dir(&self) -> PathBuf {
        if let Some(dir) = self.selected.as_ref().or(self.config.model_dir.as_ref()) {
            return dir.clone();
        }
        match &self.config.data_dir {
            Some(data) => locator::current_version_dir(data, &self.config.shipped_base),
            None => self.config.shipped_base.clone(),
        }
    }

    /// The parent version's directory: `<data>/models/v<parent>`, the lineage's imported root
    /// `<data>/models/<name>`, or the shipped base — whichever holds version `parent` of the same
    /// lineage (manifest `name`), so an imported model's fine-tune never gets the shipped base,
    /// which is also version 0, as its blind baseline.
    fn parent_dir(&self, manifest: &Manifest) -> Option<PathBuf> {
        let parent = manifest.parent?;
        let mut candidates = Vec::new();
        if let Some(data) = &self.config.data_dir {
            candidates.push(locator::version_dir(data, parent));
            candidates.extend(locator::installed_version(data, &manifest.name));
        }
        candidates.push(self.config.shipped_base.clone());
        candidates.into_iter().find(|dir| {
            Manifest::load(dir).is_ok_and(|m| m.version == parent && m.name == manifest.name)
        })
    }

    /// Loads the wanted model (and its parent when baselines are on) unless already loaded.
    fn ensure_model(&mut self) -> Result<(), String> {
        let dir = self.wanted_dir();
        if self.loaded.as_ref().is_some_and(|l| l.dir == dir) {
            return Ok(());
        }
        self.loaded = None;
        let load = |dir: &PathBuf| -> Result<Pipeline, String> {
            let model = Model::load(dir, self.config.options)
                .map_err(|e| format!("cannot load the model: {e}"))?;
            Pipeline::new(model).map_err(|e| format!("cannot use the model: {e}"))
        };
        let current = load(&dir)?;
        let baseline = match self.parent_dir(current.model().manifest()) {
            Some(parent) if self.config.baseline_share > 0.0 => match load(&parent) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::warn!(
                        "blind baseline off: parent {} did not load: {e}",
                        parent.display()
                    );
                    None
                }
            },
            _ => None,
        };
        self.loaded = Some(Loaded {
            dir,
            current,
            baseline,
        });
        if let Some(event) = self.loaded_event() {
            let _ = self.events.send(event);
        }
        Ok(())
    }

    /// [`Event::ModelLoaded`] for what is loaded.
    fn loaded_event(&self) -> Option<Event> {
        let loaded = self.loaded.as_ref()?;
        let m = loaded.current.model();
        let warnings = loaded.current.warnings();
        Some(Event::ModelLoaded {
            dir: loaded.dir.clone(),
            name: m.manifest().name.clone(),
            version: m.manifest().version,
            provider: m.provider().to_string(),
            warnings,
        })
    }

    /// Loads the wanted version now (a selection); reports it loaded, again when it already was,
    /// or failed. False when the owner has gone away.
    fn load_now(&mut self) -> bool {
        let already = self
            .loaded
            .as_ref()
            .is_some_and(|l| l.dir == self.wanted_dir());
        let outcome = catch_unwind(AssertUnwindSafe(|| self.ensure_model()));
        let event = match outcome {
            Ok(Ok(())) if already => self.loaded_event(),
            Ok(Ok(())) => None,
            Ok(Err(reason)) => Some(Event::ModelFailed {
                dir: self.wanted_dir(),
                reason,
            }),
            Err(_) => {
                self.loaded = None;
                Some(Event::ModelFailed {
                    dir: self.wanted_dir(),
                    reason: "internal error while loading (please report)".into(),
                })
            }
        };
        event.is_none_or(|e| self.events.send(e).is_ok())
    }

    /// Generates with the current version, and with the parent for the baseline share of seeds.
    fn generate(
        &mut self,
        id: u64,
        request: &GenerateRequest,
    ) -> Result<(Vec<Clip>, Timings), PipelineError> {
        let share = self.config.baseline_share;
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
        let Some(loaded) = self.loaded.as_mut() else {
            return Err(PipelineError::InvalidRequest("no model loaded".into()));
        };
        let (old, new): (Vec<u64>, Vec<u64>) = match loaded.baseline {
            Some(_) => request
                .seeds
                .iter()
                .partition(|&&s| is_baseline_seed(s, share)),
            None => (Vec::new(), request.seeds.clone()),
        };
        let mut clips = Vec::new();
        let mut timings = Timings::default();
        for (seeds, pipeline, baseline) in [
            (new, Some(&mut loaded.current), false),
            (old, loaded.baseline.as_mut(), true),
        ] {
            let Some(pipeline) = pipeline.filter(|_| !seeds.is_empty()) else {
                continue;
            };
            let part = GenerateRequest {
                seeds,
                ..request.clone()
            };
            let (mut made, t) = pipeline.generate(&part, &mut progress)?;
            made.iter_mut()
                .for_each(|c| c.params.is_baseline = baseline);
            clips.extend(made);
            timings += t;
        }
        // Back in the order the caller asked for, so nothing about position gives a baseline away.
        clips.sort_by_key(|c| request.seeds.iter().position(|&s| s == c.params.seed));
        Ok((clips, timings))
    }

    /// Runs one job; false when the owner has gone away.
    fn run_job(&mut self, id: u64, request: &GenerateRequest) -> bool {
        if self.cancel_upto.load(Ordering::SeqCst) >= id {
            return self.events.send(Event::Cancelled { id }).is_ok();
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<Option<Timings>, String> {
            self.ensure_model()?;
            match self.generate(id, request) {
                Ok((clips, timings)) => {
                    for clip in clips {
                        if self
                            .events
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
        }));
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
