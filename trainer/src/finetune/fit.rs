//! The fine-tune itself: the parent's UNet from its ONNX initializers ([`super::network`]), Adam on the
//! confidence-weighted ε-loss over the pool, and a held-out guard that stops it before it forgets.
use super::data::{Guard, GuardSource, TrainingSet};
use super::dpo::{self, DpoSetup, Pair};
use super::network::{load_network, ParentUnet};
use super::{FinetuneError, FinetuneOptions};
use crate::onnx::{patch_onnx_initializers, NameMap};
use crate::training::diffusion::{biased_timesteps, noise_batch, FixedProblem, Noised};
use crate::training::{roll_rows, step_rng, NoisePredictor};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::Device;
use indicatif::{ProgressBar, ProgressStyle};
use rand::RngExt;
use refrain_engine::ddim::NoiseSchedule;
use refrain_engine::manifest::Manifest;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// Linear learning-rate warm-up: Adam's first steps are full-size whatever the gradient.
const WARMUP: usize = 10;

/// Optimisation settings of a fine-tune.
#[derive(Debug, Clone, Serialize)]
pub struct FitParams {
    /// Maximum steps (the guard may stop earlier).
    pub steps: usize,
    /// Latents per step (drawn from the pool with replacement).
    pub batch: usize,
    /// Peak learning rate: small, the pool is tiny next to the corpus.
    pub lr: f64,
    /// Seed of batches, timesteps and noise.
    pub seed: u64,
    /// Steps between held-out checks.
    pub guard_every: usize,
    /// Stop once the held-out loss exceeds the parent's by this fraction.
    pub guard_tolerance: f64,
    /// Share of each batch drawn from the producer's own songs instead of the pool (prior
    /// preservation): the pool holds the model's own outputs, and training on those alone
    /// also teaches the model its own smoothness; real music in the batch pulls against that.
    pub prior_share: f64,
    /// β of the DPO objective (`dpo::DEFAULT_BETA`).
    pub beta: f64,
}

impl Default for FitParams {
    fn default() -> Self {
        Self {
            steps: 100,
            batch: 8,
            // Measured with `simulate` on the base: at 1e-4 and 3e-5 every version came out
            // duller than the base on nine requests in ten (Adam moves every weight by ≈ lr a
            // step whatever its gradient, which blurs a small pretrained model); 5e-6 did not.
            lr: 5e-6,
            seed: 7,
            guard_every: 20,
            guard_tolerance: 0.05,
            prior_share: 0.0,
            beta: dpo::DEFAULT_BETA,
        }
    }
}

impl FitParams {
    /// Refuses settings that cannot train, before a round touches the store.
    pub fn validate(&self) -> Result<(), FinetuneError> {
        let p = self;
        if p.steps == 0 || p.batch == 0 || p.guard_every == 0 || !p.lr.is_finite() || p.lr <= 0.0 {
            return Err(FinetuneError::Model(
                "steps, batch and guard_every must be at least 1 and lr positive".into(),
            ));
        }
        if !(p.beta.is_finite() && p.beta > 0.0) {
            return Err(FinetuneError::Model(format!(
                "DPO beta {} must be positive",
                p.beta
            )));
        }
        if !(0.0..1.0).contains(&p.prior_share) {
            return Err(FinetuneError::Model(format!(
                "prior share {} is not in [0, 1)",
                p.prior_share
            )));
        }
        Ok(())
    }
}

/// What the fine-tune measured.
#[derive(Debug, Clone, Serialize)]
pub struct FitOutcome {
    /// Steps trained (including any after the last accepted check).
    pub steps_run: usize,
    /// The step whose weights were kept (the last check within tolerance).
    pub kept_step: usize,
    /// Whether the guard stopped training before `steps`.
    pub stopped_early: bool,
    /// Where the held-out latents came from.
    pub guard_source: GuardSource,
    /// Held-out latents.
    pub guard_latents: usize,
    /// Song latents mixed into the batches (prior preservation; 0 when off).
    pub prior_latents: usize,
    /// Held-out ε-loss of the parent.
    pub guard_before: f32,
    /// The loss the tolerance is measured from: the first fine-tuned ancestor's parent (the
    /// base), so forgetting cannot accumulate version after version.
    pub guard_reference: f32,
    /// Held-out ε-loss of the kept weights.
    pub guard_after: f32,
    /// Weighted training loss of the first and the last step.
    pub first_loss: f32,
    /// See `first_loss`.
    pub last_loss: f32,
    /// Mean wall time per training step.
    pub ms_per_step: f64,
}

