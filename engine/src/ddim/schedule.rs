//! Betas, ᾱ (alphas_cumprod), the forward process and the timestep embedding.
use super::DdimError;
use crate::manifest::{BetaSchedule, Prediction, ScheduleConfig};

/// diffusers' cap on a single β for the cosine schedule (`betas_for_alpha_bar(max_beta=0.999)`).
const MAX_BETA: f64 = 0.999;
/// `max_period` of diffusers' `get_timestep_embedding`.
const MAX_PERIOD: f32 = 10_000.0;

/// The discrete noise schedule of the manifest's `schedule`, computed in f64.
///
/// diffusers holds betas and ᾱ in float32, whose running product drifts from the exact formulas
/// by up to 1.4e-5 relative at the end of the linear schedule (the fixtures record the gap); f64
/// here keeps the engine and the trainer on the exact values, shared through this one type.
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseSchedule {
    config: ScheduleConfig,
    betas: Vec<f64>,
    alphas_cumprod: Vec<f64>,
}

impl NoiseSchedule {
    /// Builds the schedule; refuses configurations that would give β outside (0, 1).
    pub fn from_config(config: &ScheduleConfig) -> Result<Self, DdimError> {
        let bad = |field, problem: String| Err(DdimError::InvalidSchedule { field, problem });
        let t = config.num_train_timesteps;
        if t < 2 {
            return bad("num_train_timesteps", format!("must be ≥ 2, got {t}"));
        }
        // Irrefutable today; a new prediction type must be handled here before it compiles.
        let Prediction::Epsilon = config.prediction;
        let (b0, b1) = (config.beta_start, config.beta_end);
        let linear = matches!(
            config.beta_schedule,
            BetaSchedule::Linear | BetaSchedule::ScaledLinear
        );
        if linear && !(b0 > 0.0 && b0 <= b1 && b1 < 1.0) {
            return bad(
                "beta_start/beta_end",
                format!("need 0 < beta_start ≤ beta_end < 1, got {b0} and {b1}"),
            );
        }
        // numpy's linspace: start + i·step, with the last value exactly `stop`.
        let linspace = |a: f64, b: f64| -> Vec<f64> {
            let step = (b - a) / (t - 1) as f64;
            (0..t)
                .map(|i| if i == t - 1 { b } else { a + i as f64 * step })
                .collect()
        };
        let betas: Vec<f64> = match config.beta_schedule {
            BetaSchedule::Linear => linspace(b0, b1),
            BetaSchedule::ScaledLinear => linspace(b0.sqrt(), b1.sqrt())
                .into_iter()
                .map(|b| b * b)
                .collect(),
            BetaSchedule::SquaredcosCapV2 => {
                let alpha_bar = |x: f64| {
                    ((x + 0.008) / 1.008 * std::f64::consts::FRAC_PI_2)
                        .cos()
                        .powi(2)
                };
                (0..t)
                    .map(|i| {
                        let (t1, t2) = (i as f64 / t as f64, (i + 1) as f64 / t as f64);
                        (1.0 - alpha_bar(t2) / alpha_bar(t1)).min(MAX_BETA)
                    })
                    .collect()
            }
        };
        let mut alphas_cumprod = Vec::with_capacity(t);
        let mut acc = 1.0f64;
        for b in &betas {
            acc *= 1.0 - b;
            alphas_cumprod.push(acc);
        }
        Ok(Self {
            config: *config,
            betas,
            alphas_cumprod,
        })
    }

    /// The configuration this schedule was built from.
    pub fn config(&self) -> &ScheduleConfig {
        &self.config
    }

    /// Number of training timesteps T.
    pub fn num_train_timesteps(&self) -> usize {
        self.betas.len()
    }

    /// β_t for t in 0..T.
    pub fn betas(&self) -> &[f64] {
        &self.betas
    }

    /// ᾱ_t = ∏_{s≤t} (1 − β_s) for t in 0..T.
    pub fn alphas_cumprod(&self) -> &[f64] {
        &self.alphas_cumprod
    }

    /// ᾱ_t, or an error naming the timestep when t ≥ T.
    pub fn alpha_cumprod(&self, t: usize) -> Result<f64, DdimError> {
        self.alphas_cumprod
            .get(t)
            .copied()
            .ok_or_else(|| DdimError::InvalidParam {
                param: "timestep",
                problem: format!("must be < {}, got {t}", self.num_train_timesteps()),
            })
    }

    /// Signal-to-noise ratio ᾱ_t / (1 − ᾱ_t), for min-SNR loss weighting in the trainer.
    pub fn snr(&self, t: usize) -> Result<f64, DdimError> {
        let a = self.alpha_cumprod(t)?;
        Ok(a / (1.0 - a))
    }

    /// The forward process: x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε, elementwise (diffusers' `add_noise`).
    pub fn q_sample(&self, x0: &[f32], noise: &[f32], t: usize) -> Result<Vec<f32>, DdimError> {
        if noise.len() != x0.len() {
            return Err(DdimError::ShapeMismatch {
                what: "q_sample noise",
                expected: x0.len(),
                got: noise.len(),
            });
        }
        let a = self.alpha_cumprod(t)?;
        let (sa, sb) = (a.sqrt(), (1.0 - a).sqrt());
        Ok(x0
            .iter()
            .zip(noise)
            .map(|(&x, &n)| (sa * f64::from(x) + sb * f64::from(n)) as f32)
            .collect())
    }
}

/// The sinusoidal embedding of one timestep, `dim` values: diffusers' `get_timestep_embedding`
/// with `flip_sin_to_cos=True, downscale_freq_shift=0, scale=1, max_period=10000`, i.e.
/// `[cos(t·f_0..f_{h−1}), sin(t·f_0..f_{h−1})]` with `f_i = exp(−ln(10000)·i / h)`, `h = dim/2`,
/// and a trailing zero when `dim` is odd.
///
/// Products and quotients are f32 in torch's order, because this is the network's input and
/// the trainer and the engine both call this function. `exp`, `cos` and `sin` are evaluated in
/// f64 and rounded to f32: that is the correctly rounded f32 value, the same on every platform,
/// whereas f32 libm/SIMD versions (numpy's, torch's) may be 1 ulp off, which at t ≈ 1000 moves
/// an entry by a few 1e-5. The timestep may be fractional, as in diffusers.
pub fn timestep_embedding(t: f32, dim: usize) -> Vec<f32> {
    let half = dim / 2;
    let mut out = vec![0.0f32; dim];
    let neg_log = -(f64::from(MAX_PERIOD).ln()) as f32;
    for i in 0..half {
        let exponent = neg_log * i as f32 / half as f32;
        let freq = f64::from(exponent).exp() as f32;
        let arg = f64::from(t * freq);
        out[i] = arg.cos() as f32;
        out[half + i] = arg.sin() as f32;
    }
    out
}

/// [`timestep_embedding`] for several timesteps: `ts.len()` rows of `dim` values, row-major, as
/// the UNet's `temb` input [B, dim] expects.
pub fn timestep_embeddings(ts: &[f32], dim: usize) -> Vec<f32> {
    ts.iter()
        .flat_map(|&t| timestep_embedding(t, dim))
        .collect()
}
