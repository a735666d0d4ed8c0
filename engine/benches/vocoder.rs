//! Vocoder benchmark: every vocoder against Griffin-Lim 32 on the same mels of real music the
//! models never trained on, per clip family: spectral convergence, log-spectral distance,
//! multi-resolution STFT distance, onset correlation and time per 5.94 s window on this machine.
//!
//! `cargo xtask bench vocoder` lists the files (held-out corpus files, a Debian package outside
//! the corpus, the synth loop; `xtask/src/tasks/vocoder_set.rs`) and runs this with
//! `REFRAIN_VOCODER_SET` naming the list. Target (issue 13): ≥ 30 % lower multi-resolution STFT
//! distance than Griffin-Lim 32 at no more than its time, and worse on no family.
//! `REFRAIN_VOCODER_COMPARE=dir:dir…` adds a row for each other exported vocoder directory.
use refrain_engine::audio::{read_file, resample};
use refrain_engine::spectrogram::{
    griffin_lim_from, pghi_phase, AudioConfig, GriffinLim, MelTransform, PghiGeometry, Quality,
    QualityMeter, Spectrum, Stft, PGHI_TOLERANCE,
};
use refrain_engine::vocoder::neural::NeuralSpec;
use refrain_engine::vocoder::{
    self, PghiVocoder, PhaseInit, Vocoder, GRIFFIN_LIM, NEURAL, PGHI, PGHI_ITERS, PGHI_MOMENTUM,
};
use std::collections::BTreeMap;
use std::time::Instant;

/// Windows taken from each file, spread over it (a short file gives one, padded).
const WINDOWS_PER_FILE: usize = 8;
/// Windows quieter than this RMS (dBFS) are skipped, as the corpus skips them.
const SILENT_DBFS: f32 = -45.0;

struct Row {
    label: String,
    vocoder: Box<dyn Vocoder>,
}

fn rows(config: &AudioConfig) -> Vec<Row> {
    let default = |name: &str| {
        if name == vocoder::DEFAULT {
            " (default)"
        } else {
            ""
        }
    };
    let mut rows = vec![
        row(
            &format!("{GRIFFIN_LIM} 32 (reference){}", default(GRIFFIN_LIM)),
            vocoder::by_name(GRIFFIN_LIM, config),
        ),
        row(
            &format!("{PGHI}{}", default(PGHI)),
            vocoder::by_name(PGHI, config),
        ),
    ];
    // The neural vocoder from models/vocoder (or $REFRAIN_VOCODER_DIR, to compare a checkpoint).
    let dir = refrain_engine::locator::shipped_vocoder();
    match vocoder::NeuralVocoder::load(&dir, config) {
        Ok(v) => {
            let label = spec_label(v.spec());
            rows.push(row(
                &format!("{NEURAL} ({label}){}", default(NEURAL)),
                Ok(Box::new(v)),
            ));
            // The phase settings the export chose between (`refrain-trainer vocoder export`).
            for (init, iters, momentum) in [
                (PhaseInit::Pghi, 0, PGHI_MOMENTUM),
                (PhaseInit::Pghi, 4, PGHI_MOMENTUM),
                (PhaseInit::Pghi, 4, 0.99),
                (PhaseInit::Pghi, 32, PGHI_MOMENTUM),
                (PhaseInit::Random, 16, 0.99),
                (PhaseInit::Random, 24, 0.99),
                (PhaseInit::Random, 32, 0.99),
            ] {
                if let Ok(mut v) = vocoder::NeuralVocoder::load(&dir, config) {
                    v.set_phase(init, iters, momentum);
                    rows.push(row(
                        &format!("{NEURAL} ({})", phase_label(init, iters, momentum)),
                        Ok(Box::new(v)),
                    ));
                }
            }
        }
        Err(e) => println!("{NEURAL}: not measured ({e})"),
    }
    // Other exports in the same run (checkpoints, cheaper inversions): $REFRAIN_VOCODER_COMPARE,
    // a list of directories separated like PATH.
    let compare = std::env::var_os("REFRAIN_VOCODER_COMPARE").unwrap_or_default();
    for dir in std::env::split_paths(&compare).filter(|d| !d.as_os_str().is_empty()) {
        let name = dir.file_name().map_or_else(
            || dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        match vocoder::NeuralVocoder::load(&dir, config) {
            Ok(v) => {
                let label = spec_label(v.spec());
                rows.push(row(&format!("{NEURAL} {name} ({label})"), Ok(Box::new(v))));
            }
            Err(e) => println!("{NEURAL} {name}: not measured ({e})"),
        }
    }
    for (iters, momentum) in [
        (0, 0.0),
        (8, PGHI_MOMENTUM),
        (32, PGHI_MOMENTUM),
        (16, 0.99),
    ] {
        let v =
            PghiVocoder::tuned(config, iters, momentum).map(|v| Box::new(v) as Box<dyn Vocoder>);
        rows.push(row(
            &format!("{PGHI} + {iters} it, momentum {momentum}"),
            v.map_err(Into::into),
        ));
    }
    rows
}

/// A neural spec's phase settings, and its NNLS steps when it names them.
fn spec_label(spec: &NeuralSpec) -> String {
    let label = phase_label(spec.phase_init, spec.phase_iters, spec.phase_momentum);
    match spec.inverse_steps {
        Some(steps) => format!("{label}, NNLS {steps}"),
        None => label,
    }
}

/// "PGHI + 4 it, m 0.5" / "random + 24 it, m 0.99".
fn phase_label(init: PhaseInit, iters: usize, momentum: f32) -> String {
    let from = match init {
        PhaseInit::Pghi => "PGHI",
        PhaseInit::Random => "random",
    };
    format!("{from} + {iters} it, m {momentum}")
}

fn row(label: &str, v: Result<Box<dyn Vocoder>, vocoder::VocoderError>) -> Row {
    Row {
        label: label.to_string(),
        vocoder: v.unwrap_or_else(|e| panic!("{label}: {e}")),
    }
}

/// Up to [`WINDOWS_PER_FILE`] model-rate windows of the file, not silent.
fn windows(path: &str, config: &AudioConfig) -> Vec<Vec<f32>> {
    let audio = match read_file(std::path::Path::new(path)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("skipping {path}: {e}");
            return Vec::new();
        }
    };
    let mono = match resample(&audio.mono(), audio.sample_rate, config.sample_rate) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("skipping {path}: {e}");
            return Vec::new();
        }
    };
    let len = config.window_samples();
    let starts: Vec<usize> = if mono.len() <= len {
        vec![0]
    } else {
        let span = mono.len() - len;
        (0..WINDOWS_PER_FILE)
            .map(|k| span * (2 * k + 1) / (2 * WINDOWS_PER_FILE))
            .collect()
    };
    starts
        .into_iter()
        .map(|s| {
            let mut w = mono[s..(s + len).min(mono.len())].to_vec();
            w.resize(len, 0.0);
            w
        })
        .filter(|w| {
            let rms = (w.iter().map(|x| x * x).sum::<f32>() / w.len() as f32).sqrt();
            20.0 * rms.max(1e-12).log10() > SILENT_DBFS
        })
        .collect()
}

