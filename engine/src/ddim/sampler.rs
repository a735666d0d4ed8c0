//! DDIM timesteps, the update step, and the seeded (optionally batched) sampling loop.
use super::{timestep_embedding, DdimError, Denoiser, NoiseSchedule, SeededNoise};
use crate::manifest::Manifest;
use std::ops::ControlFlow;

/// A DDIM discretisation of a schedule into `steps` inference steps (diffusers' "leading"
/// spacing, `steps_offset = 0`, `set_alpha_to_one = true`; see the module docs).
#[derive(Debug, Clone)]
pub struct Ddim<'s> {
    schedule: &'s NoiseSchedule,
    step_ratio: usize,
    timesteps: Vec<usize>,
}

impl<'s> Ddim<'s> {
    /// Timesteps `[(steps−1)·r, …, r, 0]` with `r = T / steps` (integer division).
    pub fn new(schedule: &'s NoiseSchedule, steps: usize) -> Result<Self, DdimError> {
        let t = schedule.num_train_timesteps();
        if steps == 0 || steps > t {
            return Err(DdimError::InvalidParam {
                param: "steps",
                problem: format!("must be in 1..={t}, got {steps}"),
            });
        }
        let step_ratio = t / steps;
        let timesteps = (0..steps).rev().map(|i| i * step_ratio).collect();
        Ok(Self {
            schedule,
            step_ratio,
            timesteps,
        })
    }

    /// The timestep a step from `t` lands on; `None` after the last step (a clean sample).
    pub fn previous(&self, t: usize) -> Option<usize> {
        t.checked_sub(self.step_ratio)
    }

    /// All inference timesteps, descending.
    pub fn timesteps(&self) -> &[usize] {
        &self.timesteps
    }

    /// Index into [`Self::timesteps`] where image-to-image at `strength` starts, as diffusers'
    /// img2img `get_timesteps`: `steps − min(int(steps·strength), steps)`. Equal to `steps` (no
    /// denoising at all) when `steps·strength < 1`.
    pub fn start_index(&self, strength: f64) -> Result<usize, DdimError> {
        if !(strength > 0.0 && strength <= 1.0) {
            return Err(DdimError::InvalidParam {
                param: "strength",
                problem: format!("must be in (0, 1], got {strength}"),
            });
        }
        let steps = self.timesteps.len();
        // Truncation toward zero of the f64 product, exactly like Python's int(steps * strength).
        let init = ((steps as f64 * strength) as usize).min(steps);
        Ok(steps - init)
    }

    /// The timesteps image-to-image at `strength` runs through.
    pub fn img2img_timesteps(&self, strength: f64) -> Result<&[usize], DdimError> {
        Ok(&self.timesteps[self.start_index(strength)?..])
    }

    /// One DDIM update x_t → x_{t−r} from the predicted noise (diffusers' `DDIMScheduler.step`
    /// with ε-prediction; the x₀ estimate is clamped to [−1, 1] when the schedule's
    /// `clip_sample` is on). `variance_noise` is required when `eta > 0`.
    pub fn step(
        &self,
        t: usize,
        eps: &[f32],
        sample: &[f32],
        eta: f64,
        variance_noise: Option<&[f32]>,
    ) -> Result<Vec<f32>, DdimError> {
        let mut out = sample.to_vec();
        self.step_in_place(t, eps, &mut out, eta, variance_noise)?;
        Ok(out)
    }

    fn step_in_place(
        &self,
        t: usize,
        eps: &[f32],
        sample: &mut [f32],
        eta: f64,
        variance_noise: Option<&[f32]>,
    ) -> Result<(), DdimError> {
        let len = sample.len();
        let shape = |what, got: usize| DdimError::ShapeMismatch {
            what,
            expected: len,
            got,
        };
        if eps.len() != len {
            return Err(shape("predicted noise", eps.len()));
        }
        let a_t = self.schedule.alpha_cumprod(t)?;
        // set_alpha_to_one: past the last step the "previous" ᾱ is 1 (a clean sample).
        let a_prev = match t.checked_sub(self.step_ratio) {
            Some(p) => self.schedule.alpha_cumprod(p)?,
            None => 1.0,
        };
        let b_t = 1.0 - a_t;
        let variance = (1.0 - a_prev) / b_t * (1.0 - a_t / a_prev);
        let std_dev = eta * variance.sqrt();
        // Clamped because rounding can push 1 − ᾱ_prev − σ² a hair below zero at η = 1.
        let dir_coef = (1.0 - a_prev - std_dev * std_dev).max(0.0).sqrt();
        let (sqrt_b_t, sqrt_a_t, sqrt_a_prev) = (b_t.sqrt(), a_t.sqrt(), a_prev.sqrt());
        let clip = self.schedule.config().clip_sample;
        let noise = match variance_noise {
            Some(n) if n.len() != len => return Err(shape("variance noise", n.len())),
            Some(n) if eta > 0.0 => Some(n),
            None if eta > 0.0 => {
                return Err(DdimError::InvalidParam {
                    param: "variance_noise",
                    problem: "is required when eta > 0".into(),
                })
            }
            _ => None,
        };
        for (i, (x, &e)) in sample.iter_mut().zip(eps).enumerate() {
            let e = f64::from(e);
            let mut x0 = (f64::from(*x) - sqrt_b_t * e) / sqrt_a_t;
            if clip {
                x0 = x0.clamp(-1.0, 1.0);
            }
            let mut prev = sqrt_a_prev * x0 + dir_coef * e;
            if let Some(n) = noise {
                prev += std_dev * f64::from(n[i]);
            }
            *x = prev as f32;
        }
        Ok(())
    }
}

