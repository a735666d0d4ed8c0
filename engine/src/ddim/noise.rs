//! Seeded Gaussian noise: the RNG contract of the module docs, in one place.
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// A reproducible stream of standard normal f32 values for one seed (see the module's RNG
/// contract). ChaCha8 is fast and has a stable, documented output for a given seed.
#[derive(Debug, Clone)]
pub struct SeededNoise {
    rng: ChaCha8Rng,
}

impl SeededNoise {
    /// The stream for `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Overwrites `out` with the next `out.len()` values of the stream, in order.
    pub fn fill(&mut self, out: &mut [f32]) {
        for v in out {
            *v = StandardNormal.sample(&mut self.rng);
        }
    }

    /// The next `len` values of the stream.
    pub fn next_vec(&mut self, len: usize) -> Vec<f32> {
        let mut out = vec![0.0; len];
        self.fill(&mut out);
        out
    }
}
