//! Generation jobs, worker events, clips into the store, preview, ratings and export.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use refrain_engine::audio::{decode_file, write_wav, Audio};
use refrain_engine::feedback::{
    now_ms, ClipId, NewGeneration, NewRating, NewSong, Recorded, SongAudio,
};
use refrain_engine::pipeline::{Clip, GenerateRequest, Progress, SongInput};
use refrain_engine::worker::Event;

use super::{ClipEntry, State};
use crate::rt::{PreviewClip, ToAudio};
use crate::ui_state::{thumbnail, ClipView, JobView};

/// The rater id written with every rating from this plugin (one producer per machine).
pub const RATER_ID: &str = "local";
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
            match decode_file(&song.wav) {
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
                ui.job = Some(JobView {
                    fraction: 0.0,
                    label: "Loading the model…".into(),
                });
            }
            Err(e) => self.error(e.to_string()),
        }
    }

    pub(super) fn event(&mut self, event: Event) {
        match event {
            Event::ModelLoaded {
                name,
                version,
                provider,
                warnings,
                ..
            } => {
                let mut ui = self.ui();
                ui.model = format!("{name} v{version} · {provider}");
                if !warnings.is_empty() {
                    ui.status = warnings.join("; ");
                }
            }
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
            Event::Clip { id, clip } => self.clip(id, *clip),
            Event::Done { id, timings } => {
                self.job_songs.remove(&id);
                self.ui().job = None;
                self.status(format!("Done in {:.1} s", timings.total()));
            }
            Event::Cancelled { id } => {
                self.job_songs.remove(&id);
                self.ui().job = None;
                self.status("Cancelled");
            }
            Event::Failed { id, reason } => {
                self.job_songs.remove(&id);
                self.ui().job = None;
                self.error(format!("Generation failed: {reason}"));
            }
        }
    }

    fn clip(&mut self, job: u64, clip: Clip) {
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
            title: format!("Clip {key} · seed {}", p.seed),
            // No model name or version per clip: a quarter of the clips are blind baselines
            // from the parent version, and the producer must not be able to tell which.
            settings: format!(
                "strength {:.2} · detail {:.2} · {} steps · η {:.2} · {}",
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
            })
            .map_err(|e| e.to_string())?;
        Ok(Some(id))
    }

    pub(super) fn preview(&mut self, key: u64) {
        let Some(entry) = self.clips.iter().find(|c| c.key == key) else {
            return;
        };
        let clip = Box::new(PreviewClip {
            key,
            samples: entry.audio.clone(),
            played: Arc::clone(&entry.played),
        });
        if self.ends.to_audio.push(ToAudio::Play(clip)).is_err() {
            self.error("The audio thread is not taking commands (is the host processing?)");
        }
    }

    pub(super) fn rate(&mut self, key: u64, accepted: bool, stars: Option<u8>) {
        let Some(entry) = self.clips.iter().find(|c| c.key == key) else {
            return;
        };
        let rate = u64::from(entry.params.sample_rate.max(1));
        let listen_ms = entry.played.load(Ordering::Relaxed) * 1000 / rate;
        let clip_ms = (entry.audio.len() as u64 * 1000 / rate).max(1);
        let Some(clip_id) = entry.clip_id else {
            self.error("This clip was not saved, so its rating cannot be stored");
            return;
        };
        let Some(sink) = self.sink.as_mut() else {
            self.error("The feedback store is not open; rating not saved");
            return;
        };
        let rating = NewRating::new(clip_id, accepted, stars, listen_ms, clip_ms, RATER_ID);
        let stored = match sink.record(rating) {
            Ok(Recorded::Stored(_)) => "stored",
            Ok(Recorded::Spooled) => "spooled (database busy)",
            Err(e) => {
                self.error(format!("Rating not saved: {e}"));
                return;
            }
        };
        let text = format!(
            "{}{} · {stored}",
            if accepted { "Accepted" } else { "Rejected" },
            stars.map(|s| format!(" {s}/5 stars")).unwrap_or_default()
        );
        let mut ui = self.ui();
        ui.ratings_stored += 1;
        if let Some(view) = ui.clips.iter_mut().find(|c| c.key == key) {
            view.rating = Some(text);
        }
    }

    pub(super) fn export(&mut self, key: u64) {
        let Some(entry) = self.clips.iter().find(|c| c.key == key) else {
            return;
        };
        let dir = self.ui().export_dir.clone();
        let path = dir.join(format!("refrain-clip{key}-seed{}.wav", entry.params.seed));
        let audio = Audio::from_mono(entry.params.sample_rate, entry.audio.clone());
        let result = std::fs::create_dir_all(&dir)
            .map_err(|e| e.to_string())
            .and_then(|()| write_wav(&path, &audio).map_err(|e| e.to_string()));
        match result {
            Ok(()) => {
                self.status(format!("Exported {}", path.display()));
                self.ui().last_export = Some(path);
            }
            Err(e) => self.error(format!("Export to {} failed: {e}", path.display())),
        }
    }
}
