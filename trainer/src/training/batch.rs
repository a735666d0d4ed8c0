//! Batching helpers shared by pretraining and fine-tuning: fixed spreads (held-out subsets),
//! random draws with replacement, and the time roll that augments a latent without changing it.
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// Up to `n` indices spread evenly over `pool` (the same every run: a fixed held-out subset).
pub fn spread(pool: &[usize], n: usize) -> Vec<usize> {
    if pool.len() <= n {
        return pool.to_vec();
    }
    (0..n).map(|i| pool[i * pool.len() / n]).collect()
}

/// `batch` random indices from `pool` (with replacement: cheap and unbiased).
pub fn sample_indices(rng: &mut ChaCha8Rng, pool: &[usize], batch: usize) -> Vec<usize> {
    (0..batch)
        .map(|_| pool[rng.random_range(0..pool.len())])
        .collect()
}

/// Copies `src` (rows of `width`) into `dst` with each row rotated right by `shift`.
pub fn roll_rows(src: &[f32], width: usize, shift: usize, dst: &mut [f32]) {
    for (s, d) in src.chunks_exact(width).zip(dst.chunks_exact_mut(width)) {
        d[shift..].copy_from_slice(&s[..width - shift]);
        d[..shift].copy_from_slice(&s[width - shift..]);
    }
}
