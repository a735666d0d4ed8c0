//! The SLERP merge: spherical interpolation and the weighted n-way merge of song latents.
//!
//! Diffusion latents are close to Gaussian, so their norms concentrate; interpolating along the
//! sphere keeps the merged latent's norm typical, where a straight average would shrink it.

use super::{dot, norm, LatentError};

/// Above this |cos θ| the vectors are treated as parallel (or antiparallel) and SLERP falls back
/// to linear interpolation, because sin θ → 0 makes the spherical weights numerically unstable.
pub const PARALLEL_COS: f64 = 0.9995;

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