#[derive(Default)]
struct Tally {
    windows: usize,
    sum: Quality,
    millis: Vec<f64>,
}

impl Tally {
    fn add(&mut self, q: Quality, ms: f64) {
        self.windows += 1;
        self.sum.spectral_convergence += q.spectral_convergence;
        self.sum.log_spectral_distance += q.log_spectral_distance;
        self.sum.multi_resolution += q.multi_resolution;
        self.sum.onset_correlation += q.onset_correlation;
        self.millis.push(ms);
    }

    fn mean(&self) -> Quality {
        let n = self.windows.max(1) as f64;
        Quality {
            spectral_convergence: self.sum.spectral_convergence / n,
            log_spectral_distance: self.sum.log_spectral_distance / n,
            multi_resolution: self.sum.multi_resolution / n,
            onset_correlation: self.sum.onset_correlation / n,
        }
    }

    fn median_ms(&self) -> f64 {
        quantile(self.millis.clone(), 0.5)
    }

    /// Quartiles and median of this row's time over the reference's, window by window: both
    /// rendered the same window back to back, so a slow spell of the VM divides out.
    fn paired_time(&self, reference: &Tally) -> [f64; 3] {
        let ratios: Vec<f64> = self
            .millis
            .iter()
            .zip(&reference.millis)
            .map(|(a, b)| a / b)
            .collect();
        [0.25, 0.5, 0.75].map(|q| quantile(ratios.clone(), q))
    }
}

/// The `q` quantile (nearest rank) of `v`; NaN when empty.
fn quantile(mut v: Vec<f64>, q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * q).round() as usize;
    v.get(i).copied().unwrap_or(f64::NAN)
}

