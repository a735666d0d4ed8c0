//! The UNet stage: ε-prediction on cached latents of the frozen autoencoder, timesteps biased to
//! t < 0.7·T, min-SNR-γ weighting, and an EMA of the weights for evaluation and export.
use super::autoencoder::{new_state, resumed, Autoencoder};
use super::data::splits;
use super::run::{run_loop, StageRun};
use super::state::{
    checkpoint_dir, load_module, load_optimizer, save_module, save_optimizer, truncate_loss_log,
    TrainState,
};
use super::{LatentCache, PretrainError, PretrainOptions, PretrainReport, Stage};
use crate::corpus::Corpus;
use crate::model::{Unet, UnetConfig};
use crate::training::diffusion::{biased_timesteps, noise_batch, FixedProblem, Noised};
use crate::training::{roll_rows, sample_indices, step_rng};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use rand::RngExt;
use refrain_engine::ddim::NoiseSchedule;
use refrain_engine::manifest::ScheduleConfig;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

struct UnetRun {
    cache: LatentCache,
    scale: f32,
    model: Unet,
    ema: Unet,
    optim: ModuleOptimizer,
    train: Vec<usize>,
    /// The held-out ε-problem on the eval latents, built once.
    heldout: FixedProblem,
    batch: usize,
    seed: u64,
    ema_decay: f32,
    /// See [`TrainState::ema_since`].
    ema_since: usize,
    schedule: NoiseSchedule,
    embedding_dim: usize,
    device: Device,
}

impl UnetRun {
    /// Noises `x0` (scaled latents, one after another) at timesteps `ts` with noise drawn from `rng`.
    fn noise(
        &self,
        x0: &[f32],
        ts: &[usize],
        rng: &mut rand_chacha::ChaCha8Rng,
    ) -> Result<Noised, PretrainError> {
        noise_batch(
            &self.schedule,
            x0,
            self.cache.len_one(),
            ts,
            self.embedding_dim,
            rng,
        )
        .map_err(PretrainError::engine)
    }
}

impl StageRun for UnetRun {
    fn train_step(&mut self, step: usize, lr: f64) -> Result<f32, PretrainError> {
        let mut rng = step_rng(self.seed, step);
        let indices = sample_indices(&mut rng, &self.train, self.batch);
        let [c, h, w] = self.cache.shape;
        let mut x0 = vec![0.0f32; indices.len() * c * h * w];
        for (b, &i) in indices.iter().enumerate() {
            // A random offset in time, as a roll of the latent's frame axis.
            let shift = rng.random_range(0..w);
            let scaled: Vec<f32> = self
                .cache
                .latent(i)
                .iter()
                .map(|v| v * self.scale)
                .collect();
            roll_rows(
                &scaled,
                w,
                shift,
                &mut x0[b * c * h * w..(b + 1) * c * h * w],
            );
        }
        let ts = biased_timesteps(&mut rng, indices.len(), self.schedule.num_train_timesteps());
        let noised = self.noise(&x0, &ts, &mut rng)?;
        let (sample, temb, noise) =
            noised.tensors(self.cache.shape, self.embedding_dim, &self.device);
        let weights = Noised::per_sample(noised.weights.clone(), &self.device);
        let err = (self.model.forward(sample, temb) - noise).powi_scalar(2);
        let per_sample = err.mean_dims(&[1, 2, 3]);
        let mse = per_sample.clone().mean();
        let loss = (per_sample * weights).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        self.model = self.optim.step(lr, self.model.clone(), grads);
        let k = step.saturating_sub(self.ema_since);
        let decay = self.ema_decay.min((1 + k) as f32 / (10 + k) as f32);
        self.ema = ema_update(self.ema.clone(), &self.model.valid(), decay);
        Ok(mse.into_scalar::<f32>())
    }

    fn heldout(&mut self, _state: &mut TrainState) -> Result<f32, PretrainError> {
        Ok(self.heldout.loss(&self.ema, &self.device.clone().inner()))
    }

    fn save(&self, dir: &Path) -> Result<(), PretrainError> {
        save_module(&self.model, dir, "model.bpk")?;
        save_module(&self.ema, dir, "ema.bpk")?;
        save_optimizer(&self.optim, dir)
    }
}

/// ema ← d·ema + (1 − d)·model, parameter by parameter (matched by id: the EMA starts as a
/// copy of the model, so ids agree).
fn ema_update(ema: Unet, model: &Unet, decay: f32) -> Unet {
    struct Collect(HashMap<ParamId, Tensor<1>>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let t = param.val();
            let n = t.dims().iter().product::<usize>();
            self.0.insert(param.id, t.reshape([n]));
        }
    }
    struct Blend(HashMap<ParamId, Tensor<1>>, f32);
    impl ModuleMapper for Blend {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let Some(src) = self.0.remove(&param.id) else {
                return param;
            };
            let d = self.1;
            param.map(|t| {
                let dims = t.dims();
                t.mul_scalar(d) + src.reshape(dims).mul_scalar(1.0 - d)
            })
        }
    }
    let mut collect = Collect(HashMap::new());
    model.visit(&mut collect);
    ema.map(&mut Blend(collect.0, decay))
}

/// The autoencoder checkpoint the UNet stage encodes with: `--autoencoder`, else `../autoencoder`.
fn autoencoder_dir(options: &PretrainOptions) -> PathBuf {
    options.autoencoder_dir.clone().unwrap_or_else(|| {
        options
            .out
            .parent()
            .unwrap_or(Path::new("."))
            .join("autoencoder")
    })
}

