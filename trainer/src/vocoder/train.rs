//! The vocoder's training run: Adam on random crops, warm-up then cosine decay, a held-out
//! figure on whole windows of files the corpus holds out, and atomic checkpoints
//! (`pretrain::commit`) that `--resume` continues exactly (step-seeded randomness).
use super::data::Pairs;
use super::import::from_export;
use super::model::{VocoderConfig, VocoderNet};
use super::state::{latest_checkpoint, VocoderState};
use super::VocoderError;
use crate::pretrain::{
    append_loss, commit, load_module, load_optimizer, save_module, save_optimizer,
    truncate_loss_log, LossRecord,
};
use crate::training::{spread, step_rng, Backend};
use burn::module::{Module, Param};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use refrain_engine::spectrogram::AudioConfig;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Everything a training run needs.
#[derive(Debug, Clone)]
pub struct VocoderTrainOptions {
    /// Checkpoint directory (outside git).
    pub out: PathBuf,
    /// Total steps to reach.
    pub steps: usize,
    /// Continue from the checkpoint in `out`.
    pub resume: bool,
    /// Crops per step.
    pub batch: usize,
    /// Frames per crop.
    pub crop: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Linear warm-up steps.
    pub warmup: usize,
    /// Held-out figure every this many steps.
    pub eval_every: usize,
    /// Checkpoint every this many steps.
    pub checkpoint_every: usize,
    /// Seed of a fresh run.
    pub seed: u64,
    /// Network sizes of a fresh run.
    pub config: VocoderConfig,
    /// Start a run with no checkpoint from this exported vocoder directory (its weights and
    /// training record) instead of random weights.
    pub init_from: Option<PathBuf>,
    /// Tensor backend.
    pub backend: Backend,
}

impl VocoderTrainOptions {
    /// Defaults for a run of `steps` into `out`.
    pub fn new(out: PathBuf, steps: usize) -> Self {
        Self {
            out,
            steps,
            resume: false,
            batch: 16,
            crop: 64,
            lr: 1e-3,
            warmup: 100,
            eval_every: 250,
            checkpoint_every: 100,
            seed: 0x5eed,
            config: VocoderConfig::default(),
            init_from: None,
            backend: Backend::Cpu,
        }
    }
}

/// Loads the trained network of a checkpoint directory on `device`.
pub fn load_net(
    dir: &Path,
    state: &VocoderState,
    device: &Device,
) -> Result<VocoderNet, VocoderError> {
    Ok(load_module(state.config.init(device)?, dir, "model.bpk")?)
}

