//! Tests for `engine::audio`: decoding, WAV writing, resampling and the shaping helpers.
mod support;

use std::f64::consts::TAU;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use refrain_engine::audio::{
    fit_length, loudest_window, read_file, resample, resample_audio, sanitize, write_wav,
    write_wav_i16, write_wav_pcm24, Audio, AudioError,
};

fn sine(freq: f64, rate: u32, n: usize, amp: f64) -> Vec<f32> {
    (0..n)
        .map(|i| (amp * (TAU * freq * i as f64 / f64::from(rate)).sin()) as f32)
        .collect()
}

/// RMS of the middle half (skips edge effects of resamplers and codecs).
fn rms_mid(x: &[f32]) -> f64 {
    let mid = &x[x.len() / 4..3 * x.len() / 4];
    (mid.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / mid.len() as f64).sqrt()
}

/// Frequency from interpolated rising zero crossings over the middle half.
fn freq_mid(x: &[f32], rate: u32) -> f64 {
    let (a, b) = (x.len() / 4, 3 * x.len() / 4);
    let mut crossings = Vec::new();
    for i in a..b {
        let (p, q) = (f64::from(x[i]), f64::from(x[i + 1]));
        if p < 0.0 && q >= 0.0 {
            crossings.push(i as f64 + p / (p - q));
        }
    }
    let periods = (crossings.len() - 1) as f64;
    f64::from(rate) * periods / (crossings[crossings.len() - 1] - crossings[0])
}

fn db(ratio: f64) -> f64 {
    20.0 * ratio.log10()
}

fn argmax_abs(x: &[f32]) -> usize {
    x.iter()
        .enumerate()
        .fold(
            (0, 0.0f32),
            |m, (i, v)| if v.abs() > m.1 { (i, v.abs()) } else { m },
        )
        .0
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/audio")
        .join(name)
}

#[test]
fn audio_helpers() {
    let a = Audio::new(4, vec![vec![1.0, 0.0, -1.0, 0.5], vec![0.0, 0.0, 1.0, 0.5]]).unwrap();
    assert_eq!(a.frames(), 4);
    assert_eq!(a.duration_secs(), 1.0);
    assert_eq!(a.mono(), vec![0.5, 0.0, 0.0, 0.5]);
    assert_eq!(a.peak(), 1.0);
    assert!(Audio::new(0, vec![vec![0.0]]).is_err());
    assert!(Audio::new(8000, vec![]).is_err());
    assert!(Audio::new(8000, vec![vec![0.0], vec![]]).is_err());
}

#[test]
fn float_wav_round_trips_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("float.wav");
    let audio = Audio::new(
        48_000,
        vec![
            sine(440.0, 48_000, 4800, 0.9),
            sine(1000.0, 48_000, 4800, 1.2),
        ], // > 0 dBFS survives
    )
    .unwrap();
    write_wav(&path, &audio).unwrap();
    let back = read_file(&path).unwrap();
    assert_eq!(back, audio);
}

#[test]
fn pcm16_wav_round_trips_within_one_step() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pcm.wav");
    let mut left = sine(440.0, 22_050, 2205, 0.7);
    left[10] = 1.5; // clipped to full scale, not wrapped
    left[11] = -3.0;
    let audio = Audio::new(22_050, vec![left.clone(), sine(300.0, 22_050, 2205, 0.3)]).unwrap();
    write_wav_i16(&path, &audio).unwrap();
    let back = read_file(&path).unwrap();
    assert_eq!(
        (back.sample_rate, back.channels.len(), back.frames()),
        (22_050, 2, 2205)
    );
    for (a, b) in audio.channels.iter().zip(&back.channels) {
        for (x, y) in a.iter().zip(b) {
            assert!(
                (x.clamp(-1.0, 1.0) - y).abs() <= 1.5 / 32768.0,
                "{x} vs {y}"
            );
        }
    }
    assert!(back.channels[0][10] > 0.999 && back.channels[0][11] < -0.999);
}