/// Inference settings of one sampling run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DdimParams {
    /// Inference steps over the full schedule (img2img runs the last `int(steps·strength)`).
    pub steps: usize,
    /// η ∈ [0, 1]: 0 = deterministic DDIM, 1 = DDPM-like stochastic steps.
    pub eta: f64,
}

impl Default for DdimParams {
    /// The CLI's defaults (issue 5): 50 steps, deterministic (η = 0).
    fn default() -> Self {
        Self {
            steps: 50,
            eta: 0.0,
        }
    }
}

/// Where sampling starts.
#[derive(Debug, Clone, Copy)]
pub enum Start<'a> {
    /// Unconditional: pure seeded noise of `len` values at the first timestep (all steps run).
    Noise {
        /// Latent length C·H·W.
        len: usize,
    },
    /// Image-to-image: `latent` noised to the start timestep of `strength`, then denoised.
    Latent {
        /// The (merged) song latent, C·H·W values; shared by every seed.
        latent: &'a [f32],
        /// s ∈ (0, 1]; small values stay close to `latent`, 1 nearly ignores it.
        strength: f64,
    },
}

/// How [`Sampler::sample_batch`] calls the denoiser for K seeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchMode {
    /// One call per step with batch K (the UNet graph must accept K; see
    /// `Manifest::supports_batch`).
    OneCall,
    /// K independent runs with batch 1, one seed after another.
    PerSeed,
}

/// A DDIM sampler for one model: its schedule and the UNet's `temb` width.
#[derive(Debug, Clone)]
pub struct Sampler {
    schedule: NoiseSchedule,
    embedding_dim: usize,
}

impl Sampler {
    /// A sampler feeding `embedding_dim`-wide timestep embeddings to the denoiser.
    pub fn new(schedule: NoiseSchedule, embedding_dim: usize) -> Self {
        Self {
            schedule,
            embedding_dim,
        }
    }

    /// The sampler a model version's manifest describes (its `schedule` and `unet.embedding_dim`).
    pub fn from_manifest(manifest: &Manifest) -> Result<Self, DdimError> {
        let schedule = NoiseSchedule::from_config(&manifest.schedule)?;
        Ok(Self::new(schedule, manifest.unet.embedding_dim))
    }

    /// Width of the timestep embedding fed as `temb`.
    pub fn embedding_dim(&self) -> usize {
        self.embedding_dim
    }

    /// The schedule sampled from.
    pub fn schedule(&self) -> &NoiseSchedule {
        &self.schedule
    }

