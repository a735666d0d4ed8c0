//! Training pairs of the vocoder: model-range mel windows and the log STFT magnitude of the same
//! audio, both from the engine's own transforms so training sees exactly what inference gives it.
//!
//! A model-range mel is relative to its window's loudest band, so the target magnitude is scaled
//! the same way (divided by the square root of the window's reference mel power): the network
//! learns a level-free mapping, and the engine's quality figures gain-match anyway.
use super::VocoderError;
use crate::synth::{corpus_spec, render_loop};
use crate::training::sample_indices;
use burn::tensor::{Device, Tensor, TensorData};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use refrain_engine::audio;
use refrain_engine::spectrogram::{to_unit, AudioConfig, MelTransform, Spectrum, NNLS_STEPS};
use refrain_engine::vocoder::neural::log_bin_major;
use std::path::{Path, PathBuf};

/// Magnitudes below this (relative to the window's loudest mel band) are floored before the
/// log: 100 dB down, 20 dB below the quietest level the mel keeps (`top_db` = 80).
pub const MAGNITUDE_FLOOR: f32 = 1e-5;
/// Windows quieter than this (RMS, dBFS) teach nothing and are skipped, as in the corpus.
const MIN_RMS_DB: f32 = -45.0;

/// Mel windows with their target log magnitudes.
#[derive(Debug, Clone, Default)]
pub struct Pairs {
    /// Mel bands per frame.
    pub n_mels: usize,
    /// Frequency bins per frame.
    pub n_freqs: usize,
    /// Frames per window.
    pub frames: usize,
    /// `windows × n_mels × frames`, model range, mel-major.
    pub mels: Vec<f32>,
    /// `windows × n_freqs × frames`, ln of the relative magnitude, bin-major.
    pub log_mags: Vec<f32>,
    /// The same layout: ln of the DSP mel inversion's magnitude (the network's `base` input).
    pub bases: Vec<f32>,
    /// NNLS steps of that inversion in the windows this adds from files and loops (`None`: the
    /// inversion's default); `add_audio` uses whatever its caller's transform is set to.
    pub inverse_steps: Option<usize>,
}

impl Pairs {
    /// Empty pairs for `config`.
    pub fn new(config: &AudioConfig) -> Self {
        Self {
            n_mels: config.n_mels,
            n_freqs: config.n_freqs(),
            frames: config.frames,
            ..Self::default()
        }
    }

    /// The same pairs, building their DSP base with `steps` NNLS steps (`None`: the default).
    pub fn with_inverse_steps(mut self, steps: Option<usize>) -> Self {
        self.inverse_steps = steps;
        self
    }

    /// Windows held.
    pub fn len(&self) -> usize {
        self.mels.len() / (self.n_mels * self.frames).max(1)
    }

    /// Whether no window is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds every non-overlapping, non-silent window of `samples` (mono, model rate).
    pub fn add_audio(
        &mut self,
        samples: &[f32],
        transform: &mut MelTransform,
    ) -> Result<usize, VocoderError> {
        // The bases must all be the one inversion the network will be fed at render time.
        let wanted = self.inverse_steps.unwrap_or(NNLS_STEPS);
        if transform.inverse_steps() != wanted {
            return Err(VocoderError::Data(format!(
                "the transform inverts the mel with {} NNLS steps, these pairs hold bases of {wanted}",
                transform.inverse_steps()
            )));
        }
        let config = transform.config().clone();
        let len = config.window_samples();
        let mut spectrum = Spectrum::default();
        let mut added = 0;
        let mut start = 0;
        while start + len <= samples.len() {
            let window = &samples[start..start + len];
            start += len;
            if rms_db(window) < MIN_RMS_DB {
                continue;
            }
            let (mut mel, reference) = transform.mel_db(window)?;
            if mel.frames != self.frames || !reference.is_finite() || reference <= 0.0 {
                continue;
            }
            to_unit(&mut mel.data, config.top_db);
            let inverted = transform.magnitude_from_model(&mel)?;
            let base = self.bases.len();
            self.bases.resize(base + self.n_freqs * self.frames, 0.0);
            log_bin_major(
                &inverted,
                self.n_freqs,
                self.frames,
                MAGNITUDE_FLOOR,
                &mut self.bases[base..],
            );
            transform.stft().forward(window, &mut spectrum);
            let scale = 1.0 / reference.sqrt();
            let base = self.log_mags.len();
            self.log_mags.resize(base + self.n_freqs * self.frames, 0.0);
            let target = &mut self.log_mags[base..];
            for t in 0..self.frames {
                for (k, c) in spectrum.frame(t).iter().enumerate() {
                    target[k * self.frames + t] = (c.norm() * scale).max(MAGNITUDE_FLOOR).ln();
                }
            }
            self.mels.extend_from_slice(&mel.data);
            added += 1;
        }
        Ok(added)
    }

    /// Adds the first window of each synthetic corpus loop `indices` (`synth::corpus_spec`,
    /// rendered at the model rate); returns how many windows that gave.
    pub fn add_synth_loops(
        &mut self,
        indices: impl IntoIterator<Item = usize>,
        config: &AudioConfig,
    ) -> Result<usize, VocoderError> {
        let mut transform = MelTransform::with_inverse_steps(config, self.inverse_steps)?;
        let mut added = 0;
        for i in indices {
            let spec = corpus_spec(i, config.window_secs(), config.sample_rate);
            let mono = render_loop(&spec).mono();
            added += self.add_audio(
                &mono[..config.window_samples().min(mono.len())],
                &mut transform,
            )?;
        }
        Ok(added)
    }