fn main() {
    let Some(set) = std::env::var_os("REFRAIN_VOCODER_SET") else {
        println!("vocoder benchmark skipped: REFRAIN_VOCODER_SET is not set (run `cargo xtask bench vocoder`, which lists the music)");
        return;
    };
    let text = std::fs::read_to_string(&set).unwrap_or_else(|e| panic!("{set:?}: {e}"));
    let config = AudioConfig::default();
    let mut transform = MelTransform::new(&config).expect("default config");
    let mut meter = QualityMeter::new(&config).expect("default config");
    let mut rows = rows(&config);
    let n_rows = rows.len();
    // family → row → tally; "all" gathers every window.
    let mut tallies: BTreeMap<String, Vec<Tally>> = BTreeMap::new();
    let mut oracles: BTreeMap<String, Tally> = BTreeMap::new();
    let mut stft = Stft::new(&config).expect("default config");
    let started = Instant::now();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Some((family, path)) = line.split_once('\t') else {
            continue;
        };
        for (w, window) in windows(path, &config).into_iter().enumerate() {
            let mel = transform.to_model(&window).expect("window mel");
            // The ceiling of every vocoder that predicts only the magnitude: the true one.
            let q = meter.measure(&window, &oracle(&window, &config, &mut stft, 1 + w as u64));
            for key in [family.to_string(), "all families".to_string()] {
                oracles.entry(key).or_default().add(q, 0.0);
            }
            for (r, row) in rows.iter_mut().enumerate() {
                let t = Instant::now();
                let audio = row.vocoder.render(&mel, 1 + w as u64).expect("render");
                let ms = t.elapsed().as_secs_f64() * 1e3;
                let q = meter.measure(&window, &audio);
                for key in [family.to_string(), "all families".to_string()] {
                    let tally = tallies
                        .entry(key)
                        .or_insert_with(|| (0..n_rows).map(|_| Tally::default()).collect());
                    tally[r].add(q, ms);
                }
            }
        }
    }
    println!(
        "\nvocoder benchmark: {} s, 2-core times are medians per 5.94 s window (render only, mel given); \
time vs GL32 is the median of each window's ratio (every row renders a window in the same pass)",
        started.elapsed().as_secs()
    );
    for (family, tally) in &tallies {
        println!("\n{family} ({} windows)", tally[0].windows);
        println!(
            "| vocoder | spectral conv. | LSD dB | MR-STFT | vs GL32 | onset corr. | ms | vs GL32 |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        let reference = tally[0].mean();
        for (row, t) in rows.iter().zip(tally) {
            let q = t.mean();
            println!(
                "| {} | {:.4} | {:.2} | {:.4} | {:.2}× | {:.3} | {:.0} | {:.2}× |",
                row.label,
                q.spectral_convergence,
                q.log_spectral_distance,
                q.multi_resolution,
                q.multi_resolution / reference.multi_resolution,
                q.onset_correlation,
                t.median_ms(),
                t.paired_time(&tally[0])[1]
            );
        }
        if let Some(o) = oracles.get(family) {
            let q = o.mean();
            println!(
                "| (ceiling: true magnitude, PGHI + {PGHI_ITERS} it) | {:.4} | {:.2} | {:.4} | {:.2}× | {:.3} | – | – |",
                q.spectral_convergence,
                q.log_spectral_distance,
                q.multi_resolution,
                q.multi_resolution / reference.multi_resolution,
                q.onset_correlation
            );
        }
    }
    verdict(&rows, &tallies);
}

/// Issue 13's target for each vocoder: ≥ 30 % lower MR-STFT distance than Griffin-Lim 32 over
/// all windows, at no more than its time (median of the per-window ratios), and worse on no family.
fn verdict(rows: &[Row], tallies: &BTreeMap<String, Vec<Tally>>) {
    let Some(all) = tallies.get("all families") else {
        return;
    };
    println!(
        "
target (≥ 30 % lower MR-STFT than GL32, no slower, worse on no family):"
    );
    for (r, row) in rows.iter().enumerate().skip(1) {
        let ratio = all[r].mean().multi_resolution / all[0].mean().multi_resolution;
        let [low, time, high] = all[r].paired_time(&all[0]);
        let worse: Vec<&str> = tallies
            .iter()
            .filter(|(f, t)| {
                f.as_str() != "all families"
                    && t[r].mean().multi_resolution > t[0].mean().multi_resolution
            })
            .map(|(f, _)| f.as_str())
            .collect();
        let met = ratio <= 0.7 && time <= 1.0 && worse.is_empty();
        println!(
            "  {}: MR-STFT {ratio:.2}×, time {time:.2}× (quartiles {low:.2}–{high:.2}), worse on {} → {}",
            row.label,
            if worse.is_empty() {
                "none".to_string()
            } else {
                worse.join(", ")
            },
            if met { "met" } else { "not met" }
        );
    }
}

/// The window rebuilt from its own STFT magnitude with PGHI phase and the PGHI vocoder's
/// iterations: no vocoder that predicts the magnitude from the mel can do better than this.
fn oracle(window: &[f32], config: &AudioConfig, stft: &mut Stft, seed: u64) -> Vec<f32> {
    let mut spectrum = Spectrum::default();
    stft.forward(window, &mut spectrum);
    let magnitude: Vec<f32> = spectrum.data.iter().map(|c| c.norm()).collect();
    let geometry = PghiGeometry {
        n_fft: config.n_fft,
        hop: config.hop_length,
        win_length: config.win_length,
    };
    let phases = pghi_phase(&magnitude, config.n_freqs(), geometry, PGHI_TOLERANCE, seed);
    let settings = GriffinLim {
        iters: PGHI_ITERS,
        momentum: PGHI_MOMENTUM,
        seed,
    };
    griffin_lim_from(stft, &magnitude, &phases, window.len(), settings)
}
