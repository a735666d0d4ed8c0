//! Latent arithmetic on flat `f32` latents: the merge of song latents ([`merge`]) and the
//! cosine similarity the trainer's genetic selection compares conditionings with.

mod merge;

pub use merge::{merge, slerp, PARALLEL_COS};

/// Why a latent operation was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LatentError {
    /// No latents were given.
    #[error("no latents to merge")]
    Empty,
    /// Two latents had different sizes.
    #[error("latent {index} has {got} values, expected {expected}")]
    Shape {
        /// Position of the offending latent.
        index: usize,
        /// Its length.
        got: usize,
        /// The first latent's length.
        expected: usize,
    },
    /// Weights were missing, negative, non-finite or all zero.
    #[error("invalid merge weights: {0}")]
    Weights(String),
    /// A latent contained NaN or infinity.
    #[error("latent {0} contains NaN or infinite values")]
    NotFinite(usize),
    /// The interpolation parameter was outside [0, 1] or not finite.
    #[error("interpolation parameter {0} is outside [0, 1]")]
    Parameter(f32),
}

/// Cosine similarity of two equally long vectors (0 when either is zero).
pub fn cosine_similarity(a: &[f32], b: &[f32]) -> f32 {
    let denom = norm(a) * norm(b);
    if denom > 0.0 {
        (dot(a, b) / denom) as f32
    } else {
        0.0
    }
}

pub(crate) fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

pub(crate) fn norm(a: &[f32]) -> f64 {
    dot(a, a).sqrt()
}