#[test]
fn clip_wav_is_24_bit_pcm_that_hound_and_sox_read_without_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.wav");
    let mut left = sine(440.0, 44_100, 4410, 0.9);
    left[5] = 2.0; // clipped to full scale, not wrapped
    left[6] = f32::NAN; // silence, not garbage
    let audio = Audio::new(44_100, vec![left.clone(), sine(300.0, 44_100, 4410, 0.3)]).unwrap();
    write_wav_pcm24(&path, &audio).unwrap();
    let spec = hound::WavReader::open(&path).unwrap().spec();
    assert_eq!(
        (spec.channels, spec.bits_per_sample, spec.sample_format),
        (2, 24, hound::SampleFormat::Int)
    );
    let back = read_file(&path).unwrap();
    assert_eq!((back.sample_rate, back.frames()), (44_100, 4410));
    for (a, b) in audio.channels.iter().zip(&back.channels) {
        for (x, y) in a.iter().zip(b).filter(|(x, _)| x.is_finite()) {
            assert!(
                (x.clamp(-1.0, 1.0) - y).abs() <= 1.5 / 8_388_608.0,
                "{x} vs {y}"
            );
        }
    }
    assert!(back.channels[0][5] > 0.999_999 && back.channels[0][6] == 0.0);

    // sox is what the issue names as the strict reader: it warned about our float header.
    if let Some(stats) = sox_stat(&path) {
        assert!(stats.contains("Samples read"), "{stats}");
    }
}

/// `sox FILE -n stat`'s report, after checking sox read the file without a warning; `None`
/// (with the reason printed) when sox cannot run here.
fn sox_stat(path: &std::path::Path) -> Option<String> {
    match std::process::Command::new("sox")
        .arg(path)
        .args(["-n", "stat"])
        .output()
    {
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(out.status.success(), "{stderr}");
            assert!(!stderr.contains("WARN"), "{stderr}");
            Some(stderr)
        }
        Err(e) => {
            eprintln!("skipped the sox check: sox could not run ({e})");
            None
        }
    }
}

#[test]
fn a_looping_clip_carries_smpl_and_acid_chunks_every_reader_steps_over() {
    use refrain_engine::audio::{append_loop_chunks, read_loop_chunks, LoopInfo};
    let dir = tempfile::tempdir().unwrap();
    // An odd frame count: 24-bit mono data of odd length needs the RIFF pad byte.
    let frames = 4411;
    let path = dir.path().join("loop.wav");
    let audio = Audio::from_mono(48_000, sine(220.0, 48_000, frames, 0.5));
    write_wav_pcm24(&path, &audio).unwrap();
    let info = LoopInfo {
        frames: frames as u32,
        sample_rate: 48_000,
        bpm: 97.5,
        beats: 14,
        meter: (7, 8),
    };
    append_loop_chunks(&path, &info).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let riff = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    assert_eq!(riff, bytes.len() - 8, "the RIFF size covers the new chunks");
    let back = read_loop_chunks(&bytes).unwrap();
    assert_eq!(
        (back.frames, back.beats, back.meter),
        (info.frames, 14, (7, 8))
    );
    assert_eq!(back.bpm, 97.5);
    assert!(back.sample_rate.abs_diff(48_000) <= 1);
    // The audio reads back unchanged through hound and symphonia.
    let reader = hound::WavReader::open(&path).unwrap();
    assert_eq!(reader.len() as usize, frames);
    assert_eq!(read_file(&path).unwrap().frames(), frames);
    if let Some(stats) = sox_stat(&path) {
        let read: Option<usize> = stats
            .lines()
            .find_map(|l| l.strip_prefix("Samples read:"))
            .and_then(|n| n.trim().parse().ok());
        assert_eq!(read, Some(frames), "{stats}");
    }
    // Not a WAV: refused, file untouched.
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, b"just some text, long enough").unwrap();
    assert!(append_loop_chunks(&text, &info).is_err());
    assert_eq!(
        std::fs::read(&text).unwrap(),
        b"just some text, long enough"
    );
}