pub(super) fn run(options: &PretrainOptions) -> Result<PretrainReport, PretrainError> {
    let corpus = Corpus::open(&options.corpus)?;
    let plain = options.backend.device()?;
    let device = plain.clone().autodiff();
    let ae_dir = autoencoder_dir(options);
    let ae_ckpt = checkpoint_dir(&ae_dir).ok_or_else(|| {
        PretrainError::Invalid(format!(
            "no autoencoder checkpoint in {}: run --stage autoencoder first",
            ae_dir.display()
        ))
    })?;
    let ae_state = TrainState::load(&ae_ckpt)?
        .ok_or_else(|| PretrainError::Invalid(format!("{}: no state.json", ae_ckpt.display())))?;
    let ae = Autoencoder::load(&ae_state.autoencoder, &ae_ckpt, &plain)?;
    let f = ae_state.autoencoder.downsampling();
    let shape = [
        ae_state.autoencoder.latent_channels,
        ae_state.audio.n_mels / f,
        ae_state.audio.frames / f,
    ];
    let cache = LatentCache::load_or_build(
        &options.out,
        &corpus,
        &ae.encoder,
        ae_state.step,
        shape,
        &plain,
        options.progress,
    )?;
    let (train, eval) = splits(&corpus, options.eval_windows);
    if train.is_empty() {
        return Err(PretrainError::Invalid(
            "the corpus has no training windows".into(),
        ));
    }
    let scale_now = (1.0 / cache.stats(&train).1.max(1e-8)) as f32;

    let existing = options
        .resume
        .then(|| checkpoint_dir(&options.out))
        .flatten();
    let (mut state, model, ema, optim) = match &existing {
        Some(dir) => {
            let state = TrainState::load(dir)?.ok_or_else(|| {
                PretrainError::Invalid(format!("{}: no state.json", dir.display()))
            })?;
            let config = match (&state.stage, &state.unet) {
                (Stage::Unet, Some(c)) => c.clone(),
                _ => {
                    return Err(PretrainError::Invalid(format!(
                        "{} does not hold a UNet checkpoint",
                        dir.display()
                    )))
                }
            };
            let model = load_module(config.init(&device)?, dir, "model.bpk")?;
            let mut ema = load_module(config.init(&plain)?, dir, "ema.bpk")?;
            let optim = load_optimizer(AdamConfig::new().init(), dir)?;
            truncate_loss_log(&options.out, state.step)?;
            tracing::info!("resuming the UNet at step {}", state.step);
            let mut state = resumed(state, options);
            if state.autoencoder_step != Some(ae_state.step) {
                tracing::warn!(
                    "the autoencoder moved from step {:?} to {}: new latents and scale",
                    state.autoencoder_step,
                    ae_state.step
                );
                state.latent_scale = Some(scale_now);
                state.autoencoder_step = Some(ae_state.step);
                tracing::info!("restarting the weight average at step {}", state.step);
                ema = model.valid();
                state.ema_since = Some(state.step);
            }
            (state, model, ema, optim)
        }
        None => {
            truncate_loss_log(&options.out, 0)?;
            check_unet(&options.unet, shape)?;
            plain.seed(options.seed);
            let model = options.unet.init(&device)?;
            let ema = model.valid();
            let mut state = new_state(options, &corpus);
            state.autoencoder = ae_state.autoencoder.clone();
            state.audio = ae_state.audio.clone();
            state.autoencoder_step = Some(ae_state.step);
            state.latent_scale = Some(scale_now);
            state.latent_std = Some((1.0 / scale_now).max(0.0));
            (state, model, ema, AdamConfig::new().init())
        }
    };
    let config = state.unet.clone().unwrap_or_else(|| options.unet.clone());
    tracing::info!(
        "UNet: latent {:?}, scale {:.4}, {} train / {} eval latents",
        shape,
        state.latent_scale.unwrap_or(1.0),
        train.len(),
        eval.len()
    );
    let scale = state.latent_scale.unwrap_or(scale_now);
    let schedule =
        NoiseSchedule::from_config(&ScheduleConfig::default()).map_err(PretrainError::engine)?;
    let eval_latents: Vec<Vec<f32>> = eval
        .iter()
        .map(|&i| cache.latent(i).iter().map(|v| v * scale).collect())
        .collect();
    let heldout = FixedProblem::new(
        &eval_latents,
        cache.shape,
        &schedule,
        config.embedding_dim,
        state.seed ^ 0xE7A1,
        state.batch,
    )
    .map_err(PretrainError::engine)?;
    let mut run = UnetRun {
        scale,
        cache,
        model,
        ema,
        optim,
        train,
        heldout,
        batch: state.batch,
        seed: state.seed,
        ema_decay: state.ema_decay.unwrap_or(options.ema_decay),
        ema_since: state.ema_since.unwrap_or(0),
        schedule,
        embedding_dim: config.embedding_dim,
        device,
    };
    run_loop(&mut run, &mut state, options)
}

fn check_unet(config: &UnetConfig, shape: [usize; 3]) -> Result<(), PretrainError> {
    let down = 1 << config.channels.len().saturating_sub(1);
    if config.latent_channels != shape[0]
        || !shape[1].is_multiple_of(down)
        || !shape[2].is_multiple_of(down)
    {
        return Err(PretrainError::Invalid(format!(
            "UNet ({} channels, {} stages) does not fit the latent {:?}",
            config.latent_channels,
            config.channels.len(),
            shape
        )));
    }
    Ok(())
}
