//! A deterministic generator of short musical loops (drums, bass, chords).
//!
//! It gives the engine audio that is free to ship and to regenerate: the bundled example loop
//! (`examples/loop.wav`, see [`example_spec`]), test signals with real musical structure (onsets,
//! harmonics, a bass line), and later a synthetic training corpus over many tempos and keys.
//! Everything is computed from the [`LoopSpec`]; the only randomness is an inline SplitMix64
//! seeded from [`LoopSpec::seed`], so the same spec always renders the same samples.

use refrain_engine::audio::Audio;

/// Everything that determines a loop. Time signature is 4/4, on a 16th-note grid.
#[derive(Debug, Clone, PartialEq)]
pub struct LoopSpec {
    /// Tempo in beats (quarter notes) per minute.
    pub bpm: f32,
    /// Length in 4/4 bars.
    pub bars: u32,
    /// MIDI note of the key's tonic (57 = A3); the octave only matters modulo 12.
    pub key_root_midi: u8,
    /// Natural minor when true, major otherwise.
    pub minor: bool,
    /// Seeds the drum variations, bass rhythm, chord progression and noise.
    pub seed: u64,
    /// Output sample rate in Hz.
    pub sample_rate: u32,
}

/// The bundled example (`examples/loop.wav`): 4 bars of A minor at 120 bpm (8 s), 44.1 kHz stereo.
pub fn example_spec() -> LoopSpec {
    LoopSpec {
        bpm: 120.0,
        bars: 4,
        key_root_midi: 57,
        minor: true,
        seed: 7,
        sample_rate: 44_100,
    }
}

/// The `i`-th loop of the synthetic corpus: tempo spread over 80–160 bpm, key and mode spread
/// too, so the loops cover more than one groove; enough bars to fill `secs`.
pub fn corpus_spec(i: usize, secs: f64, sample_rate: u32) -> LoopSpec {
    let bpm = 80.0 + ((i * 37) % 81) as f32;
    LoopSpec {
        bpm,
        bars: ((secs * f64::from(bpm) / 240.0).ceil() as u32).max(1),
        key_root_midi: 40 + ((i * 5) % 12) as u8,
        minor: !i.is_multiple_of(3),
        seed: i as u64,
        sample_rate,
    }
}

/// Number of frames [`render_loop`] produces: `round(bars · 4 · 60 / bpm · sample_rate)`.
pub fn loop_frames(spec: &LoopSpec) -> usize {
    (f64::from(spec.bars) * 240.0 / f64::from(spec.bpm) * f64::from(spec.sample_rate)).round()
        as usize
}

/// Peak level of a rendered loop: −1 dBFS, leaving headroom for 16-bit rounding and for
/// resamplers' overshoot.
const PEAK_DBFS: f64 = -1.0;