/// The compressed fixtures are 0.5 s of 440 Hz at amplitude 0.5, 44.1 kHz
/// (scripts/make_audio_fixtures.sh).
fn check_fixture(name: &str, channels: usize) {
    let audio = read_file(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(audio.sample_rate, 44_100, "{name}");
    assert_eq!(audio.channels.len(), channels, "{name}");
    // Lossy codecs may add encoder delay/padding; a few ms either way is fine here.
    assert!(
        (audio.duration_secs() - 0.5).abs() < 0.06,
        "{name}: {} s",
        audio.duration_secs()
    );
    let mono = audio.mono();
    let f = freq_mid(&mono, 44_100);
    assert!((f - 440.0).abs() < 0.5, "{name}: {f} Hz");
    let amp = rms_mid(&mono) * 2f64.sqrt();
    assert!(db(amp / 0.5).abs() < 0.5, "{name}: amplitude {amp}");
}

#[test]
fn decodes_flac() {
    check_fixture("sine440.flac", 1);
}

#[test]
fn decodes_ogg_vorbis() {
    check_fixture("sine440.ogg", 2);
}

#[test]
fn decodes_mp3() {
    check_fixture("sine440.mp3", 1);
}

/// With a LAME/Xing header the encoder delay and padding are known and trimmed, so the song
/// starts on its first sample instead of ~50 ms late.
#[test]
fn mp3_with_a_gapless_header_decodes_to_its_exact_length_and_start() {
    let audio = read_file(&fixture("sine440_lame.mp3")).unwrap();
    let x = &audio.channels[0];
    assert_eq!(x.len(), 22_050);
    // The tone starts at phase 0 and rises: the first samples follow 0.5 sin(2π 440 t).
    for (i, &s) in x.iter().enumerate().take(20).skip(1) {
        let want = 0.5 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 44_100.0).sin();
        assert!((s - want).abs() < 0.05, "sample {i}: {s} vs {want}");
    }
    check_fixture("sine440_lame.mp3", 1);
}

#[test]
fn missing_file_error_names_the_path() {
    let path = Path::new("/definitely/not/here/song.mp3");
    let err = read_file(path).unwrap_err();
    assert!(matches!(err, AudioError::NotFound { .. }), "{err:?}");
    assert!(
        err.to_string().contains("/definitely/not/here/song.mp3"),
        "{err}"
    );
}

#[test]
fn random_bytes_are_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = support::garbage(8192);
    for name in ["noise.wav", "noise.flac", "noise.ogg", "noise", "noise.txt"] {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let err = read_file(&path).expect_err(name);
        assert!(err.to_string().contains(name), "{name}: {err}");
    }
    let text = dir.path().join("notes.wav");
    std::fs::write(&text, b"this is not audio at all").unwrap();
    assert!(matches!(
        read_file(&text),
        Err(AudioError::Unsupported { .. })
    ));
}

#[test]
fn zero_length_wav_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.wav");
    write_wav(&path, &Audio::new(44_100, vec![vec![]]).unwrap()).unwrap();
    let err = read_file(&path).unwrap_err();
    assert!(
        matches!(
            err,
            AudioError::Empty { .. } | AudioError::Unsupported { .. }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("empty.wav"), "{err}");
}

#[test]
fn resample_keeps_frequency_amplitude_and_length() {
    let input = sine(1000.0, 48_000, 48_000 * 2, 0.5);
    let out = resample(&input, 48_000, 22_050).unwrap();
    assert_eq!(out.len(), 44_100);
    let f = freq_mid(&out, 22_050);
    assert!((f - 1000.0).abs() < 0.05, "{f} Hz");
    let gain = db(rms_mid(&out) / rms_mid(&input));
    assert!(gain.abs() < 0.1, "{gain} dB");
}

#[test]
fn resample_removes_content_above_the_new_nyquist() {
    // 15 kHz cannot exist at 22.05 kHz; it must vanish, not fold down to 7.05 kHz.
    let input = sine(15_000.0, 48_000, 48_000, 0.5);
    let out = resample(&input, 48_000, 22_050).unwrap();
    let residual = db(rms_mid(&out) / rms_mid(&input));
    assert!(residual < -100.0, "alias at {residual} dB");
}

