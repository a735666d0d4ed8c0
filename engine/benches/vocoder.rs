//! Vocoder benchmark: every vocoder against Griffin-Lim 32 on the same mels of real music the
//! models never trained on, per clip family: spectral convergence, log-spectral distance,
//! multi-resolution STFT distance, onset correlation and time per 5.94 s window on this machine.
//!
//! `cargo xtask bench vocoder` lists the files (held-out corpus files, a Debian package outside
//! the corpus, the synth loop; `xtask/src/tasks/vocoder_set.rs`) and runs this with
//! `REFRAIN_VOCODER_SET` naming the list. Target (issue 13): ≥ 30 % lower multi-resolution STFT
//! distance than Griffin-Lim 32 at no more than its time, and worse on no family.
use refrain_engine::audio::{read_file, resample};
use refrain_engine::spectrogram::{AudioConfig, MelTransform, Quality, QualityMeter};
use refrain_engine::vocoder::{self, PghiVocoder, Vocoder, GRIFFIN_LIM, PGHI, PGHI_MOMENTUM};
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
    let mut rows = vec![
        row(
            &format!("{GRIFFIN_LIM} 32 (reference)"),
            vocoder::by_name(GRIFFIN_LIM, config),
        ),
        row(&format!("{PGHI} (default)"), vocoder::by_name(PGHI, config)),
    ];
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
        let mut v = self.millis.clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    }
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
    let started = Instant::now();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Some((family, path)) = line.split_once('\t') else {
            continue;
        };
        for (w, window) in windows(path, &config).into_iter().enumerate() {
            let mel = transform.to_model(&window).expect("window mel");
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
        "\nvocoder benchmark: {} s, 2-core times are medians per 5.94 s window (render only, mel given)",
        started.elapsed().as_secs()
    );
    for (family, tally) in &tallies {
        println!("\n{family} ({} windows)", tally[0].windows);
        println!(
            "| vocoder | spectral conv. | LSD dB | MR-STFT | vs GL32 | onset corr. | ms | vs GL32 |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        let (reference, reference_ms) = (tally[0].mean(), tally[0].median_ms());
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
                t.median_ms() / reference_ms
            );
        }
    }
}