    /// Adds the windows of audio files, decoded and resampled to the model rate on up to two
    /// threads; returns how many windows each file gave (unreadable files are logged, skipped).
    pub fn add_files(
        &mut self,
        files: &[PathBuf],
        config: &AudioConfig,
    ) -> Result<usize, VocoderError> {
        let steps = self.inverse_steps;
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(2));
        let chunk = files.len().div_ceil(workers).max(1);
        let parts: Vec<Result<Pairs, VocoderError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = files
                .chunks(chunk)
                .map(|part| scope.spawn(move || decode_part(part, config, steps)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(VocoderError::Data("a decoding thread panicked".into()))
                    })
                })
                .collect()
        });
        let before = self.len();
        for part in parts {
            let part = part?;
            self.mels.extend_from_slice(&part.mels);
            self.log_mags.extend_from_slice(&part.log_mags);
            self.bases.extend_from_slice(&part.bases);
        }
        Ok(self.len() - before)
    }

    /// Each bin's mean log magnitude over every window and frame.
    pub fn mean_log_magnitude(&self) -> Vec<f32> {
        let mut sums = vec![0.0f64; self.n_freqs];
        for window in self.log_mags.chunks_exact(self.n_freqs * self.frames) {
            for (k, row) in window.chunks_exact(self.frames).enumerate() {
                sums[k] += row.iter().map(|&v| f64::from(v)).sum::<f64>();
            }
        }
        let n = (self.len() * self.frames).max(1) as f64;
        sums.iter().map(|s| (s / n) as f32).collect()
    }

    /// A random batch of `crop`-frame excerpts: mel `[B, 1, n_mels, crop]`, base
    /// `[B, 1, n_freqs, crop]`, target `[B, n_freqs, crop]`.
    pub fn batch(&self, rng: &mut ChaCha8Rng, batch: usize, crop: usize, device: &Device) -> Batch {
        let pool: Vec<usize> = (0..self.len()).collect();
        let crop = crop.min(self.frames).max(1);
        let picks: Vec<(usize, usize)> = sample_indices(rng, &pool, batch)
            .into_iter()
            .map(|w| (w, rng.random_range(0..=self.frames - crop)))
            .collect();
        self.tensors(&picks, crop, device)
    }

    /// Whole windows `indices`, for held-out figures.
    pub fn windows(&self, indices: &[usize], device: &Device) -> Batch {
        let picks: Vec<(usize, usize)> = indices.iter().map(|&w| (w, 0)).collect();
        self.tensors(&picks, self.frames, device)
    }

    fn tensors(&self, picks: &[(usize, usize)], crop: usize, device: &Device) -> Batch {
        let (mut mel, mut mag, mut base) = (Vec::new(), Vec::new(), Vec::new());
        let copy_rows = |src: &[f32], rows: usize, start: usize, out: &mut Vec<f32>| {
            for r in 0..rows {
                let row = &src[r * self.frames..(r + 1) * self.frames];
                out.extend_from_slice(&row[start..start + crop]);
            }
        };
        for &(w, start) in picks {
            let m = self.n_mels * self.frames;
            let f = self.n_freqs * self.frames;
            copy_rows(&self.mels[w * m..(w + 1) * m], self.n_mels, start, &mut mel);
            copy_rows(
                &self.log_mags[w * f..(w + 1) * f],
                self.n_freqs,
                start,
                &mut mag,
            );
            copy_rows(
                &self.bases[w * f..(w + 1) * f],
                self.n_freqs,
                start,
                &mut base,
            );
        }
        let b = picks.len();
        Batch {
            mel: Tensor::from_data(TensorData::new(mel, [b, 1, self.n_mels, crop]), device),
            base: Tensor::from_data(TensorData::new(base, [b, 1, self.n_freqs, crop]), device),
            target: Tensor::from_data(TensorData::new(mag, [b, self.n_freqs, crop]), device),
        }
    }
}

/// Network inputs and target of a batch.
pub struct Batch {
    /// `[B, 1, n_mels, T]`.
    pub mel: Tensor<4>,
    /// ln of the DSP inversion, `[B, 1, n_freqs, T]`.
    pub base: Tensor<4>,
    /// ln of the true magnitude, `[B, n_freqs, T]`.
    pub target: Tensor<3>,
}

fn decode_part(
    files: &[PathBuf],
    config: &AudioConfig,
    steps: Option<usize>,
) -> Result<Pairs, VocoderError> {
    let mut transform = MelTransform::with_inverse_steps(config, steps)?;
    let mut pairs = Pairs::new(config);
    for file in files {
        match read_mono(file, config.sample_rate) {
            Ok(samples) => {
                let n = pairs.add_audio(&samples, &mut transform)?;
                tracing::debug!("{}: {n} windows", file.display());
            }
            Err(e) => tracing::warn!("skipping {}: {e}", file.display()),
        }
    }
    Ok(pairs)
}

/// A file as sanitised mono audio at `rate`.
pub fn read_mono(path: &Path, rate: u32) -> Result<Vec<f32>, VocoderError> {
    let song = audio::read_file(path).map_err(|e| VocoderError::Data(e.to_string()))?;
    let mut mono = song.mono();
    audio::sanitize(&mut mono);
    audio::resample(&mono, song.sample_rate, rate).map_err(|e| VocoderError::Data(e.to_string()))
}

fn rms_db(x: &[f32]) -> f32 {
    let mean_square = x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32;
    10.0 * mean_square.max(1e-12).log10()
}
