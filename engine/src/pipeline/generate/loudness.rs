//! Clip loudness: generated clips match their songs' level (the decoded mel has none of its own).
use crate::audio;

/// Clip loudness when there is no song to match (−20 dBFS RMS).
pub(super) const UNCONDITIONAL_RMS: f32 = 0.1;

/// Root mean square of `x` (0 for an empty slice).
pub(super) fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

/// Mean of `values` weighted by `weights`; `None` when the weights sum to 0.
pub(super) fn weighted_mean(values: &[f32], weights: &[f32]) -> Option<f32> {
    let total: f32 = weights.iter().sum();
    (total > 0.0).then(|| values.iter().zip(weights).map(|(v, w)| v * w).sum::<f32>() / total)
}

/// Scales to the songs' RMS (the decoded mel has no absolute level), then under the peak ceiling.
pub(super) fn match_loudness(audio: &mut [f32], target_rms: f32) {
    let current = rms(audio);
    if current <= 1e-9 {
        return;
    }
    let mut gain = target_rms / current;
    let peak = audio.iter().fold(0.0f32, |m, x| m.max(x.abs())) * gain;
    if peak > audio::PEAK_CEILING {
        gain *= audio::PEAK_CEILING / peak;
    }
    audio.iter_mut().for_each(|x| *x *= gain);
}
