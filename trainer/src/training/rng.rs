//! Seeded randomness: every random draw of training step `n` comes from a ChaCha8 stream that is
//! a pure function of `(seed, n)`, so a resumed run draws exactly what an uninterrupted one would.
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The random stream of step `step`: a pure function of (seed, step), so resuming needs no
/// saved generator state.
pub fn step_rng(seed: u64, step: usize) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ (step as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Standard normal values from the step's stream.
pub fn normal(rng: &mut ChaCha8Rng, len: usize) -> Vec<f32> {
    use rand_distr::{Distribution, StandardNormal};
    (0..len).map(|_| StandardNormal.sample(rng)).collect()
}
