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

/// Inverts a mel filterbank: damped pseudo-inverse (`[n_freqs][n_mels]` row-major) + NNLS steps.
pub struct MelInverse {
    n_mels: usize,
    n_freqs: usize,
    pinv: Vec<f32>,
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
        // X = (MMᵀ + λI)⁻¹ M, one column (frequency bin) at a time; pinv = Xᵀ.
        let mut pinv = vec![0.0f32; n_freqs * n_mels];
        let mut column = vec![0.0f64; n_mels];
        for k in 0..n_freqs {
            for (i, c) in column.iter_mut().enumerate() {
                *c = m[i * n_freqs + k];
            }
            cholesky_solve(&chol, n_mels, &mut column);
            for (dst, &x) in pinv[k * n_mels..(k + 1) * n_mels].iter_mut().zip(&column) {
                *dst = x as f32;
            }
        }
        let step = 1.0 / lipschitz(filterbank).max(f32::MIN_POSITIVE);
        Self {
            n_mels,
            n_freqs,
            pinv,
            filterbank: filterbank.clone(),
            step,
            steps: NNLS_STEPS,
        }
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
            for (d, row) in dst.iter_mut().zip(self.pinv.chunks_exact(self.n_mels)) {
                *d = dot(row, mel).max(0.0);
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
