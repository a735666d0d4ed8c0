//! From mel power back to a linear STFT magnitude: non-negative least squares on the filterbank.
//!
//! librosa inverts the mel with NNLS by L-BFGS-B started from the clipped pseudo-inverse
//! (`mel_to_stft`), about a second per window. We start the same way — a Tikhonov-damped
//! pseudo-inverse `Mᵀ(MMᵀ + λI)⁻¹` computed once per config, negatives clipped — and then run a
//! few accelerated projected-gradient (FISTA) steps of the same NNLS problem, using the sparse
//! filterbank so each step costs two sparse products per frame. The fixture test reports the
//! resulting spectral convergence next to librosa's.
use super::MelFilterbank;

/// Relative Tikhonov damping: λ = DAMPING · mean(diag(MMᵀ)). Small enough to be an almost exact
/// inverse on well-covered bands, large enough to keep narrow low-frequency bands stable.
const DAMPING: f64 = 1e-3;

/// Projected-gradient NNLS steps after the pseudo-inverse start; more gave no audible gain.
pub const NNLS_STEPS: usize = 12;

/// A pseudo-inverse weight smaller than this fraction of its row's largest is dropped. MMᵀ is
/// banded (neighbouring filters overlap), so each bin's row decays geometrically away from its
/// band: at 1e-12 a row keeps about 40 of 256 mels (the default config), and what is dropped
/// sums to under 256 · 1e-12 of the loudest band's power, far below the mel's −80 dB floor.
const BAND_TOLERANCE: f64 = 1e-12;

/// One frequency bin's row of the pseudo-inverse: the mels `first..first + len` it weighs,
/// their weights at `start..start + len` of `MelInverse::weights`.
#[derive(Debug, Clone, Copy)]
struct Band {
    first: usize,
    start: usize,
    len: usize,
}

/// Inverts a mel filterbank: damped pseudo-inverse (banded rows, one per frequency bin) + NNLS
/// steps.
pub struct MelInverse {
    n_mels: usize,
    n_freqs: usize,
    bands: Vec<Band>,
    weights: Vec<f32>,
    filterbank: MelFilterbank,
    /// 1 / L, with L the largest eigenvalue of MᵀM (the gradient's Lipschitz constant).
    step: f32,
    steps: usize,
}

impl MelInverse {
    /// Computes the pseudo-inverse (a 256×256 Cholesky solve for the default config).
    pub fn new(filterbank: &MelFilterbank) -> Self {
        let (n_mels, n_freqs) = (filterbank.n_mels(), filterbank.n_freqs());
        let m: Vec<f64> = filterbank.dense().iter().map(|&w| w as f64).collect();
        let mut gram = vec![0.0f64; n_mels * n_mels];
        for i in 0..n_mels {
            for j in 0..=i {
                let dot: f64 = (0..n_freqs)
                    .map(|k| m[i * n_freqs + k] * m[j * n_freqs + k])
                    .sum();
                gram[i * n_mels + j] = dot;
                gram[j * n_mels + i] = dot;
            }
        }
        let mean_diag = (0..n_mels).map(|i| gram[i * n_mels + i]).sum::<f64>() / n_mels as f64;
        let lambda = DAMPING * mean_diag.max(f64::MIN_POSITIVE);
        for i in 0..n_mels {
            gram[i * n_mels + i] += lambda;
        }
        let chol = cholesky(&gram, n_mels);
        // X = (MMᵀ + λI)⁻¹ M, one column (frequency bin) at a time; its transpose's rows, with
        // the negligible weights at either end dropped, are the bands.
        let (mut bands, mut weights) = (Vec::with_capacity(n_freqs), Vec::new());
        let mut column = vec![0.0f64; n_mels];
        for k in 0..n_freqs {
            for (i, c) in column.iter_mut().enumerate() {
                *c = m[i * n_freqs + k];
            }
            cholesky_solve(&chol, n_mels, &mut column);
            let largest = column.iter().fold(0.0f64, |a, &x| a.max(x.abs()));
            let kept = |x: &f64| x.abs() > BAND_TOLERANCE * largest;
            let first = column.iter().position(kept).unwrap_or(0);
            let end = column.iter().rposition(kept).map_or(first, |last| last + 1);
            bands.push(Band {
                first,
                start: weights.len(),
                len: end - first,
            });
            weights.extend(column[first..end].iter().map(|&x| x as f32));
        }
        let step = 1.0 / lipschitz(filterbank).max(f32::MIN_POSITIVE);
        Self {
            n_mels,
            n_freqs,
            bands,
            weights,
            filterbank: filterbank.clone(),
            step,
            steps: NNLS_STEPS,
        }
    }

