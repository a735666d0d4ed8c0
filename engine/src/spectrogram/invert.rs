//! From mel power back to audio: non-negative least squares on the filterbank, then Griffin-Lim.
//!
//! librosa inverts the mel with NNLS by L-BFGS-B started from the clipped pseudo-inverse
//! (`mel_to_stft`), about a second per window. We start the same way — a Tikhonov-damped
//! pseudo-inverse `Mᵀ(MMᵀ + λI)⁻¹` computed once per config, negatives clipped — and then run a
//! few accelerated projected-gradient (FISTA) steps of the same NNLS problem, using the sparse
//! filterbank so each step costs two sparse products per frame. The fixture test reports the
//! resulting spectral convergence next to librosa's.
use super::{MelFilterbank, Spectrum, Stft};
use realfft::num_complex::Complex32;

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

/// Griffin-Lim settings. `momentum = 0` is the classic algorithm; librosa's default 0.99 is the
/// "fast" variant of Perraudin et al. (2013), which converges in far fewer iterations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GriffinLim {
    /// Iterations.
    pub iters: usize,
    /// Momentum (0 = classic).
    pub momentum: f32,
    /// Seed for the random initial phases (SplitMix64), so a render is reproducible.
    pub seed: u64,
}

impl GriffinLim {
    /// The fast variant with librosa's default momentum.
    pub fn fast(iters: usize, seed: u64) -> Self {
        Self {
            iters,
            momentum: 0.99,
            seed,
        }
    }

    /// The classic algorithm (no momentum).
    pub fn classic(iters: usize, seed: u64) -> Self {
        Self {
            iters,
            momentum: 0.0,
            seed,
        }
    }
}

/// Reconstructs `length` samples whose STFT magnitude approximates `magnitude`
/// (frame-major, `frames × n_freqs`), like `librosa.griffinlim(init="random")`.
pub fn griffin_lim(
    stft: &mut Stft,
    magnitude: &[f32],
    length: usize,
    settings: GriffinLim,
) -> Vec<f32> {
    let n_freqs = stft.n_freqs();
    let frames = magnitude.len() / n_freqs;
    let mut rng = settings.seed;
    let mut angles: Vec<Complex32> = (0..frames * n_freqs)
        .map(|_| Complex32::from_polar(1.0, 2.0 * std::f32::consts::PI * unit_random(&mut rng)))
        .collect();
    let mut work = Spectrum::zeros(frames, n_freqs);
    let mut rebuilt = Spectrum::zeros(frames, n_freqs);
    let mut previous = Spectrum::zeros(frames, n_freqs);
    let mut audio = Vec::with_capacity(length);
    let beta = settings.momentum / (1.0 + settings.momentum);
    for _ in 0..settings.iters {
        apply_magnitude(magnitude, &angles, &mut work);
        stft.inverse(&work, length, &mut audio);
        std::mem::swap(&mut previous, &mut rebuilt);
        stft.forward(&audio, &mut rebuilt);
        for ((a, r), p) in angles.iter_mut().zip(&rebuilt.data).zip(&previous.data) {
            let v = r - p * beta;
            // sqrt of the squared norm: Complex::norm uses hypot, which dominated the loop.
            let norm = (v.re * v.re + v.im * v.im).sqrt() + 1e-16;
            *a = v / norm;
        }
    }
    apply_magnitude(magnitude, &angles, &mut work);
    stft.inverse(&work, length, &mut audio);
    audio
}

fn apply_magnitude(magnitude: &[f32], angles: &[Complex32], out: &mut Spectrum) {
    for ((o, &m), a) in out.data.iter_mut().zip(magnitude).zip(angles) {
        *o = a * m;
    }
}

/// SplitMix64 mapped to [0, 1): tiny, seedable and identical on every platform.
fn unit_random(state: &mut u64) -> f32 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32
}
