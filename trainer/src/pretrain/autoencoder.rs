//! The autoencoder stage: L1 reconstruction of the mel from a *sampled* latent plus a small KL
//! term (see `model::autoencoder` for why the decoder trains on samples).
use super::data::{augmented_mel_batch, mel_batch, splits};
use super::run::{run_loop, StageRun};
use super::state::{
    checkpoint_dir, load_module, load_optimizer, save_module, save_optimizer, truncate_loss_log,
    CorpusSummary, TrainState,
};
use super::{PretrainError, PretrainOptions, PretrainReport, Stage, DEFAULT_DETAIL_WEIGHT};
use crate::corpus::Corpus;
use crate::model::autoencoder::{detail_loss, kl_loss};
use crate::model::{AutoencoderConfig, Decoder, Encoder};
use crate::training::{normal, sample_indices, step_rng};
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use std::path::Path;

/// Encoder and decoder as one module, so one optimizer and one record cover both.
#[derive(Module, Debug)]
pub struct Autoencoder {
    /// mel → latent posterior.
    pub encoder: Encoder,
    /// latent → mel.
    pub decoder: Decoder,
}

impl Autoencoder {
    /// Fresh weights for `config` on `device`.
    pub fn init(config: &AutoencoderConfig, device: &Device) -> Result<Self, PretrainError> {
        Ok(Self {
            encoder: config.init_encoder(device)?,
            decoder: config.init_decoder(device)?,
        })
    }

    /// Loads the autoencoder of a checkpoint directory (`model.bpk`) on `device`.
    pub fn load(
        config: &AutoencoderConfig,
        checkpoint: &Path,
        device: &Device,
    ) -> Result<Self, PretrainError> {
        load_module(Self::init(config, device)?, checkpoint, "model.bpk")
    }

    /// Reconstruction through the posterior mean (no sampling): what inference does.
    pub fn reconstruct(&self, mel: Tensor<4>) -> Tensor<4> {
        self.decoder.forward(self.encoder.forward(mel))
    }
}

struct AeRun {
    corpus: Corpus,
    model: Autoencoder,
    optim: ModuleOptimizer,
    train: Vec<usize>,
    eval: Vec<usize>,
    batch: usize,
    seed: u64,
    kl_weight: f32,
    detail_weight: f32,
    crop: usize,
    device: Device,
}

impl StageRun for AeRun {
    fn train_step(&mut self, step: usize, lr: f64) -> Result<f32, PretrainError> {
        let mut rng = step_rng(self.seed, step);
        let indices = sample_indices(&mut rng, &self.train, self.batch);
        let mel = augmented_mel_batch(&self.corpus, &indices, self.crop, &mut rng, &self.device);
        let (mean, logvar) = self.model.encoder.forward_moments(mel.clone());
        // The reparameterised sample, with ε from the step's stream (not burn's global RNG)
        // so a resumed run reproduces it.
        let dims = mean.dims();
        let eps = Tensor::from_data(
            TensorData::new(normal(&mut rng, dims.iter().product()), dims),
            &self.device,
        );
        let z = mean.clone() + logvar.clone().mul_scalar(0.5).exp() * eps;
        let recon = self.model.decoder.forward(z);
        let rec = (recon.clone() - mel.clone()).abs().mean();
        // The logged loss stays the plain L1 so the curve compares across runs and with the
        // held-out number; the detail term only shapes the gradient.
        let mut loss = rec.clone() + kl_loss(mean, logvar).mul_scalar(self.kl_weight);
        if self.detail_weight > 0.0 {
            loss = loss + detail_loss(recon, mel).mul_scalar(self.detail_weight);
        }
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        self.model = self.optim.step(lr, self.model.clone(), grads);
        Ok(rec.into_scalar::<f32>())
    }

    fn heldout(&mut self, state: &mut TrainState) -> Result<f32, PretrainError> {
        let model = self.model.valid();
        let device = self.device.clone().inner();
        let (mut l1, mut n) = (0.0f64, 0usize);
        let (mut sum, mut sq, mut count) = (0.0f64, 0.0f64, 0usize);
        for chunk in self.eval.chunks(self.batch.max(1)) {
            let mel = mel_batch(&self.corpus, chunk, &device);
            let latent = model.encoder.forward(mel.clone());
            for v in latent.to_data().iter::<f32>() {
                sum += f64::from(v);
                sq += f64::from(v) * f64::from(v);
                count += 1;
            }
            let recon = model.decoder.forward(latent);
            l1 += f64::from((recon - mel).abs().mean().into_scalar::<f32>()) * chunk.len() as f64;
            n += chunk.len();
        }
        let mean = sum / count.max(1) as f64;
        state.latent_std = Some((sq / count.max(1) as f64 - mean * mean).max(0.0).sqrt() as f32);
        Ok((l1 / n.max(1) as f64) as f32)
    }

    fn save(&self, dir: &Path) -> Result<(), PretrainError> {
        save_module(&self.model, dir, "model.bpk")?;
        save_optimizer(&self.optim, dir)
    }
}