    /// Generates one latent per seed. `progress(done, total)` is called before the first
    /// denoiser call with `done = 0` and after each call, where `total` is the number of denoiser
    /// calls planned; returning `Break` stops with [`DdimError::Cancelled`] before the next call.
    /// Both batch modes give bit-identical results for a denoiser that treats batch rows
    /// independently, because each seed owns its noise stream (module docs).
    pub fn sample_batch(
        &self,
        start: Start<'_>,
        seeds: &[u64],
        params: &DdimParams,
        denoiser: &mut dyn Denoiser,
        mode: BatchMode,
        progress: &mut dyn FnMut(usize, usize) -> ControlFlow<()>,
    ) -> Result<Vec<Vec<f32>>, DdimError> {
        let invalid = |param, problem: String| Err(DdimError::InvalidParam { param, problem });
        if seeds.is_empty() {
            return invalid("seeds", "must not be empty".into());
        }
        if !(params.eta >= 0.0 && params.eta <= 1.0) {
            return invalid("eta", format!("must be in [0, 1], got {}", params.eta));
        }
        let ddim = Ddim::new(&self.schedule, params.steps)?;
        let (len, first) = match start {
            Start::Noise { len } => (len, 0),
            Start::Latent { latent, strength } => {
                if let Some(index) = latent.iter().position(|v| !v.is_finite()) {
                    return Err(DdimError::NonFiniteInput { index });
                }
                (latent.len(), ddim.start_index(strength)?)
            }
        };
        if len == 0 {
            return invalid("latent", "must not be empty".into());
        }
        let timesteps = &ddim.timesteps()[first..];
        let mut runs: Vec<Run> = seeds.iter().map(|&seed| Run::new(seed, len)).collect();
        for run in &mut runs {
            run.x = match (start, timesteps.first()) {
                (Start::Noise { .. }, _) => run.noise.next_vec(len),
                (Start::Latent { latent, .. }, Some(&t0)) => {
                    let eps = run.noise.next_vec(len);
                    self.schedule.q_sample(latent, &eps, t0)?
                }
                // Strength too low for a single step: nothing to noise or denoise.
                (Start::Latent { latent, .. }, None) => latent.to_vec(),
            };
        }
        let per_step = match mode {
            BatchMode::OneCall => 1,
            BatchMode::PerSeed => runs.len(),
        };
        let total = timesteps.len() * per_step;
        let mut done = 0;
        let mut tick = |done: usize| match progress(done, total) {
            ControlFlow::Continue(()) => Ok(()),
            ControlFlow::Break(()) => Err(DdimError::Cancelled),
        };
        tick(done)?;
        let embeddings: Vec<Vec<f32>> = timesteps
            .iter()
            .map(|&t| timestep_embedding(t as f32, self.embedding_dim))
            .collect();
        match mode {
            BatchMode::OneCall => {
                let k = runs.len();
                for (&t, emb) in timesteps.iter().zip(&embeddings) {
                    let sample: Vec<f32> = runs.iter().flat_map(|r| r.x.iter().copied()).collect();
                    let temb = emb.repeat(k);
                    let eps = predict_checked(denoiser, &sample, &temb, k, t)?;
                    for (run, e) in runs.iter_mut().zip(eps.chunks_exact(len)) {
                        run.step(&ddim, t, e, params.eta)?;
                    }
                    done += 1;
                    tick(done)?;
                }
            }
            BatchMode::PerSeed => {
                for run in &mut runs {
                    for (&t, emb) in timesteps.iter().zip(&embeddings) {
                        let eps = predict_checked(denoiser, &run.x, emb, 1, t)?;
                        run.step(&ddim, t, &eps, params.eta)?;
                        done += 1;
                        tick(done)?;
                    }
                }
            }
        }
        Ok(runs.into_iter().map(|r| r.x).collect())
    }
}

/// One seed's state: its latent and its noise stream.
pub(super) struct Run {
    pub(super) x: Vec<f32>,
    pub(super) noise: SeededNoise,
    scratch: Vec<f32>,
}

impl Run {
    pub(super) fn new(seed: u64, len: usize) -> Self {
        Self {
            x: Vec::new(),
            noise: SeededNoise::new(seed),
            scratch: vec![0.0; len],
        }
    }

    pub(super) fn step(
        &mut self,
        ddim: &Ddim<'_>,
        t: usize,
        eps: &[f32],
        eta: f64,
    ) -> Result<(), DdimError> {
        // Drawn only when η > 0, so η = 0 runs consume nothing past the starting noise.
        let noise = if eta > 0.0 {
            self.noise.fill(&mut self.scratch);
            Some(self.scratch.as_slice())
        } else {
            None
        };
        ddim.step_in_place(t, eps, &mut self.x, eta, noise)
    }
}

/// Calls the denoiser and refuses a wrongly sized or non-finite prediction, so a broken network
/// fails loudly at the step where it broke instead of producing a silent or exploding clip.
pub(super) fn predict_checked(
    denoiser: &mut dyn Denoiser,
    sample: &[f32],
    temb: &[f32],
    batch: usize,
    t: usize,
) -> Result<Vec<f32>, DdimError> {
    let eps = denoiser.predict(sample, temb, batch)?;
    if eps.len() != sample.len() {
        return Err(DdimError::ShapeMismatch {
            what: "denoiser output",
            expected: sample.len(),
            got: eps.len(),
        });
    }
    if let Some(index) = eps.iter().position(|v| !v.is_finite()) {
        return Err(DdimError::NonFinite { timestep: t, index });
    }
    Ok(eps)
}