    /// NNLS refinement steps after the pseudo-inverse.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Sets the number of NNLS refinement steps (0 = clipped pseudo-inverse only).
    pub fn with_steps(mut self, steps: usize) -> Self {
        self.steps = steps;
        self
    }

    /// Linear STFT magnitude from mel power given frame-major (`frames × n_mels`), into `out`
    /// (`frames × n_freqs`, frame-major): sqrt of the NNLS power estimate.
    pub fn magnitude(&self, mel_frames: &[f32], out: &mut Vec<f32>) {
        let frames = mel_frames.len() / self.n_mels;
        out.clear();
        out.resize(frames * self.n_freqs, 0.0);
        let mut fista = Fista::new(self.n_mels, self.n_freqs);
        for (mel, dst) in mel_frames
            .chunks_exact(self.n_mels)
            .zip(out.chunks_exact_mut(self.n_freqs))
        {
            for (d, band) in dst.iter_mut().zip(&self.bands) {
                let w = &self.weights[band.start..band.start + band.len];
                *d = dot(w, &mel[band.first..band.first + band.len]).max(0.0);
            }
            fista.refine(&self.filterbank, mel, dst, self.step, self.steps);
            for d in dst.iter_mut() {
                *d = d.sqrt();
            }
        }
    }
}

/// Scratch for FISTA (Beck & Teboulle 2009) on min ‖Mx − y‖² subject to x ≥ 0.
struct Fista {
    z: Vec<f32>,
    previous: Vec<f32>,
    gradient: Vec<f32>,
    residual: Vec<f32>,
}

impl Fista {
    fn new(n_mels: usize, n_freqs: usize) -> Self {
        Self {
            z: vec![0.0; n_freqs],
            previous: vec![0.0; n_freqs],
            gradient: vec![0.0; n_freqs],
            residual: vec![0.0; n_mels],
        }
    }

    /// Improves `x` (non-negative, in place) toward the NNLS solution for target `y`.
    fn refine(&mut self, m: &MelFilterbank, y: &[f32], x: &mut [f32], step: f32, steps: usize) {
        self.z.copy_from_slice(x);
        let mut t = 1.0f32;
        for _ in 0..steps {
            m.apply_frame(&self.z, &mut self.residual);
            for (r, target) in self.residual.iter_mut().zip(y) {
                *r -= target;
            }
            m.apply_transpose_frame(&self.residual, &mut self.gradient);
            self.previous.copy_from_slice(x);
            for ((xi, zi), gi) in x.iter_mut().zip(&self.z).zip(&self.gradient) {
                *xi = (zi - step * gi).max(0.0);
            }
            let t_next = (1.0 + (1.0 + 4.0 * t * t).sqrt()) / 2.0;
            let momentum = (t - 1.0) / t_next;
            for ((zi, xi), pi) in self.z.iter_mut().zip(x.iter()).zip(&self.previous) {
                *zi = xi + momentum * (xi - pi);
            }
            t = t_next;
        }
    }
}

/// The largest eigenvalue of MᵀM by power iteration (the NNLS gradient's Lipschitz constant).
fn lipschitz(m: &MelFilterbank) -> f32 {
    let mut v = vec![1.0f32; m.n_freqs()];
    let mut mv = vec![0.0f32; m.n_mels()];
    let mut u = vec![0.0f32; m.n_freqs()];
    let mut eigen = 0.0f32;
    for _ in 0..50 {
        m.apply_frame(&v, &mut mv);
        m.apply_transpose_frame(&mv, &mut u);
        let norm_u = u.iter().map(|x| x * x).sum::<f32>().sqrt();
        let norm_v = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm_u == 0.0 || norm_v == 0.0 {
            break;
        }
        eigen = norm_u / norm_v;
        for (vi, ui) in v.iter_mut().zip(&u) {
            *vi = ui / norm_u;
        }
    }
    // A small margin: power iteration approaches the top eigenvalue from below.
    eigen * 1.01
}

