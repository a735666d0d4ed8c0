//! From mel power back to audio: a damped pseudo-inverse of the filterbank, then Griffin-Lim.
//!
//! librosa inverts the mel with NNLS (`mel_to_stft`), which costs about a second per window. We
//! use a Tikhonov-damped pseudo-inverse `Mᵀ(MMᵀ + λI)⁻¹` computed once per config, clamp the
//! negatives it produces to zero, and let Griffin-Lim absorb the small remaining error; the
//! fixture test reports the resulting spectral convergence next to librosa's.
use super::{MelFilterbank, Spectrum, Stft};
use realfft::num_complex::Complex32;

/// Relative Tikhonov damping: λ = DAMPING · mean(diag(MMᵀ)). Small enough to be an almost exact
/// inverse on well-covered bands, large enough to keep narrow low-frequency bands stable.
const DAMPING: f64 = 1e-3;

/// The damped pseudo-inverse of a mel filterbank, stored `[n_freqs][n_mels]` row-major.
pub struct MelInverse {
    n_mels: usize,
    n_freqs: usize,
    pinv: Vec<f32>,
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
        Self {
            n_mels,
            n_freqs,
            pinv,
        }
    }

    /// Linear STFT magnitude from mel power given frame-major (`frames × n_mels`), into `out`
    /// (`frames × n_freqs`, frame-major): sqrt(max(0, pinv · mel)).
    pub fn magnitude(&self, mel_frames: &[f32], out: &mut Vec<f32>) {
        let frames = mel_frames.len() / self.n_mels;
        out.clear();
        out.resize(frames * self.n_freqs, 0.0);
        for (mel, dst) in mel_frames
            .chunks_exact(self.n_mels)
            .zip(out.chunks_exact_mut(self.n_freqs))
        {
            for (d, row) in dst.iter_mut().zip(self.pinv.chunks_exact(self.n_mels)) {
                *d = dot(row, mel).max(0.0).sqrt();
            }
        }
    }
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
            *a = v / (v.norm() + 1e-16);
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
