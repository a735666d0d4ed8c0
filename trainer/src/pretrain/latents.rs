//! The latent cache: every corpus window encoded once by the frozen autoencoder (posterior
//! means, unscaled), so UNet steps never run the encoder.
use super::data::mel_batch;
use super::PretrainError;
use crate::corpus::Corpus;
use crate::model::Encoder;
use burn::module::Module;
use burn::tensor::Device;
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Raw little-endian f32 latents, window-major, in corpus order.
pub const LATENTS_FILE: &str = "latents.f32";
const META_FILE: &str = "latents.json";

/// Which encoder and corpus a cache came from; a mismatch rebuilds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Meta {
    windows: usize,
    shape: [usize; 3],
    autoencoder_step: usize,
    corpus: std::path::PathBuf,
}

/// The cached latents of a corpus.
#[derive(Debug, Clone)]
pub struct LatentCache {
    /// [C, H, W] of one latent.
    pub shape: [usize; 3],
    /// `windows × C·H·W` values.
    pub data: Vec<f32>,
}

impl LatentCache {
    /// Values per latent.
    pub fn len_one(&self) -> usize {
        self.shape.iter().product()
    }

    /// Latent `i`.
    pub fn latent(&self, i: usize) -> &[f32] {
        let n = self.len_one();
        &self.data[i * n..(i + 1) * n]
    }

    /// Mean and standard deviation over the latents of `indices`.
    pub fn stats(&self, indices: &[usize]) -> (f64, f64) {
        let (mut sum, mut sq, mut n) = (0.0f64, 0.0f64, 0usize);
        for &i in indices {
            for &v in self.latent(i) {
                sum += f64::from(v);
                sq += f64::from(v) * f64::from(v);
                n += 1;
            }
        }
        let mean = sum / n.max(1) as f64;
        (mean, (sq / n.max(1) as f64 - mean * mean).max(0.0).sqrt())
    }

    /// Loads `<dir>/latents.f32` when it was made by the same encoder step from the same
    /// corpus; otherwise encodes the whole corpus (batches of 16) and writes it.
    pub fn load_or_build(
        dir: &Path,
        corpus: &Corpus,
        encoder: &Encoder,
        autoencoder_step: usize,
        shape: [usize; 3],
        device: &Device,
        progress: bool,
    ) -> Result<Self, PretrainError> {
        let meta = Meta {
            windows: corpus.len(),
            shape,
            autoencoder_step,
            corpus: corpus.dir.clone(),
        };
        if let Some(cache) = Self::read(dir, &meta)? {
            tracing::info!(
                "latent cache: {} latents from {}",
                meta.windows,
                dir.display()
            );
            return Ok(cache);
        }
        tracing::info!(
            "encoding {} windows into the latent cache (once per autoencoder checkpoint)",
            corpus.len()
        );
        let encoder = encoder.valid();
        let bar = if progress {
            ProgressBar::new(corpus.len() as u64)
        } else {
            ProgressBar::hidden()
        };
        let all: Vec<usize> = (0..corpus.len()).collect();
        let mut data = Vec::with_capacity(corpus.len() * shape.iter().product::<usize>());
        for chunk in all.chunks(16) {
            let latent = encoder.forward(mel_batch(corpus, chunk, device));
            let values = latent
                .into_data()
                .try_to_vec::<f32>()
                .map_err(|e| PretrainError::Invalid(format!("encoder output is not f32: {e:?}")))?;
            data.extend(values);
            bar.inc(chunk.len() as u64);
        }
        bar.finish_and_clear();
        let cache = Self { shape, data };
        cache.write(dir, &meta)?;
        Ok(cache)
    }

    fn read(dir: &Path, want: &Meta) -> Result<Option<Self>, PretrainError> {
        let meta_path = dir.join(META_FILE);
        let Ok(text) = std::fs::read_to_string(&meta_path) else {
            return Ok(None);
        };
        match serde_json::from_str::<Meta>(&text) {
            Ok(meta) if meta == *want => {}
            _ => return Ok(None),
        }
        let path = dir.join(LATENTS_FILE);
        let bytes = std::fs::read(&path).map_err(PretrainError::io(&path))?;
        let expected = want.windows * want.shape.iter().product::<usize>() * 4;
        if bytes.len() != expected {
            tracing::warn!("{}: wrong size, rebuilding", path.display());
            return Ok(None);
        }
        let data = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Ok(Some(Self {
            shape: want.shape,
            data,
        }))
    }

    fn write(&self, dir: &Path, meta: &Meta) -> Result<(), PretrainError> {
        let _ = std::fs::remove_file(dir.join(META_FILE));
        let path = dir.join(LATENTS_FILE);
        let bytes: Vec<u8> = self.data.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(&path, bytes).map_err(PretrainError::io(&path))?;
        let meta_path = dir.join(META_FILE);
        // The metadata goes last: a cache without it (a kill mid-write) is rebuilt.
        let text = serde_json::to_vec_pretty(meta).map_err(|source| PretrainError::Json {
            path: meta_path.clone(),
            source,
        })?;
        std::fs::write(&meta_path, text).map_err(PretrainError::io(&meta_path))
    }
}
