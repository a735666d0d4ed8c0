//! Running a request through the model.
use super::song_cache::{Encoded, SongCache};
use super::tempo::Layout;
use super::{detail, prepare, Clip, ClipParams, GenerateRequest, PipelineError, SongUse, Timings};
use crate::audio;
use crate::ddim::{BatchMode, DdimParams, Sampler, Start};
use crate::latent;
use crate::model::Model;
use crate::spectrogram::MelTransform;
use crate::vocoder::{self, Vocoder};
use std::ops::ControlFlow;
use std::time::Instant;

mod fitted;
mod loudness;

use loudness::{match_loudness, rms, weighted_mean, UNCONDITIONAL_RMS};

/// What a running request reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Preparing and encoding songs.
    Encoding,
    /// UNet step `step` of `total` (0 before the first).
    Step {
        /// Steps done.
        step: usize,
        /// Steps in all.
        total: usize,
    },
    /// Decoding and inverting clip `clip` of `total`.
    Rendering {
        /// Clip index.
        clip: usize,
        /// Clips in all.
        total: usize,
    },
}

/// A loaded model with its sampler, spectrogram transform and vocoder, reused across requests.
pub struct Pipeline {
    model: Model,
    sampler: Sampler,
    transform: MelTransform,
    vocoder: Box<dyn Vocoder>,
    /// The vocoder asked for (the request's, else the version's own), even when it fell back.
    wanted_vocoder: String,
    /// Why the vocoder in use is not the one asked for.
    vocoder_warning: Option<String>,
    /// Songs' encodings from earlier requests ([`SongCache`]).
    songs: SongCache,
}

/// The vocoder a model version asks for: its manifest's, or the engine's default.
fn own_vocoder(model: &Model) -> &str {
    model
        .manifest()
        .vocoder
        .as_deref()
        .unwrap_or(vocoder::DEFAULT)
}

impl Pipeline {
    /// Builds the sampler, transform and vocoder the model's manifest describes.
    pub fn new(model: Model) -> Result<Self, PipelineError> {
        let sampler = Sampler::from_manifest(model.manifest())?;
        let transform = MelTransform::new(&model.manifest().audio)?;
        let wanted = own_vocoder(&model).to_string();
        let (vocoder, vocoder_warning) = vocoder::resolve(
            &wanted,
            &model.manifest().audio,
            &crate::locator::shipped_vocoder(),
        )?;
        Ok(Self {
            model,
            sampler,
            transform,
            vocoder,
            wanted_vocoder: wanted,
            vocoder_warning,
            songs: SongCache::default(),
        })
    }

    /// Renders with the vocoder called `name` until a request names another or none (see
    /// [`vocoder::NAMES`]; a request without one goes back to the version's own). An unknown
    /// name is an error and keeps the current one; a known one that cannot be loaded (the
    /// neural network missing or damaged) falls back to Griffin-Lim and returns the warning.
    pub fn set_vocoder(&mut self, name: &str) -> Result<Option<String>, PipelineError> {
        if !vocoder::NAMES.contains(&name) {
            return Err(vocoder::VocoderError::Unknown(name.to_string()).into());
        }
        let (v, warning) = vocoder::resolve(
            name,
            &self.model.manifest().audio,
            &crate::locator::shipped_vocoder(),
        )?;
        self.vocoder = v;
        self.wanted_vocoder = name.to_string();
        self.vocoder_warning = warning.clone();
        Ok(warning)
    }

    /// Why the vocoder in use is not the one asked for, when it is not.
    pub fn vocoder_warning(&self) -> Option<&str> {
        self.vocoder_warning.as_deref()
    }

    /// Load warnings of the model and of the vocoder (for the editor and the CLI).
    pub fn warnings(&self) -> Vec<String> {
        let mut all = self.model.warnings().to_vec();
        all.extend(self.vocoder_warning.clone());
        all
    }

