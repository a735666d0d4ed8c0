//! "Tape-speed" augmentation in the mel domain (docs/ARCHITECTURE.md §6: small pitch/tempo shifts through
//! resampling). Playing audio `r` times faster scales every frequency by `r` and every duration
//! by `1/r`; on a mel window that is a warp of the frequency axis (through Hz, since mel bins are
//! not evenly spaced in Hz) and a stretch of the time axis. Doing it on the cached mels costs a
//! bilinear resample per window instead of re-analysing the corpus audio.
use refrain_engine::spectrogram::{hz_to_mel, mel_to_hz};

/// Where band `m` of `n_mels` between `fmin` and `fmax` reads from after speeding up by `r`:
/// the fractional band whose centre is this band's centre frequency divided by `r` (None when
/// that lies outside the analysed range, i.e. silence).
fn source_band(m: usize, n_mels: usize, fmin: f64, fmax: f64, r: f64) -> Option<f64> {
    let (lo, hi) = (hz_to_mel(fmin), hz_to_mel(fmax));
    let step = (hi - lo) / (n_mels + 1) as f64;
    let centre = mel_to_hz(lo + (m + 1) as f64 * step);
    let pos = (hz_to_mel(centre / r) - lo) / step - 1.0;
    (pos >= 0.0 && pos <= (n_mels - 1) as f64).then_some(pos)
}

/// Resamples a model-range mel (`n_mels` rows of `frames`) as if played `r` times faster.
/// Time wraps around (training windows are rolled loops); bands with no source are silence (−1).
pub fn speed_warp(
    mel: &[f32],
    n_mels: usize,
    frames: usize,
    fmin: f64,
    fmax: f64,
    r: f64,
) -> Vec<f32> {
    let mut out = vec![-1.0f32; mel.len()];
    if n_mels == 0 || frames == 0 || mel.len() != n_mels * frames {
        return mel.to_vec();
    }
    for m in 0..n_mels {
        let Some(pos) = source_band(m, n_mels, fmin, fmax, r) else {
            continue;
        };
        let m0 = pos.floor() as usize;
        let m1 = (m0 + 1).min(n_mels - 1);
        let wm = (pos - m0 as f64) as f32;
        for t in 0..frames {
            let src = (t as f64 * r).rem_euclid(frames as f64);
            let t0 = src.floor() as usize % frames;
            let t1 = (t0 + 1) % frames;
            let wt = (src - src.floor()) as f32;
            let at = |row: usize, col: usize| mel[row * frames + col];
            let a = at(m0, t0) * (1.0 - wt) + at(m0, t1) * wt;
            let b = at(m1, t0) * (1.0 - wt) + at(m1, t1) * wt;
            out[m * frames + t] = a * (1.0 - wm) + b * wm;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SR: f64 = 22_050.0;

    fn band_of(hz: f64, n: usize) -> f64 {
        let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(SR / 2.0));
        (hz_to_mel(hz) - lo) / ((hi - lo) / (n + 1) as f64) - 1.0
    }

    #[test]
    fn unit_speed_is_the_identity() {
        let mel: Vec<f32> = (0..64 * 16)
            .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
            .collect();
        let out = speed_warp(&mel, 64, 16, 0.0, SR / 2.0, 1.0);
        for (a, b) in mel.iter().zip(&out) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn a_tone_moves_up_by_the_speed_and_a_beat_comes_sooner() {
        let (n, f) = (128, 32);
        // One loud band at 2 kHz, loud only in frame 16.
        let k = band_of(2000.0, n).round() as usize;
        let mut mel = vec![-1.0f32; n * f];
        mel[k * f + 16] = 1.0;
        let r = 1.06;
        let out = speed_warp(&mel, n, f, 0.0, SR / 2.0, r);
        let (mut best, mut at) = (f32::MIN, (0, 0));
        for m in 0..n {
            for t in 0..f {
                if out[m * f + t] > best {
                    best = out[m * f + t];
                    at = (m, t);
                }
            }
        }
        let want = band_of(2000.0 * r, n);
        assert!((at.0 as f64 - want).abs() <= 1.0, "band {} vs {want}", at.0);
        // Frame 16 at 1.06× speed is heard at 16 / 1.06 ≈ 15.1.
        assert_eq!(at.1, 15);
    }

    #[test]
    fn slowing_down_leaves_the_top_bands_silent() {
        let mel = vec![0.5f32; 64 * 8];
        let out = speed_warp(&mel, 64, 8, 0.0, SR / 2.0, 0.9);
        assert!(out[63 * 8..].iter().all(|&v| v == -1.0));
        assert!(out[..8].iter().all(|&v| (v - 0.5).abs() < 1e-6));
    }
}