#[test]
fn resample_is_time_aligned() {
    let pairs = [
        (48_000, 22_050),
        (44_100, 22_050),
        (22_050, 44_100),
        (44_100, 48_000),
        (22_050, 48_000),
        (8_000, 192_000),
        (192_000, 8_000),
        (44_101, 22_050),
    ];
    for (from, to) in pairs {
        let len = from as usize; // 1 s
        for pos in [len / 10, len / 2 + 7, len - len / 10 - 3] {
            let mut imp = vec![0.0f32; len];
            imp[pos] = 1.0;
            let out = resample(&imp, from, to).unwrap();
            let expected = pos as f64 * f64::from(to) / f64::from(from);
            let got = argmax_abs(&out) as f64;
            assert!(
                (got - expected).abs() <= 1.0,
                "{from}->{to}: click at {pos} went to {got}, expected {expected:.2}"
            );
        }
    }
}

#[test]
fn resample_extreme_rates() {
    let up = resample(&sine(1000.0, 8_000, 8_000, 0.5), 8_000, 192_000).unwrap();
    assert_eq!(up.len(), 192_000);
    assert!((freq_mid(&up, 192_000) - 1000.0).abs() < 0.05);
    assert!(db(rms_mid(&up) / (0.5 / 2f64.sqrt())).abs() < 0.1);
    let down = resample(&sine(1000.0, 192_000, 192_000, 0.5), 192_000, 8_000).unwrap();
    assert_eq!(down.len(), 8_000);
    assert!((freq_mid(&down, 8_000) - 1000.0).abs() < 0.05);
    assert!(db(rms_mid(&down) / (0.5 / 2f64.sqrt())).abs() < 0.1);
}

#[test]
fn resample_edge_cases() {
    let x = sine(440.0, 44_100, 1000, 0.5);
    assert_eq!(resample(&x, 44_100, 44_100).unwrap(), x);
    assert!(matches!(
        resample(&x, 0, 44_100),
        Err(AudioError::InvalidSampleRate { rate: 0 })
    ));
    assert!(matches!(
        resample(&x, 44_100, 0),
        Err(AudioError::InvalidSampleRate { rate: 0 })
    ));
    assert!(resample(&[], 44_100, 22_050).unwrap().is_empty());
    assert_eq!(resample(&[0.5], 44_100, 22_050).unwrap().len(), 1); // round(0.5) = 1 (half up)
    assert_eq!(resample(&[0.5; 3], 48_000, 8_000).unwrap().len(), 1); // round(0.5)
}

