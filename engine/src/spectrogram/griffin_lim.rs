//! Griffin-Lim: audio whose STFT magnitude matches a given one, by alternating projections
//! (Griffin & Lim, 1984), with the momentum of the "fast" variant (Perraudin et al., 2013).
use super::{Spectrum, Stft};
use realfft::num_complex::Complex32;

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
    let mut rng = settings.seed;
    let phases: Vec<f32> = (0..magnitude.len())
        .map(|_| 2.0 * std::f32::consts::PI * unit_random(&mut rng))
        .collect();
    griffin_lim_from(stft, magnitude, &phases, length, settings)
}

/// [`griffin_lim`] from given initial phases (frame-major like `magnitude`), for example
/// [`super::pghi_phase`]'s; `settings.seed` is unused. Zero iterations is the plain inverse STFT
/// of the magnitude with those phases.
pub fn griffin_lim_from(
    stft: &mut Stft,
    magnitude: &[f32],
    phases: &[f32],
    length: usize,
    settings: GriffinLim,
) -> Vec<f32> {
    let n_freqs = stft.n_freqs();
    let frames = magnitude.len() / n_freqs;
    let mut angles: Vec<Complex32> = phases[..frames * n_freqs]
        .iter()
        .map(|&p| Complex32::from_polar(1.0, p))
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
pub(super) fn unit_random(state: &mut u64) -> f32 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32
}