/// The kept UNet as a patched copy of the parent's graph, and what happened.
pub(super) struct Fitted {
    pub outcome: FitOutcome,
    pub unet_onnx: Vec<u8>,
}

/// The guard reference the parent was trained against, when it was measured on the same
/// held-out set (same source and size); a base version has none.
fn inherited_reference(parent: &Manifest, guard: &Guard) -> Option<f32> {
    let f = parent.training.as_ref()?.get("finetune")?.get("fit")?;
    let same_source = serde_json::to_value(guard.source).ok()? == *f.get("guard_source")?;
    let same_size = f.get("guard_latents")?.as_u64()? == guard.latents.len() as u64;
    let reference = f.get("guard_reference")?.as_f64()? as f32;
    (same_source && same_size && reference.is_finite()).then_some(reference)
}

/// Fine-tunes the parent's UNet on `set`, with `prior` (song latents) mixed into the batches
/// when [`FitParams::prior_share`] asks for it; see [`FitParams`] for the knobs, which the
/// caller has validated.
pub(super) fn fine_tune(
    parent_dir: &Path,
    parent: &Manifest,
    set: &TrainingSet,
    pairs: &[Pair],
    prior: &[Vec<f32>],
    guard: &Guard,
    options: &FinetuneOptions,
) -> Result<Fitted, FinetuneError> {
    let plain = options.backend.device().map_err(FinetuneError::model)?;
    let device = plain.clone().autodiff();
    let (network, names, onnx) = load_network(parent_dir, parent, &device)?;
    let run = Run {
        parent,
        set,
        pairs,
        prior,
        guard,
        options,
        names: &names,
        onnx: &onnx,
        plain,
        device,
    };
    match network {
        ParentUnet::Base(model) => run.fit(*model),
        ParentUnet::Diffusers(model) => run.fit(*model),
    }
}

/// Everything one fine-tune reads, whatever network family the parent is.
struct Run<'a> {
    parent: &'a Manifest,
    set: &'a TrainingSet,
    pairs: &'a [Pair],
    prior: &'a [Vec<f32>],
    guard: &'a Guard,
    options: &'a FinetuneOptions,
    names: &'a NameMap,
    onnx: &'a [u8],
    plain: Device,
    device: Device,
}

