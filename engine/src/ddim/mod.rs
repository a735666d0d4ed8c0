//! Diffusion noise schedule and the DDIM sampler (docs/ARCHITECTURE.md §1).
//!
//! One definition shared by the trainer and the engine: the betas and `alphas_cumprod` of the
//! manifest's `schedule`, the forward process `q_sample`, and the sinusoidal timestep embedding
//! fed to the UNet as `temb`. The sampler follows diffusers' `DDIMScheduler` with these settings:
//!
//! - `timestep_spacing = "leading"`, `steps_offset = 0`: timesteps `(0..steps)·(T / steps)`,
//!   descending (diffusers' default);
//! - `set_alpha_to_one = true` (diffusers' default): the last step's "previous" ᾱ is 1, so the
//!   final output is the model's clean-sample prediction x̂₀ itself rather than x̂₀ with a little
//!   noise left at ᾱ₀ (what `false` would give; Stable Diffusion pairs `false` with
//!   `steps_offset = 1`, which we don't use);
//! - `clip_sample` off by default, `prediction_type = "epsilon"`, no thresholding: Refrain's own
//!   latents are not bounded to [−1, 1], so clipping x̂₀ would distort them; imported models of
//!   the audio-diffusion family were trained with their schedulers' `clip_sample = true`, and
//!   their manifests turn it on (`schedule.clip_sample`);
//! - σₜ = η·√((1−ᾱₜ₋₁)/(1−ᾱₜ)·(1−ᾱₜ/ᾱₜ₋₁)), η ∈ [0, 1] (0 = deterministic DDIM, 1 = DDPM-like).
//!
//! Image-to-image follows diffusers' img2img pipelines: `init_timestep = min(int(steps·s), steps)`,
//! the loop starts at index `steps − init_timestep` of the timestep list, and the initial latent is
//! `q_sample`d to that first timestep.
//!
//! # RNG contract
//! All noise comes from [`SeededNoise`]: `rand_chacha::ChaCha8Rng::seed_from_u64(seed)` (rand_core's
//! documented, value-stable PCG32 seed expansion) sampled with `rand_distr::StandardNormal` as
//! f32, one value per latent element in memory order. Per seed, the first `len` values are the
//! starting noise (pure noise, or the `q_sample` noise of img2img); when η > 0 each step then
//! draws the next `len` values for its variance noise, last step included. Each seed has its own
//! stream, so a clip depends only on its seed, never on which other seeds share its batch. The
//! generators are pure integer arithmetic and the normal sampler's ziggurat only calls `exp`/`ln`
//! on rare rejection paths, so the same seed gives the same noise on every platform (a test pins
//! the first values; upgrading rand_chacha/rand_distr must keep it passing).

mod noise;
mod outpaint;
mod sampler;
mod schedule;

pub use noise::SeededNoise;
pub use outpaint::Known;
pub use sampler::{BatchMode, Ddim, DdimParams, Sampler, Start};
pub use schedule::{timestep_embedding, timestep_embeddings, NoiseSchedule};

/// The noise predictor ε_θ(x_t, t): a UNet session in the engine, anything in tests.
pub trait Denoiser {
    /// Predicts the noise in `sample` (`batch` latents, contiguous, each of the latent's length)
    /// given `temb` (`batch` rows of the timestep embedding). Returns `batch` noise latents.
    fn predict(
        &mut self,
        sample: &[f32],
        temb: &[f32],
        batch: usize,
    ) -> Result<Vec<f32>, DdimError>;
}

impl<F> Denoiser for F
where
    F: FnMut(&[f32], &[f32], usize) -> Result<Vec<f32>, DdimError>,
{
    fn predict(
        &mut self,
        sample: &[f32],
        temb: &[f32],
        batch: usize,
    ) -> Result<Vec<f32>, DdimError> {
        self(sample, temb, batch)
    }
}

/// Why a schedule could not be built or sampling stopped.
#[derive(Debug, thiserror::Error)]
pub enum DdimError {
    /// The schedule configuration cannot produce a usable schedule.
    #[error("invalid noise schedule: {field} {problem}")]
    InvalidSchedule {
        /// The `schedule` field at fault.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// A sampling parameter is out of range.
    #[error("invalid sampling parameter: {param} {problem}")]
    InvalidParam {
        /// The parameter (`steps`, `eta`, `strength`, `seeds`, `timestep`, …).
        param: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// A buffer has the wrong number of values.
    #[error("{what}: expected {expected} values, got {got}")]
    ShapeMismatch {
        /// Which buffer.
        what: &'static str,
        /// Values expected.
        expected: usize,
        /// Values received.
        got: usize,
    },
    /// The input latent contains NaN or infinity (a broken encoder or song); refused up front.
    #[error("input latent contains a non-finite value at index {index}")]
    NonFiniteInput {
        /// First offending index.
        index: usize,
    },
    /// A prediction contains NaN or infinity; sampling stops rather than turning the clip into
    /// noise or silence.
    #[error(
        "denoiser prediction contains a non-finite value at index {index} (timestep {timestep})"
    )]
    NonFinite {
        /// Training timestep being denoised.
        timestep: usize,
        /// First offending index in the (batched) prediction.
        index: usize,
    },
    /// The denoiser itself failed (an ONNX Runtime error, say).
    #[error("denoiser failed: {0}")]
    Denoiser(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The progress callback asked to stop.
    #[error("cancelled")]
    Cancelled,
}
