//! Time-stretching without changing pitch (Signalsmith Stretch): fits a song's bars into the
//! model's window and the generated window back to the host's bars (docs/ARCHITECTURE.md §4.5).
use super::AudioError;
use signalsmith_stretch::Stretch;

/// Stretches `input` (mono, at `rate`) to exactly `out_len` samples, keeping its pitch.
///
/// Equal lengths return a copy. An output too short for the stretcher's window (under about
/// 0.1 s) is resampled by linear interpolation instead, which shifts its pitch; nothing the
/// engine makes is that short, the fallback only keeps the function total.
pub fn stretch_to(input: &[f32], out_len: usize, rate: u32) -> Result<Vec<f32>, AudioError> {
    if rate == 0 {
        return Err(AudioError::InvalidSampleRate { rate });
    }
    if input.is_empty() {
        return Ok(vec![0.0; out_len]);
    }
    if out_len == input.len() {
        return Ok(input.to_vec());
    }
    let mut out = vec![0.0; out_len];
    let mut stretch = Stretch::preset_default(1, rate);
    if out_len > 0 && stretch.exact(input, &mut out) {
        return Ok(out);
    }
    Ok(interpolate(input, out_len))
}

/// Linear interpolation of `input` onto `out_len` evenly spaced points (first to last sample).
fn interpolate(input: &[f32], out_len: usize) -> Vec<f32> {
    let last = input.len() - 1;
    let step = if out_len > 1 {
        last as f64 / (out_len - 1) as f64
    } else {
        0.0
    };
    (0..out_len)
        .map(|i| {
            let pos = i as f64 * step;
            let at = (pos as usize).min(last);
            let next = (at + 1).min(last);
            let frac = (pos - at as f64) as f32;
            input[at] + (input[next] - input[at]) * frac
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f32, rate: u32, len: usize) -> Vec<f32> {
        let w = 2.0 * std::f32::consts::PI * freq / rate as f32;
        (0..len).map(|i| 0.5 * (w * i as f32).sin()).collect()
    }

    /// Zero crossings per second of the middle half (away from the stretcher's edges).
    fn crossings_per_second(x: &[f32], rate: u32) -> f32 {
        let mid = &x[x.len() / 4..3 * x.len() / 4];
        let n = mid
            .windows(2)
            .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
            .count();
        n as f32 / (mid.len() as f32 / rate as f32)
    }

    #[test]
    fn stretched_sine_has_the_asked_length_and_keeps_its_pitch() {
        let rate = 22_050;
        let input = sine(440.0, rate, rate as usize * 2);
        for factor in [0.7f64, 1.0, 1.45] {
            let len = (input.len() as f64 * factor).round() as usize;
            let out = stretch_to(&input, len, rate).unwrap();
            assert_eq!(out.len(), len);
            // 440 Hz crosses zero 880 times a second, whatever the length.
            let c = crossings_per_second(&out, rate);
            assert!((c - 880.0).abs() < 880.0 * 0.02, "factor {factor}: {c}/s");
            let rms = (out.iter().map(|v| v * v).sum::<f32>() / len as f32).sqrt();
            assert!(rms > 0.25 && rms < 0.5, "factor {factor}: rms {rms}");
        }
    }

    #[test]
    fn tiny_and_empty_inputs_give_the_asked_length() {
        assert_eq!(stretch_to(&[], 10, 44_100).unwrap(), vec![0.0; 10]);
        let out = stretch_to(&[0.0, 1.0], 3, 44_100).unwrap();
        assert_eq!(out, vec![0.0, 0.5, 1.0]);
        assert!(stretch_to(&[1.0], 5, 0).is_err());
        assert!(stretch_to(&[1.0, 2.0], 0, 44_100).unwrap().is_empty());
    }
}