pub(super) fn run(options: &PretrainOptions) -> Result<PretrainReport, PretrainError> {
    let corpus = Corpus::open(&options.corpus)?;
    let base = options.backend.device()?;
    let device = base.clone().autodiff();
    let existing = if options.resume {
        checkpoint_dir(&options.out)
    } else {
        None
    };
    let (mut state, model, optim) = match &existing {
        Some(dir) => {
            let state = TrainState::load(dir)?.ok_or_else(|| {
                PretrainError::Invalid(format!("{}: no state.json", dir.display()))
            })?;
            if state.stage != Stage::Autoencoder {
                return Err(PretrainError::Invalid(format!(
                    "{} holds a {:?} checkpoint, not an autoencoder one",
                    dir.display(),
                    state.stage
                )));
            }
            let model = Autoencoder::load(&state.autoencoder, dir, &device)?;
            let optim = load_optimizer(AdamConfig::new().init(), dir)?;
            truncate_loss_log(&options.out, state.step)?;
            tracing::info!("resuming the autoencoder at step {}", state.step);
            (resumed(state, options), model, optim)
        }
        None => {
            if options.resume {
                tracing::info!("no checkpoint in {}: starting fresh", options.out.display());
            }
            truncate_loss_log(&options.out, 0)?;
            base.seed(options.seed);
            let model = Autoencoder::init(&options.autoencoder, &device)?;
            (new_state(options, &corpus), model, AdamConfig::new().init())
        }
    };
    if state.audio.n_mels % state.autoencoder.downsampling() != 0
        || state.audio.frames % state.autoencoder.downsampling() != 0
    {
        return Err(PretrainError::Invalid(format!(
            "mel {}×{} is not divisible by the autoencoder's downsampling {}",
            state.audio.n_mels,
            state.audio.frames,
            state.autoencoder.downsampling()
        )));
    }
    if let Some(c) = state.crop_frames {
        if c == 0 || c % state.autoencoder.downsampling() != 0 {
            return Err(PretrainError::Invalid(format!(
                "crop of {c} frames is not a positive multiple of the downsampling {}",
                state.autoencoder.downsampling()
            )));
        }
    }
    let (train, eval) = splits(&corpus, options.eval_windows);
    if train.is_empty() {
        return Err(PretrainError::Invalid(
            "the corpus has no training windows".into(),
        ));
    }
    let mut run = AeRun {
        corpus,
        model,
        optim,
        train,
        eval,
        batch: state.batch,
        seed: state.seed,
        kl_weight: state.kl_weight.unwrap_or(options.kl_weight),
        detail_weight: state.detail_weight.unwrap_or(0.0),
        crop: state.crop_frames.unwrap_or(state.audio.frames),
        device,
    };
    run_loop(&mut run, &mut state, options)
}

pub(super) fn new_state(options: &PretrainOptions, corpus: &Corpus) -> TrainState {
    TrainState {
        stage: options.stage,
        step: 0,
        seed: options.seed,
        batch: options
            .batch
            .unwrap_or(PretrainOptions::default_batch(options.stage)),
        lr: options
            .lr
            .unwrap_or(PretrainOptions::default_lr(options.stage)),
        warmup: options.warmup,
        audio: corpus.manifest.audio.clone(),
        corpus: CorpusSummary::of(corpus),
        autoencoder: options.autoencoder.clone(),
        unet: (options.stage == Stage::Unet).then(|| options.unet.clone()),
        kl_weight: (options.stage == Stage::Autoencoder).then_some(options.kl_weight),
        crop_frames: (options.stage == Stage::Autoencoder)
            .then_some(options.crop_frames)
            .flatten(),
        detail_weight: (options.stage == Stage::Autoencoder)
            .then(|| options.detail_weight.unwrap_or(DEFAULT_DETAIL_WEIGHT)),
        ema_decay: (options.stage == Stage::Unet).then_some(options.ema_decay),
        ema_since: None,
        autoencoder_step: None,
        latent_std: None,
        latent_scale: None,
        train_loss: None,
        heldout_loss: None,
    }
}

/// A checkpoint's state with explicit `--batch`/`--lr` applied (then not an exact continuation).
pub(super) fn resumed(mut state: TrainState, options: &PretrainOptions) -> TrainState {
    if let Some(b) = options.batch.filter(|&b| b != state.batch) {
        tracing::warn!("batch {} → {b}: not an exact continuation", state.batch);
        state.batch = b;
    }
    if let Some(lr) = options.lr.filter(|&lr| lr != state.lr) {
        tracing::warn!("lr {} → {lr}: not an exact continuation", state.lr);
        state.lr = lr;
    }
    if state.stage == Stage::Autoencoder {
        if let Some(w) = options
            .detail_weight
            .filter(|&w| Some(w) != state.detail_weight)
        {
            tracing::warn!(
                "detail weight {:?} → {w}: not an exact continuation",
                state.detail_weight
            );
            state.detail_weight = Some(w);
        }
    }
    state
}
