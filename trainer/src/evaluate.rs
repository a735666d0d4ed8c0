//! Measuring an exported version through the engine (ONNX Runtime), the way the plugin will
//! use it: autoencoder round trips on held-out windows (mel L1, and spectral convergence of the
//! Griffin-Lim audio against the source audio), and what the UNet's samples look like.
use crate::corpus::{Corpus, Split};
use crate::pretrain::PretrainError;
use crate::training::spread;
use refrain_engine::audio;
use refrain_engine::ddim::{BatchMode, DdimParams, Sampler, Start};
use refrain_engine::model::Model;
use refrain_engine::pipeline::detail::{self, DEFAULT_DETAIL};
use refrain_engine::spectrogram::{to_unit, GriffinLim, Mel, MelTransform, Spectrum};
use serde::Serialize;
use std::ops::ControlFlow;
use std::path::Path;

/// Autoencoder quality on held-out windows.
#[derive(Debug, Clone, Serialize)]
pub struct AeMetrics {
    /// Held-out windows measured for mel L1.
    pub windows: usize,
    /// Mean |decode(encode(mel)) − mel| in the model range [−1, 1].
    pub mel_l1: f64,
    /// Windows whose source audio could be read again (synth loops cannot).
    pub audio_windows: usize,
    /// Spectral convergence of Griffin-Lim(decode(encode(mel))) against the source audio.
    pub spectral_convergence: Option<f64>,
    /// The same for Griffin-Lim(mel) alone: the ceiling the DSP sets for any model.
    pub dsp_spectral_convergence: Option<f64>,
    /// Mel L1 in the low, middle and high thirds of the mel bands.
    pub band_l1: [f64; 3],
    /// Frame-to-frame change of the reconstruction over the original's: below 1 means
    /// transients are smeared in time.
    pub temporal_detail_ratio: f64,
    /// Band-to-band change of the reconstruction over the original's: below 1 means the
    /// spectrum is blurred (harmonics merge).
    pub spectral_detail_ratio: f64,
}

/// What DDIM samples look like, as mel statistics next to the held-out corpus's.
#[derive(Debug, Clone, Serialize)]
pub struct SampleMetrics {
    /// DDIM steps used.
    pub steps: usize,
    /// Image-to-image strength of the variations.
    pub strength: f64,
    /// Mean mel L1 between a variation and its source's own round trip.
    pub variation_l1_to_source: f64,
    /// The decoded variations next to their songs.
    pub variations: VariationMetrics,
    /// The same with the songs' detail added back at the plugin's default (`pipeline::detail`).
    pub detailed_variations: VariationMetrics,
    /// The residual gain that default gives at this strength and step count.
    pub detail_gain: f32,
    /// Mean / std of decoded unconditional samples (model range).
    pub unconditional_mean: f64,
    /// Standard deviation of unconditional samples' mel values.
    pub unconditional_std: f64,
    /// Mean |mel[f][t+1] − mel[f][t]| of unconditional samples (noise is high, music lower).
    pub unconditional_frame_diff: f64,
    /// The same three statistics over the held-out windows, for comparison.
    pub corpus_mean: f64,
    /// Std of held-out mel values.
    pub corpus_std: f64,
    /// Frame-to-frame change of held-out mels.
    pub corpus_frame_diff: f64,
}

/// How decoded variations compare with the songs they vary (means over the songs).
#[derive(Debug, Clone, Default, Serialize)]
pub struct VariationMetrics {
    /// Frame-to-frame change (compare `corpus_frame_diff`; the decoder smooths it away).
    pub frame_diff: f64,
    /// Pearson correlation of the spectral flux (summed rises per frame) with the song's: how
    /// much of the song's onset timing the variation keeps.
    pub onset_correlation: f64,
    /// Mel L1 to the song itself.
    pub l1_to_song: f64,
}

