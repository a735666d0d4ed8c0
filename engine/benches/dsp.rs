//! DSP benchmark: mel of one 5.94 s window, mel → audio (inverse mel + Griffin-Lim 32), and
//! resampling 6 s of 48 kHz stereo to 22.05 kHz. When python3 with librosa is importable, the
//! same three jobs run in librosa in the same run and the Rust/librosa ratios are printed.
//!
//! Run with `cargo xtask bench dsp` (or `cargo bench -p refrain-engine --bench dsp`).
//! Targets (issue 3): mel ≥ 5× faster than librosa, mel → audio ≥ 10× faster.
use refrain_engine::audio::{resample_audio, Audio};
use refrain_engine::spectrogram::{AudioConfig, MelTransform};
use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const REPEATS: usize = 15;

fn signal(n: usize, sr: f32, seed: u64) -> Vec<f32> {
    let mut state = seed;
    (0..n)
        .map(|i| {
            let t = i as f32 / sr;
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let noise = ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5;
            0.2 * (2.0 * std::f32::consts::PI * 220.0 * t).sin()
                + 0.2 * (2.0 * std::f32::consts::PI * 330.0 * t).sin()
                + 0.1 * noise
        })
        .collect()
}

/// Median wall time per run: three warm-up runs, then runs until 1.5 s or 200 runs have passed
/// (at least `REPEATS`), so millisecond jobs get enough samples to ride out scheduler noise.
fn median_secs(mut job: impl FnMut()) -> f64 {
    for _ in 0..3 {
        job();
    }
    let started = Instant::now();
    let mut times = Vec::new();
    while times.len() < REPEATS || (started.elapsed().as_secs_f64() < 1.5 && times.len() < 200) {
        let start = Instant::now();
        job();
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(|a, b| a.total_cmp(b));
    times[times.len() / 2]
}

fn librosa_times() -> Result<serde_json::Value, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/bench_librosa.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(REPEATS.to_string())
        .output()
        .map_err(|e| format!("python3 not runnable: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "librosa benchmark did not run: {}",
            err.lines().last().unwrap_or("")
        ));
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("bad output from {}: {e}", script.display()))
}

fn main() {
    let config = AudioConfig::default();
    let mut transform = match MelTransform::new(&config) {
        Ok(t) => t,
        Err(e) => return eprintln!("cannot build the mel transform: {e}"),
    };
    let window = signal(config.window_samples(), config.sample_rate as f32, 1);
    let mel = match transform.to_model(&window) {
        Ok(m) => m,
        Err(e) => return eprintln!("mel failed: {e}"),
    };
    let gl = transform.default_griffin_lim(0);
    let stereo = match Audio::new(
        48_000,
        vec![
            signal(6 * 48_000, 48_000.0, 2),
            signal(6 * 48_000, 48_000.0, 3),
        ],
    ) {
        Ok(a) => a,
        Err(e) => return eprintln!("cannot build the test audio: {e}"),
    };

    let rust = [
        (
            "mel (5.94 s window → [-1,1] mel)",
            median_secs(|| {
                black_box(transform.to_model(black_box(&window)).ok());
            }),
            "mel_s",
            5.0,
        ),
        (
            "mel → audio (NNLS + fast Griffin-Lim 32)",
            median_secs(|| {
                black_box(transform.from_model(black_box(&mel), gl).ok());
            }),
            "mel_to_audio_s",
            10.0,
        ),
        (
            "resample 6 s 48 kHz stereo → 22.05 kHz",
            median_secs(|| {
                black_box(resample_audio(black_box(&stereo), config.sample_rate).ok());
            }),
            "resample_s",
            0.0,
        ),
    ];

    let librosa = librosa_times();
    match &librosa {
        Ok(v) => println!(
            "reference: librosa {} in this run, same timing protocol (median)",
            v["librosa"]
        ),
        Err(why) => println!("reference: skipped, {why} (pip install librosa to compare)"),
    }
    println!(
        "{:<44} {:>10} {:>10} {:>8} {:>8}",
        "job", "rust ms", "librosa ms", "speedup", "target"
    );
    for (label, secs, key, target) in rust {
        let reference = librosa.as_ref().ok().and_then(|v| v[key].as_f64());
        let (lib_ms, speedup) = match reference {
            Some(r) => (format!("{:.2}", r * 1e3), format!("{:.1}x", r / secs)),
            None => ("-".into(), "-".into()),
        };
        let target = if target > 0.0 {
            format!(">= {target}x")
        } else {
            "-".into()
        };
        println!(
            "{label:<44} {:>10.2} {lib_ms:>10} {speedup:>8} {target:>8}",
            secs * 1e3
        );
    }
}
