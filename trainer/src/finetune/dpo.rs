//! The preference objective: Diffusion-DPO (Wallace et al. 2023, eq. 14) on pairs of clips made
//! for the same request and rated differently by the same producer, with the parent version's
//! UNet as the frozen reference.
//!
//! Why: confidence-weighted regression on accepted clips only says "more like these"; a pair
//! also says "less like that", from the same conditioning, which is what the producer's choice
//! between two clips of one request means. The loss compares how much better the fine-tuned
//! network denoises the preferred clip than the reference does, against the same for the other
//! clip, at the same timestep and noise:
//!
//! `L = −ω · log σ(−β/2 · [(e_θ(w) − e_ref(w)) − (e_θ(l) − e_ref(l))])`, with `e` the mean
//! squared ε error of one latent. At the start θ = ref, so L = ω · ln 2 and the gradient pushes
//! e_θ(w) down and e_θ(l) up, in proportion to β.
use crate::training::diffusion::{biased_timesteps, noise_with};
use crate::training::{normal, roll_rows, NoisePredictor};
use burn::tensor::activation::log_sigmoid;
use burn::tensor::{Device, Tensor, TensorData};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use refrain_engine::ddim::{DdimError, NoiseSchedule};

/// β of the DPO loss: how far the fine-tune may move from the reference per unit of preference.
/// Wallace et al. use 2 000–5 000 for per-pixel mean errors; ours are per-latent-value means,
/// the same scale.
pub const DEFAULT_BETA: f64 = 2000.0;

/// One preference pair: the latents of the preferred and the other clip of one request, and the
/// pair's weight (the confidences of both ratings).
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    /// The preferred clip's final latent.
    pub winner: Vec<f32>,
    /// The other clip's final latent.
    pub loser: Vec<f32>,
    /// ω_winner · ω_loser: a pair is as certain as its less certain rating, and both matter.
    pub weight: f32,
}

/// The per-latent squared ε errors of the fine-tuned network and of the reference, for the
/// winners and the losers of a batch of pairs (each `[pairs]`).
pub struct PairErrors {
    /// e_θ(x_w).
    pub policy_winner: Tensor<1>,
    /// e_θ(x_l).
    pub policy_loser: Tensor<1>,
    /// e_ref(x_w) (no gradient).
    pub reference_winner: Tensor<1>,
    /// e_ref(x_l) (no gradient).
    pub reference_loser: Tensor<1>,
}

/// The weighted mean DPO loss of a batch (a scalar `[1]`), weights `[pairs]`.
pub fn dpo_loss(errors: PairErrors, weights: Tensor<1>, beta: f64) -> Tensor<1> {
    let margin = (errors.policy_winner - errors.reference_winner)
        - (errors.policy_loser - errors.reference_loser);
    let inside = margin * (-0.5 * beta);
    let total = weights.clone().sum();
    (log_sigmoid(inside) * weights).sum().neg() / total
}

/// What a DPO batch needs besides the networks and the pairs.
pub struct DpoSetup<'a> {
    /// The parent's noise schedule.
    pub schedule: &'a NoiseSchedule,
    /// Latent shape [C, H, W].
    pub shape: [usize; 3],
    /// Timestep embedding width.
    pub embedding_dim: usize,
    /// β of [`dpo_loss`].
    pub beta: f64,
}

/// The DPO loss of the pairs `picks` (indices into `pairs`): each pair's two latents rolled in
/// time by one shift and noised with one ε at one timestep, the fine-tuned `model` on `device`
/// (with gradients) and the frozen `reference` on `plain` (without).
#[allow(clippy::too_many_arguments)]
pub fn batch_loss<M: NoisePredictor, R: NoisePredictor>(
    model: &M,
    reference: &R,
    pairs: &[Pair],
    picks: &[usize],
    setup: &DpoSetup<'_>,
    rng: &mut ChaCha8Rng,
    device: &Device,
    plain: &Device,
) -> Result<Tensor<1>, DdimError> {
    let [_, _, width] = setup.shape;
    let len: usize = setup.shape.iter().product();
    let n = picks.len();
    let mut x0 = vec![0.0f32; 2 * n * len];
    for (b, &i) in picks.iter().enumerate() {
        let shift = rng.random_range(0..width.max(1));
        let (winners, losers) = x0.split_at_mut(n * len);
        roll_rows(
            &pairs[i].winner,
            width,
            shift,
            &mut winners[b * len..(b + 1) * len],
        );
        roll_rows(
            &pairs[i].loser,
            width,
            shift,
            &mut losers[b * len..(b + 1) * len],
        );
    }
    let mut ts = biased_timesteps(rng, n, setup.schedule.num_train_timesteps());
    ts.extend_from_within(..);
    let mut noise = normal(rng, n * len);
    noise.extend_from_within(..);
    let noised = noise_with(setup.schedule, &x0, len, &ts, setup.embedding_dim, noise)?;
    let errors = |predicted: Tensor<4>, target: Tensor<4>| {
        (predicted - target)
            .powi_scalar(2)
            .mean_dims(&[1, 2, 3])
            .reshape([2 * n])
    };
    let (sample, temb, eps) = noised.tensors(setup.shape, setup.embedding_dim, device);
    let policy = errors(model.predict(sample, temb), eps);
    let (sample, temb, eps) = noised.tensors(setup.shape, setup.embedding_dim, plain);
    let reference = Tensor::<1>::from_data(
        errors(reference.predict(sample, temb), eps).into_data(),
        device,
    );
    let weights: Vec<f32> = picks.iter().map(|&i| pairs[i].weight).collect();
    let weights = Tensor::from_data(TensorData::new(weights, [n]), device);
    let errors = PairErrors {
        policy_winner: policy.clone().narrow(0, 0, n),
        policy_loser: policy.narrow(0, n, n),
        reference_winner: reference.clone().narrow(0, 0, n),
        reference_loser: reference.narrow(0, n, n),
    };
    Ok(dpo_loss(errors, weights, setup.beta))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn t(values: &[f32], device: &Device) -> Tensor<1> {
        Tensor::from_data(TensorData::new(values.to_vec(), [values.len()]), device)
    }

    #[test]
    fn matches_a_hand_computed_value() {
        let device = Device::default();
        // Pair 1: the policy denoises the winner 0.001 better than the reference and the loser
        // 0.002 worse: margin −0.003, inside = −1000 · −0.003 = 3 at β = 2000.
        // Pair 2: policy = reference: inside 0, loss ln 2.
        let errors = PairErrors {
            policy_winner: t(&[0.100, 0.5], &device),
            policy_loser: t(&[0.202, 0.7], &device),
            reference_winner: t(&[0.101, 0.5], &device),
            reference_loser: t(&[0.200, 0.7], &device),
        };
        let loss = dpo_loss(errors, t(&[0.5, 0.25], &device), 2000.0).into_scalar::<f32>();
        let l1 = (1.0f64 + (-3.0f64).exp()).ln();
        let l2 = 2.0f64.ln();
        let expected = (0.5 * l1 + 0.25 * l2) / 0.75;
        assert!(
            (f64::from(loss) - expected).abs() < 1e-4,
            "{loss} vs {expected}"
        );
    }
}
