//! The ε-prediction training problem shared by pretraining and fine-tuning: which timesteps a
//! batch draws, how clean latents are noised, and the min-SNR weights.
use burn::tensor::{Device, Tensor, TensorData};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use refrain_engine::ddim::{timestep_embeddings, DdimError, NoiseSchedule};

/// min-SNR-γ (Hang et al. 2023): ε-loss weight min(SNR, γ) / SNR.
const MIN_SNR_GAMMA: f64 = 5.0;
/// Share of timesteps drawn from [0, 0.7·T) (the rest uniform over all T): variations start
/// from the producer's latent at strength ≈ 0.3–0.7, so low-to-middle noise matters most.
const LOW_T_SHARE: f64 = 0.8;
const LOW_T_FRACTION: f64 = 0.7;

/// One noised batch: x_t, temb, the noise, and the min-SNR weights, flat and batch-major.
pub struct Noised {
    /// x_t for each latent.
    pub sample: Vec<f32>,
    /// The sinusoidal embedding of each timestep.
    pub temb: Vec<f32>,
    /// The ε each x_t was made with (the target).
    pub noise: Vec<f32>,
    /// min-SNR-γ loss weight per latent.
    pub weights: Vec<f32>,
}

/// `n` training timesteps, biased toward t < 0.7·T (docs/ARCHITECTURE.md §6).
pub fn biased_timesteps(rng: &mut ChaCha8Rng, n: usize, total: usize) -> Vec<usize> {
    let low = ((total as f64 * LOW_T_FRACTION) as usize).max(1);
    (0..n)
        .map(|_| {
            let bound = if rng.random::<f64>() < LOW_T_SHARE {
                low
            } else {
                total
            };
            rng.random_range(0..bound)
        })
        .collect()
}

/// `n` timesteps spread evenly over [0, T): a fixed problem for held-out losses.
pub fn spread_timesteps(n: usize, total: usize) -> Vec<usize> {
    let n1 = n.max(1);
    (0..n)
        .map(|j| ((j * total + total / 2) / n1).min(total - 1))
        .collect()
}

/// Noises `x0` (latents of `len_one` values, one after another) at timesteps `ts` with ε drawn
/// from `rng`.
pub fn noise_batch(
    schedule: &NoiseSchedule,
    x0: &[f32],
    len_one: usize,
    ts: &[usize],
    embedding_dim: usize,
    rng: &mut ChaCha8Rng,
) -> Result<Noised, DdimError> {
    noise_with(
        schedule,
        x0,
        len_one,
        ts,
        embedding_dim,
        super::normal(rng, x0.len()),
    )
}

/// [`noise_batch`] with ε given (`x0.len()` values): the DPO objective noises the two clips of
/// a pair with the same ε at the same timestep.
pub fn noise_with(
    schedule: &NoiseSchedule,
    x0: &[f32],
    len_one: usize,
    ts: &[usize],
    embedding_dim: usize,
    noise: Vec<f32>,
) -> Result<Noised, DdimError> {
    let mut sample = Vec::with_capacity(x0.len());
    let mut weights = Vec::with_capacity(ts.len());
    for (b, &t) in ts.iter().enumerate() {
        let range = b * len_one..(b + 1) * len_one;
        sample.extend(schedule.q_sample(&x0[range.clone()], &noise[range], t)?);
        let snr = schedule.snr(t)?;
        weights.push((snr.min(MIN_SNR_GAMMA) / snr) as f32);
    }
    let tf: Vec<f32> = ts.iter().map(|&t| t as f32).collect();
    Ok(Noised {
        sample,
        temb: timestep_embeddings(&tf, embedding_dim),
        noise,
        weights,
    })
}

impl Noised {
    /// (x_t, temb, ε) as tensors of latent `shape` [C, H, W] on `device`.
    pub fn tensors(
        &self,
        shape: [usize; 3],
        embedding_dim: usize,
        device: &Device,
    ) -> (Tensor<4>, Tensor<2>, Tensor<4>) {
        let [c, h, w] = shape;
        let b = self.weights.len();
        (
            Tensor::from_data(TensorData::new(self.sample.clone(), [b, c, h, w]), device),
            Tensor::from_data(
                TensorData::new(self.temb.clone(), [b, embedding_dim]),
                device,
            ),
            Tensor::from_data(TensorData::new(self.noise.clone(), [b, c, h, w]), device),
        )
    }

    /// A per-latent weight vector as a [B, 1, 1, 1] tensor, for broadcasting over the loss.
    pub fn per_sample(values: Vec<f32>, device: &Device) -> Tensor<4> {
        let b = values.len();
        Tensor::from_data(TensorData::new(values, [b, 1, 1, 1]), device)
    }
}

/// A fixed ε-prediction problem on held-out latents: timesteps spread over [0, T) and noise
/// drawn once per batch from `(seed, batch index)`, so every evaluation asks the same question
/// and two losses compare models, not draws.
pub struct FixedProblem {
    batches: Vec<Noised>,
    shape: [usize; 3],
    embedding_dim: usize,
}

impl FixedProblem {
    /// Noises `latents` (each `shape`, already scaled) in batches of `batch`.
    pub fn new(
        latents: &[Vec<f32>],
        shape: [usize; 3],
        schedule: &NoiseSchedule,
        embedding_dim: usize,
        seed: u64,
        batch: usize,
    ) -> Result<Self, DdimError> {
        let batch = batch.max(1);
        let len_one = shape.iter().product();
        let ts = spread_timesteps(latents.len(), schedule.num_train_timesteps());
        let mut batches = Vec::new();
        for (k, chunk) in latents.chunks(batch).enumerate() {
            let mut rng = super::step_rng(seed, k);
            let x0: Vec<f32> = chunk.iter().flatten().copied().collect();
            let t = &ts[k * batch..k * batch + chunk.len()];
            batches.push(noise_batch(
                schedule,
                &x0,
                len_one,
                t,
                embedding_dim,
                &mut rng,
            )?);
        }
        Ok(Self {
            batches,
            shape,
            embedding_dim,
        })
    }

    /// Mean ε-MSE of `unet` over every latent (unweighted: an error anywhere on the schedule
    /// counts).
    pub fn loss<M: super::NoisePredictor>(&self, unet: &M, device: &Device) -> f32 {
        let (mut sum, mut count) = (0.0f64, 0usize);
        for b in &self.batches {
            let (sample, temb, noise) = b.tensors(self.shape, self.embedding_dim, device);
            let mse = (unet.predict(sample, temb) - noise).powi_scalar(2).mean();
            let n = b.weights.len();
            sum += f64::from(mse.into_scalar::<f32>()) * n as f64;
            count += n;
        }
        (sum / count.max(1) as f64) as f32
    }
}
