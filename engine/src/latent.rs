//! Latent arithmetic: spherical interpolation (SLERP) and the weighted n-way merge of song latents.
//!
//! Diffusion latents are close to Gaussian, so their norms concentrate; interpolating along the
//! sphere keeps the merged latent's norm typical, where a straight average would shrink it.

/// Above this |cos θ| the vectors are treated as parallel (or antiparallel) and SLERP falls back
/// to linear interpolation, because sin θ → 0 makes the spherical weights numerically unstable.
pub const PARALLEL_COS: f64 = 0.9995;

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

/// Spherical interpolation from `a` (t = 0) to `b` (t = 1), with lerp when nearly parallel.
pub fn slerp(a: &[f32], b: &[f32], t: f32) -> Result<Vec<f32>, LatentError> {
    if a.len() != b.len() {
        return Err(LatentError::Shape {
            index: 1,
            got: b.len(),
            expected: a.len(),
        });
    }
    if !(0.0..=1.0).contains(&t) {
        return Err(LatentError::Parameter(t));
    }
    let (norm_a, norm_b) = (norm(a), norm(b));
    let cos = if norm_a > 0.0 && norm_b > 0.0 {
        dot(a, b) / (norm_a * norm_b)
    } else {
        1.0
    };
    let t = t as f64;
    let (wa, wb) = if cos.abs() > PARALLEL_COS {
        (1.0 - t, t)
    } else {
        let theta = cos.clamp(-1.0, 1.0).acos();
        let sin = theta.sin();
        (((1.0 - t) * theta).sin() / sin, (t * theta).sin() / sin)
    };
    Ok(a.iter()
        .zip(b)
        .map(|(&x, &y)| (wa * x as f64 + wb * y as f64) as f32)
        .collect())
}

/// Merges latents with SLERP so that each gets its weight (equal weights when `weights` is None).
///
/// Sequential merge: start from latent 0, then for i ≥ 1 move toward latent i by
/// αᵢ = wᵢ / Σ_{j≤i} wⱼ. In the linear regime this is exactly the weighted mean, and the result
/// does not depend on the order of two latents.
pub fn merge(latents: &[&[f32]], weights: Option<&[f32]>) -> Result<Vec<f32>, LatentError> {
    let first = latents.first().ok_or(LatentError::Empty)?;
    for (index, latent) in latents.iter().enumerate() {
        if latent.len() != first.len() {
            return Err(LatentError::Shape {
                index,
                got: latent.len(),
                expected: first.len(),
            });
        }
        if latent.iter().any(|v| !v.is_finite()) {
            return Err(LatentError::NotFinite(index));
        }
    }
    let equal = vec![1.0f32; latents.len()];
    let weights = weights.unwrap_or(&equal);
    if weights.len() != latents.len() {
        return Err(LatentError::Weights(format!(
            "{} weights for {} latents",
            weights.len(),
            latents.len()
        )));
    }
    if weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
        return Err(LatentError::Weights(format!(
            "weights must be finite and ≥ 0, got {weights:?}"
        )));
    }
    if weights.iter().all(|w| *w == 0.0) {
        return Err(LatentError::Weights("all weights are zero".into()));
    }
    let mut merged = first.to_vec();
    let mut total = weights[0] as f64;
    for (latent, &w) in latents.iter().zip(weights).skip(1) {
        total += w as f64;
        if w == 0.0 {
            continue;
        }
        merged = slerp(&merged, latent, (w as f64 / total) as f32)?;
    }
    Ok(merged)
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

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

fn norm(a: &[f32]) -> f64 {
    dot(a, a).sqrt()
}