/// A dot product with eight independent accumulators, so the compiler can vectorise it.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Lower-triangular Cholesky factor of a symmetric positive definite `n×n` matrix.
fn cholesky(a: &[f64], n: usize) -> Vec<f64> {
    let mut l = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            if i == j {
                l[i * n + i] = (a[i * n + i] - s).max(f64::MIN_POSITIVE).sqrt();
            } else {
                l[i * n + j] = (a[i * n + j] - s) / l[j * n + j];
            }
        }
    }
    l
}

/// Solves `L Lᵀ x = b` in place.
fn cholesky_solve(l: &[f64], n: usize, b: &mut [f64]) {
    for i in 0..n {
        let s: f64 = (0..i).map(|k| l[i * n + k] * b[k]).sum();
        b[i] = (b[i] - s) / l[i * n + i];
    }
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| l[k * n + i] * b[k]).sum();
        b[i] = (b[i] - s) / l[i * n + i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spectrogram::AudioConfig;

    /// The banded rows give what the whole pseudo-inverse gives, to the mel's −80 dB floor, on
    /// frames whose bands span that whole range (a loud band beside quiet ones is where dropped
    /// weights would show), and no row lost its own band.
    #[test]
    fn the_banded_pseudo_inverse_matches_the_whole_one() {
        let config = AudioConfig::default();
        let filterbank = MelFilterbank::new(&config).unwrap();
        let inverse = MelInverse::new(&filterbank).with_steps(0);
        let (n_mels, n_freqs) = (inverse.n_mels, inverse.n_freqs);
        let widest = inverse.bands.iter().map(|b| b.len).max().unwrap();
        assert!(
            widest < n_mels / 4,
            "rows keep up to {widest} of {n_mels} mels"
        );
        // The whole pseudo-inverse, in f64, as the damped normal equations define it.
        let m: Vec<f64> = filterbank.dense().iter().map(|&w| w as f64).collect();
        let mut gram = vec![0.0f64; n_mels * n_mels];
        for i in 0..n_mels {
            for j in 0..n_mels {
                gram[i * n_mels + j] = (0..n_freqs)
                    .map(|k| m[i * n_freqs + k] * m[j * n_freqs + k])
                    .sum();
            }
        }
        let lambda =
            DAMPING * (0..n_mels).map(|i| gram[i * n_mels + i]).sum::<f64>() / n_mels as f64;
        for i in 0..n_mels {
            gram[i * n_mels + i] += lambda;
        }
        let chol = cholesky(&gram, n_mels);
        let mut seed = 0x2545_f491u32;
        let frames = 5;
        let mel: Vec<f32> = (0..frames * n_mels)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                // Power from −80 dB to 0 dB.
                10f32.powf(-8.0 * (seed % 1000) as f32 / 1000.0)
            })
            .collect();
        let mut out = Vec::new();
        inverse.magnitude(&mel, &mut out);
        for f in 0..frames {
            let y: Vec<f64> = mel[f * n_mels..(f + 1) * n_mels]
                .iter()
                .map(|&v| v as f64)
                .collect();
            let mut a = y.clone();
            cholesky_solve(&chol, n_mels, &mut a);
            let loudest = y.iter().fold(0.0f64, |a, &b| a.max(b));
            for k in 0..n_freqs {
                let exact: f64 = (0..n_mels)
                    .map(|i| m[i * n_freqs + k] * a[i])
                    .sum::<f64>()
                    .max(0.0);
                let got = (out[f * n_freqs + k] as f64).powi(2);
                assert!(
                    (got - exact).abs() <= 1e-8 * loudest + 1e-4 * exact,
                    "frame {f} bin {k}: {got} vs {exact}"
                );
            }
        }
        inverse.magnitude(&[], &mut out);
        assert!(out.is_empty());
    }
}
