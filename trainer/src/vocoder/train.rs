//! The vocoder's training run: Adam on random crops, warm-up then cosine decay, a held-out
//! figure on whole windows of files the corpus holds out, and atomic checkpoints
//! (`pretrain::commit`) that `--resume` continues exactly (step-seeded randomness).
use super::data::Pairs;
use super::model::{VocoderConfig, VocoderNet};
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
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// File name of the vocoder checkpoint's state.
pub const VOCODER_STATE: &str = "vocoder.json";

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
            backend: Backend::Cpu,
        }
    }
}

/// A checkpoint's configuration and progress (`vocoder.json`, written last: the commit point).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VocoderState {
    /// Steps done.
    pub step: usize,
    /// Seed (with `step`, the whole RNG state).
    pub seed: u64,
    /// Network sizes.
    pub config: VocoderConfig,
    /// The audio configuration of the mels it was trained on.
    pub audio: AudioConfig,
    /// Training windows (5.94 s each).
    pub train_windows: usize,
    /// Held-out windows.
    pub heldout_windows: usize,
    /// What the windows came from (for the model card).
    pub sources: Vec<String>,
    /// Last logged training loss.
    pub train_loss: Option<f32>,
    /// Last held-out log-magnitude L1.
    pub heldout_l1: Option<f32>,
    /// Last held-out spectral convergence of the predicted magnitude.
    pub heldout_sc: Option<f32>,
    /// The DSP mel inversion's held-out log-magnitude L1 and spectral convergence on the same
    /// windows: the reference the network's figures are read against.
    #[serde(default)]
    pub dsp_reference: Option<[f32; 2]>,
    /// Each run on different data, in order (empty in checkpoints from before legs were kept).
    #[serde(default)]
    pub legs: Vec<TrainingLeg>,
}

/// A stretch of training on one set of windows: the model card says what each leg learned from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingLeg {
    /// Step the leg started at.
    pub from_step: usize,
    /// Step the leg reached.
    pub to_step: usize,
    /// Training windows it drew from.
    pub train_windows: usize,
    /// What those windows came from.
    pub sources: Vec<String>,
    /// NNLS steps of the DSP base in this leg (`None`: the inversion's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inverse_steps: Option<usize>,
}

impl VocoderState {
    /// NNLS steps of the DSP inversion the network now corrects: its last leg's (`None`: the
    /// inversion's default).
    pub fn inverse_steps(&self) -> Option<usize> {
        self.legs.last().and_then(|l| l.inverse_steps)
    }

    /// Starts a leg at the current step unless `sources` and `train_windows` are the last
    /// leg's (a resume on the same data continues it); empty `sources` means "the same as
    /// before". `sources` becomes the union over every leg.
    pub fn begin_leg(
        &mut self,
        train_windows: usize,
        sources: Vec<String>,
        inverse_steps: Option<usize>,
    ) {
        if inverse_steps != self.inverse_steps() {
            // A different base: the DSP reference figures are measured again.
            self.dsp_reference = None;
        }
        if self.legs.is_empty() && self.step > 0 {
            // A checkpoint from before legs were recorded: what it recorded is its one leg.
            self.legs.push(TrainingLeg {
                from_step: 0,
                to_step: self.step,
                train_windows: self.train_windows,
                sources: self.sources.clone(),
                inverse_steps: None,
            });
        }
        let sources = match (sources.is_empty(), self.legs.last()) {
            (true, Some(last)) => last.sources.clone(),
            _ => sources,
        };
        let continues = self.legs.last().is_some_and(|l| {
            l.to_step == self.step
                && l.train_windows == train_windows
                && l.sources == sources
                && l.inverse_steps == inverse_steps
        });
        if !continues {
            self.legs.push(TrainingLeg {
                from_step: self.step,
                to_step: self.step,
                train_windows,
                sources: sources.clone(),
                inverse_steps,
            });
        }
        for source in sources {
            if !self.sources.contains(&source) {
                self.sources.push(source);
            }
        }
        self.train_windows = train_windows;
    }
    /// Reads `<dir>/vocoder.json`.
    pub fn load(dir: &Path) -> Result<Self, VocoderError> {
        let path = dir.join(VOCODER_STATE);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| VocoderError::Data(format!("{}: {e}", path.display())))?;
        serde_json::from_str(&text)
            .map_err(|e| VocoderError::Data(format!("{}: {e}", path.display())))
    }

    fn save(&self, dir: &Path) -> Result<(), VocoderError> {
        let path = dir.join(VOCODER_STATE);
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| VocoderError::Data(format!("{}: {e}", path.display())))?;
        std::fs::write(&path, text)
            .map_err(|e| VocoderError::Data(format!("{}: {e}", path.display())))
    }
}

/// Where the latest committed checkpoint of `out` is, with its state.
pub fn latest_checkpoint(out: &Path) -> Option<(PathBuf, VocoderState)> {
    ["checkpoint", "checkpoint.old"]
        .iter()
        .map(|d| out.join(d))
        .find_map(|d| VocoderState::load(&d).ok().map(|s| (d, s)))
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
                let state = VocoderState {
                    step: 0,
                    seed: options.seed,
                    config: options.config.clone(),
                    audio: audio.clone(),
                    train_windows: 0,
                    heldout_windows: heldout.len(),
                    sources: Vec::new(),
                    train_loss: None,
                    heldout_l1: None,
                    heldout_sc: None,
                    dsp_reference: None,
                    legs: Vec::new(),
                };
                let mut net = options.config.init(&device)?;
                // The fill starts at each bin's mean log magnitude, well below what loud bins
                // hold (so the DSP's loud bins are kept) and where the empty ones should be.
                let mut bias = vec![0.0f32; 2 * train.n_freqs];
                bias[train.n_freqs..].copy_from_slice(&train.mean_log_magnitude());
                net.head.bias = Some(Param::from_tensor(Tensor::from_data(
                    TensorData::new(bias, [2 * train.n_freqs]),
                    &device,
                )));
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
        net = optim.step(learning_rate(options, step), net, grads);
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

/// Warm-up, then cosine decay to a tenth of the peak at `steps`.
fn learning_rate(options: &VocoderTrainOptions, step: usize) -> f64 {
    let warm = ((step + 1) as f64 / options.warmup.max(1) as f64).min(1.0);
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