impl VariationMetrics {
    /// Adds one (variation, song) pair; call [`Self::mean`] after the last.
    fn add(&mut self, variation: &Mel, song: &Mel) {
        self.frame_diff += mel_stats(std::slice::from_ref(variation)).2;
        self.onset_correlation += correlation(&flux(variation), &flux(song));
        self.l1_to_song += mel_l1(&variation.data, &song.data);
    }

    fn mean(mut self, n: usize) -> Self {
        let n = n.max(1) as f64;
        self.frame_diff /= n;
        self.onset_correlation /= n;
        self.l1_to_song /= n;
        self
    }
}

/// Per frame transition, the rises summed over bands (where notes and hits start).
fn flux(m: &Mel) -> Vec<f64> {
    let mut out = vec![0.0f64; m.frames.saturating_sub(1)];
    for row in m.data.chunks_exact(m.frames) {
        for (o, pair) in out.iter_mut().zip(row.windows(2)) {
            *o += f64::from((pair[1] - pair[0]).max(0.0));
        }
    }
    out
}

/// Pearson correlation; 0 when either side is constant.
fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len()).max(1) as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        ab += (x - ma) * (y - mb);
        aa += (x - ma) * (x - ma);
        bb += (y - mb) * (y - mb);
    }
    if aa > 0.0 && bb > 0.0 {
        ab / (aa * bb).sqrt()
    } else {
        0.0
    }
}

/// Mean absolute difference.
pub fn mel_l1(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from((x - y).abs()))
        .sum::<f64>()
        / a.len().max(1) as f64
}

/// ‖|X| − |Y|‖ / ‖|X|‖ over STFT magnitudes (X = reference).
pub fn spectral_convergence(t: &mut MelTransform, reference: &[f32], rebuilt: &[f32]) -> f64 {
    let (mut x, mut y) = (Spectrum::default(), Spectrum::default());
    t.stft().forward(reference, &mut x);
    t.stft().forward(rebuilt, &mut y);
    refrain_engine::spectrogram::spectral_convergence(&x, &y)
}

/// A model-rate window as the engine sees it: (model-range mel, power reference for the gain).
pub fn analyse(t: &mut MelTransform, window: &[f32]) -> Result<(Mel, f32), PretrainError> {
    let (mut mel, reference) = t.mel_db(window).map_err(PretrainError::engine)?;
    to_unit(&mut mel.data, t.config().top_db);
    Ok((mel, reference))
}

/// Griffin-Lim audio of a model-range mel at the level `reference` (seed 0: reproducible).
pub fn render(t: &mut MelTransform, mel: &Mel, reference: f32) -> Result<Vec<f32>, PretrainError> {
    let iters = t.config().griffin_lim_iters;
    let audio = t
        .from_model(mel, GriffinLim::fast(iters, 0))
        .map_err(PretrainError::engine)?;
    let gain = reference.sqrt();
    Ok(audio.into_iter().map(|x| x * gain).collect())
}

/// The source audio of corpus window `i`, when its file is still readable.
fn source_window(corpus: &Corpus, i: usize) -> Option<Vec<f32>> {
    let info = &corpus.index[i];
    let path = Path::new(&info.file);
    if !path.is_file() {
        return None;
    }
    let config = &corpus.manifest.audio;
    let song = audio::read_file(path).ok()?;
    let samples = audio::resample(&song.mono(), song.sample_rate, config.sample_rate).ok()?;
    let start = (info.offset_s * f64::from(config.sample_rate)).round() as usize;
    let len = config.window_samples();
    (start + len <= samples.len()).then(|| samples[start..start + len].to_vec())
}

fn mel_of(corpus: &Corpus, i: usize) -> Mel {
    let a = &corpus.manifest.audio;
    Mel {
        n_mels: a.n_mels,
        frames: a.frames,
        data: corpus.window(i),
    }
}