impl Run<'_> {
    fn fit<M: NoisePredictor>(&self, mut model: M) -> Result<Fitted, FinetuneError> {
        let (parent, set, prior, guard, options) =
            (self.parent, self.set, self.prior, self.guard, self.options);
        let (names, onnx, plain, device) = (self.names, self.onnx, &self.plain, &self.device);
        let p = &options.fit;
        let prior_weight = set.mean_weight();
        let schedule =
            NoiseSchedule::from_config(&parent.schedule).map_err(FinetuneError::model)?;
        let emb = parent.unet.embedding_dim;
        let l = &parent.latent;
        let shape = [l.channels, l.height, l.width];
        let len_one = l.len();
        let problem = FixedProblem::new(
            &guard.latents,
            shape,
            &schedule,
            emb,
            p.seed ^ 0x6A2D,
            p.batch,
        )
        .map_err(FinetuneError::model)?;
        let guard_before = problem.loss(&model.valid(), plain);
        let guard_reference = inherited_reference(parent, guard).unwrap_or(guard_before);
        let limit = f64::from(guard_reference) * (1.0 + p.guard_tolerance);
        let mut kept = model.valid();
        let mut outcome = FitOutcome {
            steps_run: 0,
            kept_step: 0,
            stopped_early: false,
            guard_source: guard.source,
            guard_latents: guard.latents.len(),
            prior_latents: prior.len(),
            guard_before,
            guard_reference,
            guard_after: guard_before,
            first_loss: f32::NAN,
            last_loss: f32::NAN,
            ms_per_step: 0.0,
        };
        let mut optim = AdamConfig::new().init();
        let bar = if options.progress {
            ProgressBar::new(p.steps as u64)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("fine-tune {bar:30} {pos}/{len} {msg} ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let began = Instant::now();
        // The frozen reference of the DPO objective: the parent as loaded (copied only when the
        // objective reads pairs, so weighted-only fine-tunes keep their memory).
        let reference = options
            .trains_pairs(self.pairs.len())
            .then(|| model.valid());
        let setup = DpoSetup {
            schedule: &schedule,
            shape,
            embedding_dim: emb,
            beta: p.beta,
        };
        for step in 0..p.steps {
            let mut rng = step_rng(p.seed, step);
            let mut loss = None;
            // A pool too small to train (`both` with pairs only) is left out, as the round decided.
            if options.trains_pool(set.len()) {
                let picks: Vec<(&[f32], f32)> = (0..p.batch)
                    .map(|_| {
                        // No draw at all when the prior is off keeps plain fine-tunes' random stream.
                        if p.prior_share > 0.0
                            && !prior.is_empty()
                            && rng.random::<f64>() < p.prior_share
                        {
                            let i = rng.random_range(0..prior.len());
                            (prior[i].as_slice(), prior_weight)
                        } else {
                            let i = rng.random_range(0..set.len());
                            (set.latent(i), set.weight(i))
                        }
                    })
                    .collect();
                let mut x0 = vec![0.0f32; picks.len() * len_one];
                for (b, (latent, _)) in picks.iter().enumerate() {
                    // A random roll in time, as in pretraining: the pool is tiny, so vary it.
                    let shift = rng.random_range(0..l.width.max(1));
                    roll_rows(
                        latent,
                        l.width,
                        shift,
                        &mut x0[b * len_one..(b + 1) * len_one],
                    );
                }
                let ts = biased_timesteps(&mut rng, picks.len(), schedule.num_train_timesteps());
                let noised = noise_batch(&schedule, &x0, len_one, &ts, emb, &mut rng)
                    .map_err(FinetuneError::model)?;
                let (sample, temb, noise) = noised.tensors(shape, emb, device);
                // ω · min-SNR weight per latent: the pretraining objective, weighted by confidence.
                let w: Vec<f32> = picks
                    .iter()
                    .zip(&noised.weights)
                    .map(|((_, weight), s)| weight * s)
                    .collect();
                let weights = Noised::per_sample(w, device);
                let per_sample = (model.predict(sample, temb) - noise)
                    .powi_scalar(2)
                    .mean_dims(&[1, 2, 3]);
                loss = Some((per_sample * weights).mean());
            }
            if let Some(reference) = &reference {
                // Half a batch of pairs: the same number of forward passes as a pool batch.
                let picks: Vec<usize> = (0..(p.batch / 2).max(1))
                    .map(|_| rng.random_range(0..self.pairs.len()))
                    .collect();
                let term = dpo::batch_loss(
                    &model, reference, self.pairs, &picks, &setup, &mut rng, device, plain,
                )
                .map_err(FinetuneError::model)?;
                loss = Some(match loss {
                    Some(pool) => pool + term,
                    None => term,
                });
            }
            let Some(loss) = loss else {
                return Err(FinetuneError::NothingToTrain(
                    "the objective has nothing to train on".into(),
                ));
            };
            let value = loss.clone().into_scalar::<f32>();
            if !value.is_finite() {
                return Err(FinetuneError::Model(format!(
                    "the fine-tune loss became {value} at step {step}: lower the learning rate"
                )));
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let warm = ((step + 1) as f64 / WARMUP as f64).min(1.0);
            model = optim.step(p.lr * warm, model, grads);
            if step == 0 {
                outcome.first_loss = value;
            }
            outcome.last_loss = value;
            outcome.steps_run = step + 1;
            bar.inc(1);
            if (step + 1) % p.guard_every == 0 || step + 1 == p.steps {
                let g = problem.loss(&model.valid(), plain);
                bar.set_message(format!(
                    "loss {value:.4} held-out {g:.4} (limit {limit:.4})"
                ));
                tracing::info!(
                "fine-tune step {}: loss {value:.5}, held-out {g:.5} (parent {guard_before:.5}, limit {limit:.5})",
                step + 1
            );
                if f64::from(g) > limit || !g.is_finite() {
                    outcome.stopped_early = step + 1 < p.steps || outcome.kept_step == 0;
                    if outcome.kept_step == 0 {
                        return Err(FinetuneError::Forgetting {
                            before: guard_reference,
                            after: g,
                            steps: step + 1,
                        });
                    }
                    break;
                }
                kept = model.valid();
                outcome.kept_step = step + 1;
                outcome.guard_after = g;
            }
        }
        bar.finish_and_clear();
        outcome.ms_per_step = began.elapsed().as_secs_f64() * 1e3 / outcome.steps_run.max(1) as f64;
        let unet_onnx =
            patch_onnx_initializers(onnx, &kept, names).map_err(FinetuneError::model)?;
        Ok(Fitted { outcome, unet_onnx })
    }
}