/// Renders the loop described by `spec` as stereo [`Audio`], peak-normalised to −1 dBFS.
///
/// Kick on 1 and 3 (plus seeded pickups), snare on 2 and 4, 8th or 16th hats with random
/// velocity, a filtered-saw bass on the chord roots and an additive chord pad, one chord per bar.
/// Instruments are panned slightly apart; release tails wrap around to the start so the loop
/// repeats seamlessly. A degenerate spec (bpm ≤ 0 or not finite, 0 bars, rate 0) gives silence of
/// the computed length (possibly 0) rather than a panic.
pub fn render_loop(spec: &LoopSpec) -> Audio {
    let sr = f64::from(spec.sample_rate);
    let valid = spec.bpm.is_finite() && spec.bpm > 0.0 && spec.bars > 0 && spec.sample_rate > 0;
    let frames = if valid { loop_frames(spec) } else { 0 };
    let mut mix = Mix {
        left: vec![0.0; frames],
        right: vec![0.0; frames],
    };
    if frames == 0 {
        return Audio {
            sample_rate: spec.sample_rate,
            channels: vec![mix.left, mix.right],
        };
    }
    let mut rng = SplitMix64(spec.seed);
    let step = 60.0 / f64::from(spec.bpm) / 4.0 * sr; // frames per 16th note
    let at = |s: u32| (f64::from(s) * step).round() as usize;

    let scale: [i32; 7] = if spec.minor {
        [0, 2, 3, 5, 7, 8, 10]
    } else {
        [0, 2, 4, 5, 7, 9, 11]
    };
    let progressions: [[usize; 4]; 3] = if spec.minor {
        [[0, 5, 2, 6], [0, 3, 4, 0], [0, 6, 5, 6]] // i–VI–III–VII, i–iv–v–i, i–VII–VI–VII
    } else {
        [[0, 4, 5, 3], [0, 3, 4, 3], [0, 5, 3, 4]] // I–V–vi–IV, I–IV–V–IV, I–vi–IV–V
    };
    let progression = progressions[rng.below(3)];
    let hats_16ths = rng.next_f64() < 0.5;
    let root = i32::from(spec.key_root_midi);

    for bar in 0..spec.bars {
        let bar_step = bar * 16;
        let degree = progression[bar as usize % 4];
        // Kick: 1 and 3, plus a seeded pickup before 3 or before the next bar.
        let mut kicks = vec![0, 8];
        if rng.next_f64() < 0.6 {
            kicks.push(if rng.next_f64() < 0.5 { 10 } else { 14 });
        }
        for k in kicks {
            mix.add(at(bar_step + k), &kick(sr), 0.7, 0.0);
        }
        // Snare on 2 and 4; an occasional ghost note on the last 16th.
        for s in [4, 12] {
            mix.add(at(bar_step + s), &snare(sr, &mut rng, 1.0), 0.6, -0.12);
        }
        if rng.next_f64() < 0.4 {
            mix.add(at(bar_step + 15), &snare(sr, &mut rng, 0.35), 0.6, -0.12);
        }
        // Hats: accented on the beat, open on the last off-beat of the bar.
        for h in (0..16).step_by(if hats_16ths { 1 } else { 2 }) {
            let open = h == 14;
            let accent = if h % 4 == 0 {
                1.0
            } else {
                0.55 + 0.35 * rng.next_f64()
            };
            mix.add(
                at(bar_step + h),
                &hat(sr, &mut rng, open),
                0.12 * accent,
                0.3,
            );
        }
        // Bass: the chord root in octave 2 on a seeded 8th-note rhythm, an octave jump now and then.
        let bass_note = 36 + (root + scale[degree] - 36).rem_euclid(12);
        for e in (0..16).step_by(2) {
            if e != 0 && rng.next_f64() < 0.3 {
                continue;
            }
            let octave = if e == 6 || e == 14 {
                12 * i32::from(rng.next_f64() < 0.4)
            } else {
                0
            };
            let len = step * 1.8;
            mix.add(
                at(bar_step + e),
                &bass(sr, midi_hz(bass_note + octave), len),
                0.5,
                0.0,
            );
        }
        // Chords: a triad on the scale degree, every voice folded into [55, 67), held for a bar.
        let bar_len = step * 16.0;
        for (v, third) in [0usize, 2, 4].iter().enumerate() {
            let idx = degree + third;
            let semis = scale[idx % 7] + 12 * (idx / 7) as i32;
            let note = 55 + (root + semis - 55).rem_euclid(12);
            let pan = -0.35 + 0.35 * v as f64;
            mix.add(
                at(bar_step),
                &pad(sr, midi_hz(note), bar_len, 1.004),
                0.075,
                pan - 0.2,
            );
            mix.add(
                at(bar_step),
                &pad(sr, midi_hz(note), bar_len, 0.996),
                0.075,
                pan + 0.2,
            );
        }
    }
    mix.normalise(10f64.powf(PEAK_DBFS / 20.0));
    Audio {
        sample_rate: spec.sample_rate,
        channels: vec![mix.left, mix.right],
    }
}

/// Stereo accumulation buffer; notes past the end wrap to the start so the loop is seamless.
struct Mix {
    left: Vec<f32>,
    right: Vec<f32>,
}

impl Mix {
    /// Adds a mono note at `start` with `gain`, equal-power panned (`pan` in [-1, 1]).
    fn add(&mut self, start: usize, note: &[f64], gain: f64, pan: f64) {
        let len = self.left.len();
        let angle = (pan.clamp(-1.0, 1.0) + 1.0) * std::f64::consts::FRAC_PI_4;
        let (gl, gr) = (gain * angle.cos(), gain * angle.sin());
        for (i, s) in note.iter().enumerate() {
            let j = (start + i) % len;
            self.left[j] += (s * gl) as f32;
            self.right[j] += (s * gr) as f32;
        }
    }

    /// Soft-saturates the bus (glues the drums into the bass) and scales the peak to `peak`.
    fn normalise(&mut self, peak: f64) {
        let max = self
            .left
            .iter()
            .chain(&self.right)
            .fold(0.0f64, |m, s| m.max((f64::from(*s) * 0.8).tanh().abs()));
        if max <= 0.0 {
            return;
        }
        let g = peak / max;
        for s in self.left.iter_mut().chain(self.right.iter_mut()) {
            *s = ((f64::from(*s) * 0.8).tanh() * g) as f32;
        }
    }
}

