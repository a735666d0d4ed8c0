//! Generate: a job from the song list and the parameters, the worker's events (progress, clips,
//! done, failed), and each clip into the session list and the feedback store.
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use refrain_engine::audio::read_file;
use refrain_engine::feedback::{now_ms, ClipId, NewGeneration, NewSong, SongAudio, Uid};
use refrain_engine::pipeline::tempo::BarFit;
use refrain_engine::pipeline::{Clip, GenerateRequest, Progress, SongInput};
use refrain_engine::worker::Event;

use super::{ClipEntry, State};
use crate::params::bars_text;
use crate::ui_state::{thumbnail, ClipView, JobView};

/// Waveform thumbnail columns.
const THUMB_COLUMNS: usize = 96;

/// Overrides of the parameters for one job (the test hook keeps its job short).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct JobOverrides {
    pub steps: Option<usize>,
    pub variations: Option<usize>,
}

impl State {
    pub(super) fn generate(&mut self, overrides: Option<JobOverrides>) {
        let o = overrides.unwrap_or_default();
        if !self.ui().model_found {
            let message = self.ui().model.clone();
            self.error(message);
            return;
        }
        let songs = self
            .params
            .songs
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        let mut inputs = Vec::with_capacity(songs.len());
        for song in &songs {
            match read_file(&song.wav) {
                Ok(audio) => inputs.push(SongInput {
                    name: song.name.clone(),
                    audio,
                    offset_s: None,
                    weight: song.weight.max(0.0),
                }),
                Err(e) => {
                    self.error(format!("{} could not be read ({e}); remove it", song.name));
                    return;
                }
            }
        }
        let p = &self.params;
        let variations = o.variations.unwrap_or(p.variations.value().max(1) as usize);
        let base_seed = if p.seed_lock.value() {
            p.seed.value().max(0) as u64
        } else {
            // A fresh base per run; the clip shows its seed so a good one can be locked.
            (now_ms() as u64) % 100_000
        };
        let request = GenerateRequest {
            songs: inputs,
            strength: f64::from(p.strength.value()),
            detail: f64::from(p.detail.value()),
            steps: o.steps.unwrap_or(p.steps.value().max(1) as usize),
            eta: f64::from(p.eta.value()),
            seeds: (0..variations as u64).map(|i| base_seed + i).collect(),
            output_rate: self.sample_rate,
            vocoder: self.requested_vocoder(),
            fit: self.clip_fit(),
        };
        let Some(worker) = self.worker.as_mut() else {
            self.error("The generator is not running (see the error above)");
            return;
        };
        match worker.submit(request) {
            Ok(id) => {
                self.job_songs.insert(id, songs);
                let mut ui = self.ui();
                ui.error = None;
                ui.job = Some(JobView::starting("Loading the model…"));
            }
            Err(e) => self.error(e.to_string()),
        }
    }

    /// The bars to fit clips to: the Clip length at the host's tempo, or none (one model
    /// window) when it is set to one window or the host never reported a tempo.
    fn clip_fit(&self) -> Option<BarFit> {
        let bars = u32::try_from(self.params.clip_bars.value())
            .ok()
            .filter(|&b| b > 0)?;
        let (bpm, beats_per_bar) = self.shared.host_tempo()?;
        Some(BarFit {
            bpm,
            beats_per_bar,
            bars,
        })
    }

    pub(super) fn event(&mut self, event: Event) {
        match event {
            Event::ModelLoaded {
                dir,
                name,
                version,
                provider,
                warnings,
            } => {
                {
                    let mut ui = self.ui();
                    ui.model = format!("{name} v{version} · {provider}");
                    if !warnings.is_empty() {
                        ui.status = warnings.join("; ");
                    }
                }
                self.model_loaded(dir, provider);
            }
            Event::ModelFailed { dir, reason } => self.model_failed(dir, &reason),
            Event::Progress { progress, .. } => {
                let (fraction, label) = match progress {
                    Progress::Encoding => (0.02, "Encoding the songs".to_string()),
                    Progress::Step { step, total } => (
                        0.05 + 0.75 * step as f32 / total.max(1) as f32,
                        format!("Denoising {step}/{total}"),
                    ),
                    Progress::Rendering { clip, total } => (
                        0.8 + 0.2 * clip as f32 / total.max(1) as f32,
                        format!("Rendering clip {}/{total}", clip + 1),
                    ),
                };
                if let Some(job) = self.ui().job.as_mut() {
                    job.fraction = fraction;
                    job.label = label;
                }
            }
            Event::Clip { id, clip } => {
                self.count_clip(id, &clip);
                self.clip(id, *clip);
            }
            Event::Done { id, timings } => {
                self.job_songs.remove(&id);
                self.job_requests.remove(&id);
                self.job_done(id, &timings);
                self.ui().job = None;
                let done = format!("Done in {:.1} s", timings.total());
                match self.vocoder_warning.take() {
                    Some(w) => self.status(format!("{done} — {w}")),
                    None => self.status(done),
                }
            }
            Event::Cancelled { id } => {
                self.job_songs.remove(&id);
                self.job_requests.remove(&id);
                self.job_counts.remove(&id);
                self.ui().job = None;
                self.status("Cancelled");
            }
            Event::Failed { id, reason } => {
                self.job_songs.remove(&id);
                self.job_requests.remove(&id);
                self.job_counts.remove(&id);
                self.ui().job = None;
                self.error(format!("Generation failed: {reason}"));
            }
        }
    }