/// Autoencoder metrics on up to `windows` held-out windows (and up to `audio_windows` of them
/// re-read from their source files for spectral convergence).
pub fn autoencoder_metrics(
    model: &mut Model,
    corpus: &Corpus,
    windows: usize,
    audio_windows: usize,
) -> Result<AeMetrics, PretrainError> {
    let picks = spread(&corpus.indices(Split::Heldout), windows);
    let mut transform = MelTransform::new(&corpus.manifest.audio).map_err(PretrainError::engine)?;
    let (mut l1, mut bands) = (0.0, [0.0f64; 3]);
    let (mut originals, mut rebuilt) = (Vec::new(), Vec::new());
    for &i in &picks {
        let mel = mel_of(corpus, i);
        let back = round_trip(model, &mel)?;
        l1 += mel_l1(&back.data, &mel.data);
        let third = mel.n_mels / 3 * mel.frames;
        for (k, band) in bands.iter_mut().enumerate() {
            let r = k * third..(k + 1) * third;
            *band += mel_l1(&back.data[r.clone()], &mel.data[r]);
        }
        originals.push(mel);
        rebuilt.push(back);
    }
    let (_, _, time_orig) = mel_stats(&originals);
    let (_, _, time_back) = mel_stats(&rebuilt);
    let (freq_orig, freq_back) = (band_diff(&originals), band_diff(&rebuilt));
    let (mut sc, mut sc_dsp, mut n_audio) = (0.0, 0.0, 0usize);
    for &i in &picks {
        if n_audio >= audio_windows {
            break;
        }
        let Some(window) = source_window(corpus, i) else {
            continue;
        };
        let (mel, reference) = analyse(&mut transform, &window)?;
        let back = round_trip(model, &mel)?;
        let rebuilt = render(&mut transform, &back, reference)?;
        sc += spectral_convergence(&mut transform, &window, &rebuilt);
        let dsp = render(&mut transform, &mel, reference)?;
        sc_dsp += spectral_convergence(&mut transform, &window, &dsp);
        n_audio += 1;
    }
    let avg = |v: f64| (n_audio > 0).then(|| v / n_audio as f64);
    Ok(AeMetrics {
        windows: picks.len(),
        mel_l1: l1 / picks.len().max(1) as f64,
        audio_windows: n_audio,
        spectral_convergence: avg(sc),
        dsp_spectral_convergence: avg(sc_dsp),
        band_l1: bands.map(|b| b / picks.len().max(1) as f64),
        temporal_detail_ratio: time_back / time_orig.max(1e-12),
        spectral_detail_ratio: freq_back / freq_orig.max(1e-12),
    })
}

/// decode(encode(mel)) through the engine.
pub fn round_trip(model: &mut Model, mel: &Mel) -> Result<Mel, PretrainError> {
    let latent = model.encode(mel).map_err(PretrainError::engine)?;
    model.decode(&latent).map_err(PretrainError::engine)
}

/// Mean |mel[f+1][t] − mel[f][t]| (detail across bands).
fn band_diff(mels: &[Mel]) -> f64 {
    let (mut sum, mut n) = (0.0f64, 0usize);
    for m in mels {
        for (a, b) in m.data.iter().zip(&m.data[m.frames..]) {
            sum += f64::from((b - a).abs());
            n += 1;
        }
    }
    sum / n.max(1) as f64
}

/// (mean, std, mean frame-to-frame |Δ|) of mels.
fn mel_stats(mels: &[Mel]) -> (f64, f64, f64) {
    let (mut sum, mut sq, mut n, mut diff, mut nd) = (0.0f64, 0.0f64, 0usize, 0.0f64, 0usize);
    for m in mels {
        for row in m.data.chunks_exact(m.frames) {
            for (k, &v) in row.iter().enumerate() {
                sum += f64::from(v);
                sq += f64::from(v) * f64::from(v);
                n += 1;
                if k + 1 < row.len() {
                    diff += f64::from((row[k + 1] - v).abs());
                    nd += 1;
                }
            }
        }
    }
    let mean = sum / n.max(1) as f64;
    let std = (sq / n.max(1) as f64 - mean * mean).max(0.0).sqrt();
    (mean, std, diff / nd.max(1) as f64)
}