#[test]
fn resample_audio_keeps_channels_apart() {
    let audio = Audio::new(
        44_100,
        vec![sine(500.0, 44_100, 44_100, 0.5), vec![0.0; 44_100]],
    )
    .unwrap();
    let out = resample_audio(&audio, 22_050).unwrap();
    assert_eq!(
        (out.sample_rate, out.channels.len(), out.frames()),
        (22_050, 2, 22_050)
    );
    assert!(db(rms_mid(&out.channels[0]) / rms_mid(&audio.channels[0])).abs() < 0.1);
    assert!(
        out.channels[1].iter().all(|s| s.abs() < 1e-6),
        "crosstalk into the silent channel"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn resample_length_is_always_exact(
        len in 0usize..6000,
        from in prop::sample::select(vec![8_000u32, 11_025, 16_000, 22_050, 32_000, 44_100, 48_000, 96_000, 192_000, 37_123]),
        to in prop::sample::select(vec![8_000u32, 11_025, 16_000, 22_050, 32_000, 44_100, 48_000, 96_000, 192_000, 29_989]),
    ) {
        let x = vec![0.25f32; len];
        let out = resample(&x, from, to).unwrap();
        let expected = ((len as u128 * u128::from(to) + u128::from(from) / 2) / u128::from(from)) as usize;
        prop_assert_eq!(out.len(), expected);
    }
}

#[test]
fn sanitize_replaces_non_finite() {
    let mut x = [0.5, f32::NAN, f32::INFINITY, -0.25, f32::NEG_INFINITY, 0.0];
    assert_eq!(sanitize(&mut x), 3);
    assert_eq!(x, [0.5, 0.0, 0.0, -0.25, 0.0, 0.0]);
    assert_eq!(sanitize(&mut x), 0);
}

#[test]
fn fit_length_pads_and_trims() {
    assert_eq!(fit_length(&[1.0, 2.0, 3.0], 2), vec![1.0, 2.0]);
    assert_eq!(fit_length(&[1.0, 2.0], 4), vec![1.0, 2.0, 0.0, 0.0]);
    assert_eq!(fit_length(&[1.0], 1), vec![1.0]);
    assert!(fit_length(&[1.0], 0).is_empty());
}

#[test]
fn loudest_window_finds_the_loud_part() {
    let mut x = vec![0.01f32; 10_000];
    x[6_000..7_000].iter_mut().for_each(|s| *s = 0.9);
    // Hop 500 hits the loud block exactly.
    assert_eq!(loudest_window(&x, 1_000, 500), 6_000);
    // Hop 1 finds it exactly; a coarse hop finds the best start on its grid.
    assert_eq!(loudest_window(&x, 1_000, 1), 6_000);
    assert_eq!(loudest_window(&x, 3_000, 4_000), 4_000);
    // The last full window is always a candidate, even off the hop grid.
    let mut tail = vec![0.0f32; 10_000];
    tail[9_500..].iter_mut().for_each(|s| *s = 1.0);
    assert_eq!(loudest_window(&tail, 500, 3_000), 9_500);
    // Short input, zero length, silent input, NaN-laden input.
    assert_eq!(loudest_window(&x[..10], 1_000, 100), 0);
    assert_eq!(loudest_window(&x, 0, 100), 0);
    assert_eq!(loudest_window(&[0.0; 100], 10, 0), 0);
    let mut nan = vec![0.1f32; 100];
    nan[5] = f32::NAN;
    nan[80..90].iter_mut().for_each(|s| *s = 0.5);
    assert_eq!(loudest_window(&nan, 10, 1), 80);
}

/// Reproduces the resampler measurements quoted in `engine::audio::resample`'s doc comment.
/// Run: `cargo test -p refrain-engine --release --test audio -- --ignored --nocapture measure`.
#[test]
#[ignore]
fn measure_resampler_quality() {
    use rubato::audioadapter_buffers::direct::SequentialSliceOfVecs;
    use rubato::{Async, FixedAsync, Resampler, SincInterpolationParameters, WindowFunction};
    let (from, to, n) = (48_000u32, 22_050u32, 6 * 48_000);
    let sinc = |x: &[Vec<f32>]| -> Vec<f32> {
        let p = SincInterpolationParameters::new(256, WindowFunction::BlackmanHarris2)
            .oversampling_factor(256);
        let ratio = f64::from(to) / f64::from(from);
        let mut r =
            Async::<f32>::new_sinc(ratio, 1.0, &p, 1024, x.len(), FixedAsync::Input).unwrap();
        let input = SequentialSliceOfVecs::new(x, x.len(), n).unwrap();
        let out = r.process_all(&input, n, None).unwrap().take_data();
        out.iter().step_by(x.len()).copied().collect()
    };
    let ours = |x: &[Vec<f32>]| -> Vec<f32> {
        let a = Audio::new(from, x.to_vec()).unwrap();
        resample_audio(&a, to).unwrap().channels.swap_remove(0)
    };
    for (name, f) in [
        ("fft (chosen)", &ours as &dyn Fn(&[Vec<f32>]) -> Vec<f32>),
        ("sinc256", &sinc),
    ] {
        let stereo = vec![sine(1000.0, from, n, 0.5), sine(3000.0, from, n, 0.5)];
        let t = std::time::Instant::now();
        let _ = f(&stereo);
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let mut line = format!("{name}: 6 s stereo in {ms:.1} ms;");
        for tone in [
            1000.0, 8000.0, 10_000.0, 10_500.0, 10_750.0, 11_000.0, 11_025.0, 11_300.0, 11_500.0,
            15_000.0, 23_000.0,
        ] {
            let x = sine(tone, from, n, 0.5);
            let y = f(&[x.clone(), x.clone()]);
            line += &format!(" {tone}:{:.2}", db(rms_mid(&y) / rms_mid(&x)));
        }
        println!("{line}");
    }
}