    fn clip(&mut self, job: u64, clip: Clip) {
        if clip.params.vocoder_warning.is_some() {
            self.vocoder_warning
                .clone_from(&clip.params.vocoder_warning);
        }
        let clip_id = match self.store_clip(job, &clip) {
            Ok(id) => id,
            Err(e) => {
                self.error(format!("The clip plays but was not saved: {e}"));
                None
            }
        };
        let key = self.next_key;
        self.next_key += 1;
        let p = &clip.params;
        let songs: Vec<String> = p
            .songs
            .iter()
            .map(|s| format!("{} ×{:.2}", s.name, s.weight))
            .collect();
        let view = ClipView {
            key,
            title: format!("Clip {key}"),
            length: match p.fit {
                Some(fit) => format!("{} · {:.1} BPM", bars_text(fit.bars), fit.bpm),
                None => format!(
                    "{:.1} s",
                    clip.audio.len() as f64 / f64::from(p.sample_rate.max(1))
                ),
            },
            bars: p.fit.map_or(0, |fit| fit.bars),
            // No model name or version per clip: a quarter of the clips are blind baselines
            // from the parent version, and the producer must not be able to tell which.
            settings: format!(
                "seed {} · strength {:.2} · detail {:.2} · {} steps · η {:.2} · {}",
                p.seed,
                p.strength,
                p.detail,
                p.steps,
                p.eta,
                if songs.is_empty() {
                    "unconditional".to_string()
                } else {
                    songs.join(", ")
                }
            ),
            thumbnail: thumbnail(&clip.audio, THUMB_COLUMNS),
            clip_ms: clip.audio.len() as u64 * 1000 / u64::from(p.sample_rate.max(1)),
            played: Arc::new(AtomicU64::new(0)),
            sample_rate: p.sample_rate,
            rating: None,
        };
        let played = Arc::clone(&view.played);
        self.ui().clips.push(view);
        self.clips.push(ClipEntry {
            key,
            clip_id,
            audio: clip.audio,
            params: clip.params,
            played,
        });
        if let Some(hook) = self.hook.as_mut() {
            hook.clip.get_or_insert(key);
        }
    }

    /// Saves the clip (and, the first time, its songs) to the feedback store.
    fn store_clip(&mut self, job: u64, clip: &Clip) -> Result<Option<ClipId>, String> {
        self.ensure_store();
        let Some(sink) = self.sink.as_mut() else {
            return Ok(None);
        };
        let songs = self.job_songs.get(&job).cloned().unwrap_or_default();
        let mut song_ids = Vec::new();
        let mut weights = Vec::new();
        // The pipeline reports one use per requested song, in request order; matching by
        // position keeps two songs renamed alike apart.
        for ((song, used), latent) in songs.iter().zip(&clip.params.songs).zip(&clip.song_latents) {
            let stored = self
                .song_rows
                .resolve(sink.store_mut(), song, || NewSong {
                    source: format!("DAW track capture: {}", song.name),
                    sample_rate: self.sample_rate,
                    duration_s: song.duration_s,
                    wav: SongAudio::File(song.wav.clone()),
                    latent: latent.clone(),
                })
                .map_err(|e| e.to_string())?;
            if song.stored != Some(stored) {
                let mut list = self.params.songs.lock().unwrap_or_else(|e| e.into_inner());
                super::songs::remember(&mut list, &song.wav, stored);
            }
            song_ids.push(stored.id);
            weights.push(used.weight);
        }
        // Every clip of one Generate, blind twins included, shares one request: the trainer
        // pairs clips of a request rated differently (the DPO objective).
        let request = *self.job_requests.entry(job).or_insert_with(Uid::random);
        let p = &clip.params;
        let id = sink
            .store_mut()
            .add_generation(NewGeneration {
                song_ids,
                weights,
                seed: p.seed,
                strength: p.strength as f32,
                steps: p.steps as u32,
                eta: p.eta as f32,
                detail: p.detail as f32,
                model_version: p.model_version,
                is_baseline: p.is_baseline,
                audio: clip.audio.clone(),
                sample_rate: p.sample_rate,
                latent: clip.latent.clone(),
                request: Some(request),
            })
            .map_err(|e| e.to_string())?;
        Ok(Some(id))
    }
}