/// DDIM variations (img2img at `strength`) of up to `count` held-out windows and as many
/// unconditional samples, `steps` DDIM steps each, summarised as mel statistics.
pub fn sample_metrics(
    model: &mut Model,
    corpus: &Corpus,
    count: usize,
    steps: usize,
    strength: f64,
) -> Result<SampleMetrics, PretrainError> {
    let sampler = Sampler::from_manifest(model.manifest()).map_err(PretrainError::engine)?;
    let len = model.manifest().latent.len();
    let params = DdimParams { steps, eta: 0.0 };
    let picks = spread(&corpus.indices(Split::Heldout), count);
    let mut sources = Vec::new();
    let (mut variations, mut detailed) = (VariationMetrics::default(), VariationMetrics::default());
    let mut variation_l1 = 0.0;
    let detail_gain = detail::gain(sampler.schedule(), steps, strength, DEFAULT_DETAIL)
        .map_err(PretrainError::engine)?;
    for (k, &i) in picks.iter().enumerate() {
        let mel = mel_of(corpus, i);
        let latent = model.encode(&mel).map_err(PretrainError::engine)?;
        let own = model.decode(&latent).map_err(PretrainError::engine)?;
        let start = Start::Latent {
            latent: &latent,
            strength,
        };
        let out = sample(model, &sampler, start, k as u64, &params)?;
        let var = model.decode(&out).map_err(PretrainError::engine)?;
        variation_l1 += mel_l1(&var.data, &own.data);
        let with_detail = detail::with_song_detail(&var, &mel, &own, detail_gain);
        variations.add(&var, &mel);
        detailed.add(&with_detail, &mel);
        sources.push(mel);
    }
    let mut generated = Vec::new();
    for k in 0..picks.len() {
        let out = sample(
            model,
            &sampler,
            Start::Noise { len },
            1000 + k as u64,
            &params,
        )?;
        generated.push(model.decode(&out).map_err(PretrainError::engine)?);
    }
    let (um, us, ud) = mel_stats(&generated);
    let (cm, cs, cd) = mel_stats(&sources);
    Ok(SampleMetrics {
        steps,
        strength,
        variation_l1_to_source: variation_l1 / picks.len().max(1) as f64,
        variations: variations.mean(picks.len()),
        detailed_variations: detailed.mean(picks.len()),
        detail_gain,
        unconditional_mean: um,
        unconditional_std: us,
        unconditional_frame_diff: ud,
        corpus_mean: cm,
        corpus_std: cs,
        corpus_frame_diff: cd,
    })
}

/// One seeded DDIM run through the model's UNet (batch 1: fixed-batch exports allow it).
pub fn sample(
    model: &mut Model,
    sampler: &Sampler,
    start: Start<'_>,
    seed: u64,
    params: &DdimParams,
) -> Result<Vec<f32>, PretrainError> {
    let mut denoiser = model.denoiser();
    let mut out = sampler
        .sample_batch(
            start,
            &[seed],
            params,
            &mut denoiser,
            BatchMode::PerSeed,
            &mut |_, _| ControlFlow::Continue(()),
        )
        .map_err(PretrainError::engine)?;
    out.pop()
        .ok_or_else(|| PretrainError::Engine("the sampler returned no latent".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flux_sums_rises_and_correlation_spots_shared_onsets() {
        let m = Mel {
            n_mels: 2,
            frames: 4,
            data: vec![0.0, 1.0, 0.0, 1.0, 0.0, 0.5, 0.5, 0.0],
        };
        assert_eq!(flux(&m), vec![1.5, 0.0, 1.0]);
        assert!((correlation(&[1.0, 0.0, 1.0], &[2.0, 0.0, 2.0]) - 1.0).abs() < 1e-12);
        assert!((correlation(&[1.0, 0.0, 1.0], &[0.0, 1.0, 0.0]) + 1.0).abs() < 1e-12);
        assert_eq!(correlation(&[1.0, 1.0], &[0.0, 1.0]), 0.0);
    }
}