/// SplitMix64: tiny, fast, well-distributed and trivially reproducible on every platform.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1) from the top 53 bits.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in [-1, 1): white noise.
    fn noise(&mut self) -> f64 {
        self.next_f64() * 2.0 - 1.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

fn midi_hz(note: i32) -> f64 {
    440.0 * 2f64.powf(f64::from(note - 69) / 12.0)
}

/// Linear fade-in over `secs`, so no note starts with a click.
fn attack(t: f64, secs: f64) -> f64 {
    (t / secs).min(1.0)
}

/// Sine with an exponential pitch drop (150 → 45 Hz) under a ~0.2 s decay: an 808-style kick.
fn kick(sr: f64) -> Vec<f64> {
    let n = (0.45 * sr) as usize;
    let mut phase = 0.0;
    (0..n)
        .map(|i| {
            let t = i as f64 / sr;
            let freq = 45.0 + 105.0 * (-t / 0.035).exp();
            phase += std::f64::consts::TAU * freq / sr;
            phase.sin() * (-t / 0.22).exp() * attack(t, 0.002)
        })
        .collect()
}

/// High-passed noise burst plus a 185 Hz body; `level` scales ghost notes.
fn snare(sr: f64, rng: &mut SplitMix64, level: f64) -> Vec<f64> {
    let n = (0.25 * sr) as usize;
    let mut hp = OnePoleHighpass::new(1200.0, sr);
    (0..n)
        .map(|i| {
            let t = i as f64 / sr;
            let noise = hp.process(rng.noise()) * (-t / 0.09).exp();
            let body = (std::f64::consts::TAU * 185.0 * t).sin() * (-t / 0.05).exp();
            level * (0.8 * noise + 0.5 * body) * attack(t, 0.001)
        })
        .collect()
}

/// Noise through two high-pass stages (≈ 7 kHz), short (closed) or longer (open) decay.
fn hat(sr: f64, rng: &mut SplitMix64, open: bool) -> Vec<f64> {
    let decay = if open { 0.14 } else { 0.03 };
    let n = (decay * 6.0 * sr) as usize;
    let (mut a, mut b) = (
        OnePoleHighpass::new(7000.0, sr),
        OnePoleHighpass::new(7000.0, sr),
    );
    (0..n)
        .map(|i| {
            let t = i as f64 / sr;
            b.process(a.process(rng.noise())) * (-t / decay).exp() * attack(t, 0.0005)
        })
        .collect()
}

/// Band-limited (polyBLEP) saw through a resonant low-pass whose cutoff falls from ~1.8 kHz to
/// ~300 Hz: the classic subtractive "pluck" bass. `len` is the gate length in frames.
fn bass(sr: f64, freq: f64, len: f64) -> Vec<f64> {
    let release = 0.03 * sr;
    let n = (len + release) as usize;
    let dt = freq / sr;
    let mut phase = 0.0f64;
    let (mut low, mut band) = (0.0f64, 0.0f64);
    (0..n)
        .map(|i| {
            let t = i as f64 / sr;
            let mut saw = 2.0 * phase - 1.0;
            saw -= poly_blep(phase, dt);
            phase = (phase + dt).fract();
            // Chamberlin state-variable filter: only stable well below sr/6, hence the clamp
            // (it only bites at rates under ~14 kHz).
            let cutoff = (300.0 + 1500.0 * (-t / 0.08).exp()).min(sr / 8.0);
            let f = 2.0 * (std::f64::consts::PI * cutoff / sr).sin();
            let q = 0.6;
            low += f * band;
            let high = saw - low - q * band;
            band += f * high;
            low * release_gate(i, len, release) * attack(t, 0.003)
        })
        .collect()
}

/// 1 while a note is held (frame `i` before `len`), then a linear fade to 0 over `release` frames.
fn release_gate(i: usize, len: f64, release: f64) -> f64 {
    if (i as f64) < len {
        1.0
    } else {
        (1.0 - (i as f64 - len) / release).max(0.0)
    }
}

/// PolyBLEP correction that removes the saw's aliasing at its discontinuity.
fn poly_blep(phase: f64, dt: f64) -> f64 {
    if phase < dt {
        let x = phase / dt;
        x + x - x * x - 1.0
    } else if phase > 1.0 - dt {
        let x = (phase - 1.0) / dt;
        x * x + x + x + 1.0
    } else {
        0.0
    }
}

/// Additive pad voice: six harmonics falling as 1/k^1.6, slightly `detune`d (a ratio), with a
/// soft attack, gentle decay to sustain and a short release after `len` frames.
fn pad(sr: f64, freq: f64, len: f64, detune: f64) -> Vec<f64> {
    let release = 0.12 * sr;
    let n = (len + release) as usize;
    let f0 = freq * detune;
    let harmonics: Vec<(f64, f64)> = (1..=6)
        .map(|k| (f64::from(k), f64::from(k).powf(-1.6)))
        .filter(|(k, _)| k * f0 < sr * 0.45)
        .collect();
    (0..n)
        .map(|i| {
            let t = i as f64 / sr;
            let w = std::f64::consts::TAU * f0 * t;
            let tone: f64 = harmonics.iter().map(|(k, a)| a * (k * w).sin()).sum();
            let sustain = 0.65 + 0.35 * (-t / 0.4).exp();
            tone * sustain * release_gate(i, len, release) * attack(t, 0.04)
        })
        .collect()
}

/// First-order high-pass (RC model), enough to take the low end out of noise.
struct OnePoleHighpass {
    alpha: f64,
    prev_in: f64,
    prev_out: f64,
}

impl OnePoleHighpass {
    fn new(cutoff: f64, sr: f64) -> Self {
        let rc = 1.0 / (std::f64::consts::TAU * cutoff);
        Self {
            alpha: rc / (rc + 1.0 / sr),
            prev_in: 0.0,
            prev_out: 0.0,
        }
    }
    fn process(&mut self, x: f64) -> f64 {
        self.prev_out = self.alpha * (self.prev_out + x - self.prev_in);
        self.prev_in = x;
        self.prev_out
    }
}
