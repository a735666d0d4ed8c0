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

/// Holds burn's process-wide random generator for one seeded initialisation. `Device::seed`
/// resets that one generator and parameters draw from it lazily, when first used, so two seeded
/// initialisations in one process (tests run in parallel) interleave their draws and get
/// different weights from run to run. Hold the guard from seeding until the weights are
/// materialised (exported, or through the first forward pass).
pub fn seeded_init_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // A panic while held leaves nothing half-done that matters here: take the lock anyway.
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
