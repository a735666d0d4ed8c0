//! Small sample-level helpers: cleaning, padding/trimming and picking the loudest region.

/// Replaces every NaN and ±infinity with 0 and returns how many samples were replaced.
///
/// Non-finite samples poison everything downstream (an FFT of one NaN is all NaN), and they do
/// occur in float WAVs written by buggy plugins, so every decoded or captured clip goes through
/// this once.
pub fn sanitize(samples: &mut [f32]) -> usize {
    let mut replaced = 0;
    for s in samples.iter_mut().filter(|s| !s.is_finite()) {
        *s = 0.0;
        replaced += 1;
    }
    replaced
}

/// Returns exactly `len` samples: the input trimmed at the end, or padded with zeros at the end.
pub fn fit_length(samples: &[f32], len: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&samples[..samples.len().min(len)]);
    out.resize(len, 0.0);
    out
}

/// Start offset of the `len`-sample window with the highest RMS, trying starts `0, hop, 2·hop, …`
/// and always the last full window (so the end of a song is a candidate even when `hop` does not
/// divide the length).
///
/// Used to pick the ≈ 5.94 s region of a song that conditions the model: the loudest part is
/// usually the chorus/drop, and never the silence at either end. When the input is shorter than
/// `len` (or `len` is 0) the only window is at 0. Ties go to the earliest window. A `hop` of 0 is
/// treated as 1.
///
/// Runs in O(n) with a running sum of squares (in f64, so millions of samples do not drift).
pub fn loudest_window(samples: &[f32], len: usize, hop: usize) -> usize {
    if len == 0 || samples.len() <= len {
        return 0;
    }
    let hop = hop.max(1);
    let last = samples.len() - len;
    // Prefix sums of squares: energy(start) = prefix[start + len] - prefix[start].
    let mut prefix = Vec::with_capacity(samples.len() + 1);
    prefix.push(0.0f64);
    let mut acc = 0.0f64;
    for s in samples {
        // Non-finite samples count as silence rather than winning every comparison.
        let v = if s.is_finite() { f64::from(*s) } else { 0.0 };
        acc += v * v;
        prefix.push(acc);
    }
    let energy = |start: usize| prefix[start + len] - prefix[start];
    let mut best = 0;
    let mut best_energy = energy(0);
    let candidates = (0..=last).step_by(hop).chain(std::iter::once(last));
    for start in candidates {
        let e = energy(start);
        if e > best_energy {
            best = start;
            best_energy = e;
        }
    }
    best
}
