//! Batches from the corpus (mels) and the latent cache, and the fixed held-out subsets.
use crate::corpus::{Corpus, Split};
use crate::training::{roll_rows, spread};
use burn::tensor::{Device, Tensor, TensorData};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// The training pool and the held-out subset; a corpus without held-out windows evaluates on
/// a spread of training windows instead (tiny test corpora), and says so.
pub fn splits(corpus: &Corpus, eval_windows: usize) -> (Vec<usize>, Vec<usize>) {
    let train = corpus.indices(Split::Train);
    let heldout = corpus.indices(Split::Heldout);
    let eval = if heldout.is_empty() {
        tracing::warn!("corpus has no held-out windows: evaluating on training windows");
        spread(&train, eval_windows)
    } else {
        spread(&heldout, eval_windows)
    };
    (train, eval)
}

/// Mel windows [B, 1, n_mels, frames] in order (evaluation, encoding).
pub fn mel_batch(corpus: &Corpus, indices: &[usize], device: &Device) -> Tensor<4> {
    let (m, f) = (corpus.manifest.audio.n_mels, corpus.manifest.audio.frames);
    let mut data = vec![0.0f32; indices.len() * m * f];
    for (b, &i) in indices.iter().enumerate() {
        corpus.window_into(i, &mut data[b * m * f..(b + 1) * m * f]);
    }
    Tensor::from_data(TensorData::new(data, [indices.len(), 1, m, f]), device)
}

/// Half the training windows play at a random speed within this factor (≈ ±1 semitone, ±6 %
/// tempo): enough to teach pitch and tempo invariance without leaving the music's range.
const MAX_SPEED: f64 = 1.06;

/// Training mels [B, 1, n_mels, crop]: each window rolled by a random number of frames (a
/// random offset into the loop), half of them sped up or slowed down ([`super::speed`]), then
/// their first `crop` frames kept. The autoencoder is fully
/// convolutional, so crops train the same weights at a fraction of the cost per window.
pub fn augmented_mel_batch(
    corpus: &Corpus,
    indices: &[usize],
    crop: usize,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Tensor<4> {
    let audio = &corpus.manifest.audio;
    let (m, f) = (audio.n_mels, audio.frames);
    let crop = crop.clamp(1, f);
    let mut data = vec![0.0f32; indices.len() * m * crop];
    let (mut window, mut rolled) = (vec![0.0f32; m * f], vec![0.0f32; m * f]);
    for (b, &i) in indices.iter().enumerate() {
        corpus.window_into(i, &mut window);
        roll_rows(&window, f, rng.random_range(0..f), &mut rolled);
        if rng.random::<f64>() < 0.5 {
            let r = MAX_SPEED.powf(rng.random_range(-1.0..1.0));
            let (lo, hi) = (f64::from(audio.fmin), f64::from(audio.fmax));
            rolled = super::speed::speed_warp(&rolled, m, f, lo, hi, r);
        }
        let out = &mut data[b * m * crop..(b + 1) * m * crop];
        for (o, r) in out.chunks_exact_mut(crop).zip(rolled.chunks_exact(f)) {
            o.copy_from_slice(&r[..crop]);
        }
    }
    Tensor::from_data(TensorData::new(data, [indices.len(), 1, m, crop]), device)
}