    /// The vocoder in use.
    pub fn vocoder_name(&self) -> &'static str {
        self.vocoder.name()
    }

    /// Forgets the songs' encodings kept from earlier requests (the next request encodes its
    /// songs again; benchmarks time that path).
    pub fn clear_song_cache(&mut self) {
        self.songs.clear();
    }

    /// The loaded model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Encodes a model-rate window into a latent (mel → encoder).
    pub fn encode_window(
        &mut self,
        window: &[f32],
        timings: &mut Timings,
    ) -> Result<Vec<f32>, PipelineError> {
        Ok(self.encode_window_keeping_detail(window, false, timings)?.0)
    }

    /// [`Self::encode_window`], and with `detail` also what the autoencoder loses of the window
    /// ([`detail::residual`]; one more decoder call).
    fn encode_window_keeping_detail(
        &mut self,
        window: &[f32],
        detail: bool,
        timings: &mut Timings,
    ) -> Result<(Vec<f32>, Option<Vec<f32>>), PipelineError> {
        let mel = timed(&mut timings.mel, || self.transform.to_model(window))?;
        let latent = timed(&mut timings.encode, || self.model.encode(&mel))?;
        if !detail {
            return Ok((latent, None));
        }
        let own = timed(&mut timings.decode, || self.model.decode(&latent))?;
        Ok((latent, Some(detail::residual(&mel, &own))))
    }

    /// Decodes a latent to audio at the model rate (decoder → vocoder).
    pub fn render_latent(
        &mut self,
        latent: &[f32],
        seed: u64,
        timings: &mut Timings,
    ) -> Result<Vec<f32>, PipelineError> {
        self.render_latent_with_detail(latent, seed, None, timings)
    }

    /// [`Self::render_latent`] with `gain · residual` added to the decoded mel.
    fn render_latent_with_detail(
        &mut self,
        latent: &[f32],
        seed: u64,
        detail: Option<(&[f32], f32)>,
        timings: &mut Timings,
    ) -> Result<Vec<f32>, PipelineError> {
        let mut mel = timed(&mut timings.decode, || self.model.decode(latent))?;
        if let Some((residual, gain)) = detail {
            detail::apply(&mut mel, residual, gain);
        }
        Ok(timed(&mut timings.vocoder, || {
            self.vocoder.render(&mel, seed)
        })?)
    }

    /// Generates one clip per seed. `progress` may return `Break` to cancel (within one UNet step).
    pub fn generate(
        &mut self,
        request: &GenerateRequest,
        progress: &mut dyn FnMut(Progress) -> ControlFlow<()>,
    ) -> Result<(Vec<Clip>, Timings), PipelineError> {
        request.validate()?;
        // A request without a choice ("Model default") goes back to the version's own vocoder,
        // not to the last one a request named. Switched once per change: a fallen-back neural
        // vocoder is not re-hashed every request.
        let name = request
            .vocoder
            .clone()
            .unwrap_or_else(|| own_vocoder(&self.model).to_string());
        if name != self.wanted_vocoder {
            self.set_vocoder(&name)?;
        }
        let mut timings = Timings::default();
        let _ = progress(Progress::Encoding);
        let config = self.model.manifest().audio.clone();
        let layout = request
            .fit
            .map(|fit| Layout::new(fit, &config, self.model.manifest().latent.width));
        let mut latents = Vec::new();
        let mut uses: Vec<SongUse> = Vec::new();
        let mut loudness = Vec::new();
        let mut residuals = Vec::new();
        let keep_detail = request.detail > 0.0;
        for song in &request.songs {
            let prepared = timed(&mut timings.resample_in, || {
                prepare(song, &config, layout.as_ref())
            })?;
            loudness.push(rms(&prepared.window));
            // A song generated from before costs nothing to encode again.
            let key = SongCache::key(&prepared.window, keep_detail);
            let Encoded { latent, residual } = match self.songs.get(key) {
                Some(kept) => kept,
                None => {
                    let (latent, residual) = self.encode_window_keeping_detail(
                        &prepared.window,
                        keep_detail,
                        &mut timings,
                    )?;
                    let encoded = Encoded { latent, residual };
                    self.songs.insert(key, encoded.clone());
                    encoded
                }
            };
            latents.push(latent);
            residuals.extend(residual);
            uses.push(prepared.usage);
        }
        let weights: Vec<f32> = uses.iter().map(|u| u.weight).collect();
        let residual = detail::blend(&residuals, &weights);
        let detail_gain = match &residual {
            Some(_) => detail::gain(
                self.sampler.schedule(),
                request.steps,
                request.strength,
                request.detail,
            )?,
            None => 0.0,
        };
        let condition = if latents.is_empty() {
            Vec::new()
        } else {
            let refs: Vec<&[f32]> = latents.iter().map(Vec::as_slice).collect();
            latent::merge(&refs, Some(&weights))?
        };
        let start = if condition.is_empty() {
            Start::Noise {
                len: self.model.manifest().latent.len(),
            }
        } else {
            Start::Latent {
                latent: &condition,
                strength: request.strength,
            }
        };
        let k = request.seeds.len();
        let mode = if self.model.supports_batch(k) {
            BatchMode::OneCall
        } else {
            BatchMode::PerSeed
        };
        let params = DdimParams {
            steps: request.steps,
            eta: request.eta,
        };
        // Continuation windows run one seed at a time after the first windows of all seeds.
        let windows = layout.map_or(1, |l| l.windows);
        let per_window = self.steps_per_window(&start, &params)?;
        let first_total = per_window * if mode == BatchMode::OneCall { 1 } else { k };
        let total = first_total + k * (windows - 1) * per_window;
        let sampled = timed(&mut timings.unet, || {
            let mut denoiser = self.model.denoiser();
            let mut report = |step, _| progress(Progress::Step { step, total });
            self.sampler.sample_batch(
                start,
                &request.seeds,
                &params,
                &mut denoiser,
                mode,
                &mut report,
            )
        })?;
        let mut windows_per_seed = Vec::with_capacity(k);
        for (i, (first, &seed)) in sampled.into_iter().zip(&request.seeds).enumerate() {
            let Some(layout) = layout.as_ref() else {
                windows_per_seed.push(vec![first]);
                continue;
            };
            let offset = first_total + i * (windows - 1) * per_window;
            let condition =
                (!condition.is_empty()).then_some((condition.as_slice(), request.strength));
            let mut report = |window: usize, step: usize| {
                progress(Progress::Step {
                    step: offset + (window - 1) * per_window + step,
                    total,
                })
            };
            let all = timed(&mut timings.unet, || {
                self.continue_windows(first, condition, seed, layout, &params, &mut report)
            })?;
            windows_per_seed.push(all);
        }

        let target_rms = weighted_mean(&loudness, &weights).unwrap_or(UNCONDITIONAL_RMS);
        let manifest = self.model.manifest();
        let base = ClipParams {
            songs: uses,
            strength: if condition.is_empty() {
                1.0
            } else {
                request.strength
            },
            steps: request.steps,
            eta: request.eta,
            detail: if residual.is_some() {
                request.detail
            } else {
                0.0
            },
            seed: 0,
            model: manifest.name.clone(),
            model_version: manifest.version,
            provider: self.model.provider().to_string(),
            sample_rate: request.output_rate,
            griffin_lim_iters: manifest.audio.griffin_lim_iters,
            is_baseline: false,
            vocoder: self.vocoder.name().to_string(),
            vocoder_warning: self.vocoder_warning.clone(),
            fit: request.fit,
        };
        let mut clips = Vec::with_capacity(k);
        for (i, (mut latents_of_seed, &seed)) in
            windows_per_seed.into_iter().zip(&request.seeds).enumerate()
        {
            if progress(Progress::Rendering { clip: i, total: k }).is_break() {
                return Err(crate::ddim::DdimError::Cancelled.into());
            }
            let detail = residual.as_deref().map(|r| (r, detail_gain));
            let mut audio = match layout.as_ref() {
                Some(layout) => self.render_fitted(
                    &latents_of_seed,
                    seed,
                    detail,
                    layout,
                    request.output_rate,
                    &mut timings,
                )?,
                None => {
                    let audio = self.render_latent_with_detail(
                        &latents_of_seed[0],
                        seed,
                        detail,
                        &mut timings,
                    )?;
                    timed(&mut timings.resample_out, || {
                        audio::resample(&audio, config.sample_rate, request.output_rate)
                    })?
                }
            };
            // The trainer learns from the window the songs conditioned directly.
            let latent = latents_of_seed.swap_remove(0);
            // After resampling: its filter can overshoot the peak ceiling.
            match_loudness(&mut audio, target_rms);
            let params = ClipParams {
                seed,
                ..base.clone()
            };
            clips.push(Clip {
                audio,
                latent,
                condition: condition.clone(),
                song_latents: latents.clone(),
                params,
            });
        }
        Ok((clips, timings))
    }
}

/// Runs `stage`, adding its wall time in seconds to `slot`.
fn timed<T>(slot: &mut f64, stage: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = stage();
    *slot += started.elapsed().as_secs_f64();
    out
}
