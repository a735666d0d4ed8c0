//! Tests for `refrain_trainer::synth`: determinism, sanity of the rendered loop, and that the committed
//! `examples/loop.wav` is exactly what the generator renders.

use std::path::{Path, PathBuf};

use refrain_engine::audio::{quantize_i16, write_wav_i16};
use refrain_trainer::synth::{example_spec, loop_frames, render_loop, LoopSpec};

fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/loop.wav")
}

fn spec(bpm: f32, bars: u32, root: u8, minor: bool, seed: u64, rate: u32) -> LoopSpec {
    LoopSpec {
        bpm,
        bars,
        key_root_midi: root,
        minor,
        seed,
        sample_rate: rate,
    }
}

#[test]
fn same_spec_renders_identical_samples() {
    let s = spec(97.0, 2, 50, false, 42, 22_050);
    assert_eq!(render_loop(&s), render_loop(&s));
    let other = render_loop(&LoopSpec {
        seed: 43,
        ..s.clone()
    });
    assert_ne!(render_loop(&s), other, "the seed should change the loop");
}

#[test]
fn loops_are_sane_across_tempos_keys_and_rates() {
    for s in [
        example_spec(),
        spec(70.0, 1, 40, false, 1, 8_000),
        spec(174.0, 8, 63, true, 2, 48_000),
        spec(128.5, 3, 69, false, 3, 22_050),
        spec(90.0, 2, 0, true, u64::MAX, 192_000),
    ] {
        let a = render_loop(&s);
        let frames = (f64::from(s.bars) * 4.0 * 60.0 / f64::from(s.bpm) * f64::from(s.sample_rate))
            .round() as usize;
        assert_eq!(a.frames(), frames, "{s:?}");
        assert_eq!(loop_frames(&s), frames);
        assert_eq!(
            (a.sample_rate, a.channels.len()),
            (s.sample_rate, 2),
            "{s:?}"
        );
        assert!(
            a.channels.iter().flatten().all(|x| x.is_finite()),
            "{s:?}: non-finite sample"
        );
        let peak = a.peak();
        // Peak-normalised to -1 dBFS (0.891).
        assert!((peak - 0.891).abs() < 0.001, "{s:?}: peak {peak}");
        let rms =
            (a.mono().iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / frames as f64).sqrt();
        assert!(rms > 0.05, "{s:?}: too quiet ({rms})");
        assert_ne!(
            a.channels[0], a.channels[1],
            "{s:?}: panning should make it stereo"
        );
    }
}

#[test]
fn degenerate_specs_give_silence_not_a_panic() {
    for s in [
        spec(0.0, 4, 57, true, 0, 44_100),
        spec(120.0, 0, 57, true, 0, 44_100),
        spec(f32::NAN, 1, 57, true, 0, 44_100),
        spec(120.0, 1, 57, true, 0, 0),
    ] {
        let a = render_loop(&s);
        assert_eq!(a.frames(), 0, "{s:?}");
    }
}

#[test]
fn beats_land_on_the_grid() {
    // Kicks (beats 1 and 3) show up in the broadband energy, snares (2 and 4) in the energy of the
    // first difference (a crude high-pass): in the 20 ms after each beat it should dwarf the 20 ms
    // before it.
    let s = example_spec();
    let mono = render_loop(&s).mono();
    let diff: Vec<f32> = mono.windows(2).map(|w| w[1] - w[0]).collect();
    let beat = (60.0 / f64::from(s.bpm) * f64::from(s.sample_rate)) as usize;
    let win = s.sample_rate as usize / 50;
    let energy = |x: &[f32], from: usize| x[from..from + win].iter().map(|v| v * v).sum::<f32>();
    for b in 1..(s.bars as usize * 4) {
        let signal = if b % 2 == 0 { &mono } else { &diff };
        let (before, after) = (energy(signal, b * beat - win), energy(signal, b * beat));
        assert!(after > 2.0 * before, "beat {b}: {after} vs {before}");
    }
}

#[test]
fn example_spec_is_eight_seconds_of_a_minor() {
    let s = example_spec();
    assert_eq!(
        (s.bpm, s.bars, s.key_root_midi % 12, s.minor, s.sample_rate),
        (120.0, 4, 9, true, 44_100)
    );
    assert_eq!(loop_frames(&s), 8 * 44_100);
}

/// The committed `examples/loop.wav` must be `render_loop(example_spec())` quantised to 16 bits,
/// so it cannot silently drift from its generator. A 1-LSB difference is allowed on a handful of
/// samples because `sin`/`exp` may differ in the last bit between platforms' libm.
#[test]
fn committed_example_matches_the_generator() {
    let mut reader = hound::WavReader::open(example_path())
        .expect("examples/loop.wav is missing: run the `regenerate_example` test (see its doc)");
    let spec = reader.spec();
    let ex = example_spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, ex.sample_rate, 16)
    );
    let stored: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    let audio = render_loop(&ex);
    assert_eq!(stored.len(), audio.frames() * 2);
    let mut off_by_one = 0;
    for (i, s) in stored.iter().enumerate() {
        let want = quantize_i16(audio.channels[i % 2][i / 2]);
        let diff = (i32::from(*s) - i32::from(want)).abs();
        assert!(
            diff <= 1,
            "sample {i}: file {s}, generator {want}; regenerate examples/loop.wav"
        );
        off_by_one += usize::from(diff == 1);
    }
    assert!(
        off_by_one <= stored.len() / 10_000,
        "{off_by_one} samples differ by 1 LSB"
    );
}

/// Rewrites `examples/loop.wav` from the generator. Run after changing `refrain_trainer::synth`:
/// `cargo test -p refrain-trainer --test synth -- --ignored regenerate`
#[test]
#[ignore]
fn regenerate_example() {
    let path = example_path();
    write_wav_i16(&path, &render_loop(&example_spec())).unwrap();
    println!("wrote {}", path.display());
}