/// The loss: mean |ln|X̂| − ln|X|| plus the spectral convergence of the linear magnitudes (the
/// two terms of the benchmark's multi-resolution distance, at the model's resolution).
pub fn loss(predicted: Tensor<3>, target: Tensor<3>) -> (Tensor<1>, Tensor<1>) {
    let l1 = (predicted.clone() - target.clone()).abs().mean();
    let (p, t) = (predicted.exp(), target.exp());
    let diff = p - t.clone();
    let sc = ((diff.clone() * diff).sum() / (t.clone() * t).sum()).sqrt();
    (l1, sc)
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct VocoderReport {
    /// The final state.
    pub state: VocoderState,
    /// Mean ms per step in this invocation.
    pub ms_per_step: Option<f64>,
}

/// Trains on `train`, measuring on `heldout`; `sources` name them for the model card.
pub fn train(
    options: &VocoderTrainOptions,
    audio: &AudioConfig,
    train: &Pairs,
    heldout: &Pairs,
    sources: Vec<String>,
) -> Result<VocoderReport, VocoderError> {
    if train.is_empty() {
        return Err(VocoderError::Data("no training windows".into()));
    }
    std::fs::create_dir_all(&options.out)
        .map_err(|e| VocoderError::Data(format!("{}: {e}", options.out.display())))?;
    let base = options.backend.device()?;
    let device = base.clone().autodiff();
    let existing = options
        .resume
        .then(|| latest_checkpoint(&options.out))
        .flatten();
    let (mut state, mut net, mut optim): (VocoderState, VocoderNet, ModuleOptimizer) =
        match existing {
            Some((dir, state)) => {
                let net = load_net(&dir, &state, &device)?;
                let optim = load_optimizer(AdamConfig::new().init(), &dir)?;
                truncate_loss_log(&options.out, state.step)?;
                tracing::info!("resuming the vocoder at step {}", state.step);
                (state, net, optim)
            }
            None => {
                truncate_loss_log(&options.out, 0)?;
                base.seed(options.seed);
                let (mut state, net) = match &options.init_from {
                    Some(dir) => {
                        let (net, state) = from_export(dir, options.seed, &device)?;
                        if state.step >= options.steps {
                            return Err(VocoderError::Data(format!(
                                "{} is already trained to step {}: ask for more steps than that \
(--steps, STEPS in scripts/train-vocoder.sh)",
                                dir.display(),
                                state.step
                            )));
                        }
                        if state.audio != *audio {
                            return Err(VocoderError::Data(format!(
                                "{} was trained on another mel format than this run's",
                                dir.display()
                            )));
                        }
                        tracing::info!(
                            "continuing the vocoder exported in {} at step {}",
                            dir.display(),
                            state.step
                        );
                        (state, net)
                    }
                    None => fresh(options, audio, train, &device)?,
                };
                state.heldout_windows = heldout.len();
                (state, net, AdamConfig::new().init())
            }
        };
    state.begin_leg(train.len(), sources, train.inverse_steps);
    let eval = eval_windows(heldout);
    if state.dsp_reference.is_none() && !eval.is_empty() {
        let (l1, sc) = dsp_baseline(heldout, &eval, &base);
        tracing::info!("reference: the DSP mel inversion on the held-out windows: log-magnitude L1 {l1:.4}, SC {sc:.4}");
        state.dsp_reference = Some([l1, sc]);
    }
    let began = Instant::now();
    let start = state.step;
    let (mut sum, mut count, mut since) = (0.0f64, 0usize, Instant::now());
    for step in start..options.steps {
        let mut rng = step_rng(state.seed, step);
        let b = train.batch(&mut rng, options.batch, options.crop, &device);
        let (l1, sc) = loss(net.forward(b.mel, b.base), b.target);
        let total = l1 + sc;
        let value = total.clone().into_scalar::<f32>();
        if !value.is_finite() {
            return Err(VocoderError::Data(format!(
                "loss became {value} at step {step}: lower --lr and --resume"
            )));
        }
        let grads = GradientsParams::from_grads(total.backward(), &net);
        net = optim.step(
            learning_rate(options, step, state.optimizer_from),
            net,
            grads,
        );
        state.step = step + 1;
        if let Some(leg) = state.legs.last_mut() {
            leg.to_step = state.step;
        }
        sum += f64::from(value);
        count += 1;
        let done = state.step;
        let last = done == options.steps;
        let heldout_now = (done.is_multiple_of(options.eval_every) || last) && !eval.is_empty();
        if heldout_now {
            let (l1, sc) = heldout_figures(&net.valid(), heldout, &eval, &base);
            state.heldout_l1 = Some(l1);
            state.heldout_sc = Some(sc);
        }
        if done.is_multiple_of(10) || heldout_now || last {
            let record = LossRecord {
                step: done,
                loss: (sum / count.max(1) as f64) as f32,
                heldout: heldout_now.then_some(state.heldout_l1).flatten(),
                ms_per_step: since.elapsed().as_secs_f64() * 1e3 / count.max(1) as f64,
            };
            append_loss(&options.out, &record)?;
            state.train_loss = Some(record.loss);
            tracing::info!(
                "step {done}: loss {:.4}, held-out L1 {:?} SC {:?}, {:.0} ms/step",
                record.loss,
                state.heldout_l1,
                state.heldout_sc,
                record.ms_per_step
            );
            (sum, count, since) = (0.0, 0, Instant::now());
        }
        if done.is_multiple_of(options.checkpoint_every) || last {
            let mut saved = Ok(());
            commit(&options.out, |dir| {
                save_module(&net, dir, "model.bpk")?;
                save_optimizer(&optim, dir)?;
                saved = state.save(dir);
                Ok(())
            })?;
            saved?;
        }
    }
    let ran = options.steps.saturating_sub(start);
    Ok(VocoderReport {
        state,
        ms_per_step: (ran > 0).then(|| began.elapsed().as_secs_f64() * 1e3 / ran as f64),
    })
}

/// A new network at step 0, its fill bias at each bin's mean log magnitude.
fn fresh(
    options: &VocoderTrainOptions,
    audio: &AudioConfig,
    train: &Pairs,
    device: &Device,
) -> Result<(VocoderState, VocoderNet), VocoderError> {
    let state = VocoderState {
        step: 0,
        seed: options.seed,
        config: options.config.clone(),
        audio: audio.clone(),
        train_windows: 0,
        heldout_windows: 0,
        sources: Vec::new(),
        train_loss: None,
        heldout_l1: None,
        heldout_sc: None,
        dsp_reference: None,
        legs: Vec::new(),
        optimizer_from: 0,
    };
    let mut net = options.config.init(device)?;
    // The fill starts at each bin's mean log magnitude, well below what loud bins hold (so the
    // DSP's loud bins are kept) and where the empty ones should be.
    let mut bias = vec![0.0f32; 2 * train.n_freqs];
    bias[train.n_freqs..].copy_from_slice(&train.mean_log_magnitude());
    net.head.bias = Some(Param::from_tensor(Tensor::from_data(
        TensorData::new(bias, [2 * train.n_freqs]),
        device,
    )));
    Ok((state, net))
}

/// Warm-up from the step the optimizer's moments started at (a run continued from an export
/// starts them afresh), then cosine decay to a tenth of the peak at `steps`.
fn learning_rate(options: &VocoderTrainOptions, step: usize, optimizer_from: usize) -> f64 {
    let warmed = (step + 1).saturating_sub(optimizer_from);
    let warm = (warmed as f64 / options.warmup.max(1) as f64).min(1.0);
    let progress = (step as f64 / options.steps.max(1) as f64).min(1.0);
    let cosine = 0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
    options.lr * warm * cosine
}

/// Held-out (log-magnitude L1, spectral convergence) on whole windows.
pub fn heldout_figures(
    net: &VocoderNet,
    heldout: &Pairs,
    eval: &[usize],
    device: &Device,
) -> (f32, f32) {
    let (mut l1, mut sc) = (0.0f32, 0.0f32);
    for chunk in eval.chunks(4) {
        let w = heldout.windows(chunk, device);
        let (a, b) = loss(net.forward(w.mel, w.base), w.target);
        l1 += a.into_scalar::<f32>() * chunk.len() as f32;
        sc += b.into_scalar::<f32>() * chunk.len() as f32;
    }
    let n = eval.len().max(1) as f32;
    (l1 / n, sc / n)
}

/// The same figures for the DSP the network replaces (the engine's mel inversion: damped
/// pseudo-inverse + NNLS), on the same windows: the reference a trained network must beat.
pub fn dsp_baseline(heldout: &Pairs, eval: &[usize], device: &Device) -> (f32, f32) {
    let (mut l1, mut sc) = (0.0f32, 0.0f32);
    for chunk in eval.chunks(4) {
        let w = heldout.windows(chunk, device);
        let [b, _, f, t] = w.base.dims();
        let (a, c) = loss(w.base.reshape([b, f, t]), w.target);
        l1 += a.into_scalar::<f32>() * chunk.len() as f32;
        sc += c.into_scalar::<f32>() * chunk.len() as f32;
    }
    let n = eval.len().max(1) as f32;
    (l1 / n, sc / n)
}

/// The held-out windows the figures use (the same every run).
pub fn eval_windows(heldout: &Pairs) -> Vec<usize> {
    spread(&(0..heldout.len()).collect::<Vec<_>>(), EVAL_WINDOWS)
}

/// Held-out windows per figure.
const EVAL_WINDOWS: usize = 16;
