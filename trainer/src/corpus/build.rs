//! Building the corpus: decode, resample, slice into windows, skip silence, mel, quantise.
use super::cache::{CorpusManifest, CorpusWriter, SourceSummary, Split, WindowInfo};
use super::sources::AudioSource;
use super::CorpusError;
use crate::synth::{corpus_spec, render_loop};
use refrain_engine::audio;
use refrain_engine::spectrogram::{AudioConfig, Mel, MelTransform};
use std::path::{Path, PathBuf};

/// What to put in the corpus and how to slice it.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Output directory (written to `<out>.partial` first, then renamed).
    pub out: PathBuf,
    /// Audio configuration for the mels (the model's).
    pub audio: AudioConfig,
    /// Window stride as a fraction of the window (1.0 = no overlap).
    pub stride: f64,
    /// Every n-th file of each source is held out (whole files, so held-out music is unseen).
    pub heldout_every: usize,
    /// Windows quieter than this RMS (dBFS) are skipped: silence teaches nothing.
    pub min_rms_db: f32,
    /// Synthesised loops to add (varied tempo, key, mode and seed).
    pub synth_loops: usize,
}

impl BuildOptions {
    /// Defaults: no overlap, every 10th file held out, skip windows under −45 dBFS RMS.
    pub fn new(out: PathBuf, synth_loops: usize) -> Self {
        Self {
            out,
            audio: AudioConfig::default(),
            stride: 1.0,
            heldout_every: 10,
            min_rms_db: -45.0,
            synth_loops,
        }
    }
}

/// Windows cut from one file, ready to write.
struct FileWindows {
    windows: Vec<(Mel, f64)>,
    seconds: f64,
}

/// Builds the corpus from `sources` plus synthesised loops; returns its manifest.
pub fn build(
    sources: &[AudioSource],
    options: &BuildOptions,
) -> Result<CorpusManifest, CorpusError> {
    options.audio.validate()?;
    let partial = options.out.with_extension("partial");
    let _ = std::fs::remove_dir_all(&partial);
    let mut writer = CorpusWriter::create(&partial)?;
    let mut summaries = Vec::new();
    for source in sources {
        let results = process_files(&source.files, options);
        let mut summary = SourceSummary {
            name: source.name.clone(),
            licenses: source.licenses.clone(),
            copyright: source.copyright.display().to_string(),
            files: 0,
            windows: 0,
            heldout_windows: 0,
            duration_s: 0.0,
        };
        for (n, (file, result)) in source.files.iter().zip(results).enumerate() {
            let split = if n % options.heldout_every.max(1) == options.heldout_every.max(1) - 1 {
                Split::Heldout
            } else {
                Split::Train
            };
            let windows = match result {
                Ok(w) => w,
                Err(e) => {
                    tracing::warn!("skipping {}: {e}", file.display());
                    continue;
                }
            };
            summary.files += 1;
            summary.duration_s += windows.seconds;
            for (mel, offset_s) in windows.windows {
                summary.windows += 1;
                summary.heldout_windows += (split == Split::Heldout) as usize;
                let file = file.display().to_string();
                writer.push(
                    &mel,
                    WindowInfo {
                        source: source.name.clone(),
                        file,
                        offset_s,
                        split,
                    },
                )?;
            }
        }
        println!(
            "{}: {} files, {} windows",
            summary.name, summary.files, summary.windows
        );
        summaries.push(summary);
    }
    if options.synth_loops > 0 {
        summaries.push(add_synth(&mut writer, options)?);
    }
    let manifest = CorpusManifest {
        format_version: 1,
        audio: options.audio.clone(),
        windows: summaries.iter().map(|s| s.windows).sum(),
        heldout_windows: summaries.iter().map(|s| s.heldout_windows).sum(),
        duration_s: summaries.iter().map(|s| s.duration_s).sum(),
        sources: summaries,
    };
    writer.finish(&manifest)?;
    let _ = std::fs::remove_dir_all(&options.out);
    std::fs::rename(&partial, &options.out).map_err(|source| CorpusError::Io {
        path: options.out.clone(),
        source,
    })?;
    Ok(manifest)
}

/// Decodes and slices files on two threads (the machine has two cores), keeping file order.
fn process_files(
    files: &[PathBuf],
    options: &BuildOptions,
) -> Vec<Result<FileWindows, CorpusError>> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4);
    let chunk = files.len().div_ceil(workers).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|f| slice_file(f, options))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join().unwrap_or_else(|_| {
                    vec![Err(CorpusError::Inconsistent {
                        path: options.out.clone(),
                        reason: "a decoding thread panicked".into(),
                    })]
                })
            })
            .collect()
    })
}

fn slice_file(path: &Path, options: &BuildOptions) -> Result<FileWindows, CorpusError> {
    let song = audio::read_file(path).map_err(|e| CorpusError::Package {
        package: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut mono = song.mono();
    audio::sanitize(&mut mono);
    let rate = options.audio.sample_rate;
    let samples =
        audio::resample(&mono, song.sample_rate, rate).map_err(|e| CorpusError::Package {
            package: path.display().to_string(),
            reason: e.to_string(),
        })?;
    let mut transform = MelTransform::new(&options.audio)?;
    let len = options.audio.window_samples();
    let stride = ((len as f64 * options.stride) as usize).max(1);
    let mut windows = Vec::new();
    let mut start = 0;
    while start + len <= samples.len() {
        let window = &samples[start..start + len];
        if rms_db(window) >= options.min_rms_db {
            windows.push((transform.to_model(window)?, start as f64 / rate as f64));
        }
        start += stride;
    }
    Ok(FileWindows {
        seconds: windows.len() as f64 * options.audio.window_secs(),
        windows,
    })
}

fn add_synth(
    writer: &mut CorpusWriter,
    options: &BuildOptions,
) -> Result<SourceSummary, CorpusError> {
    let config = &options.audio;
    let mut transform = MelTransform::new(config)?;
    let mut summary = SourceSummary {
        name: "synth".into(),
        licenses: vec!["MIT (generated by refrain_trainer::synth, part of this repository)".into()],
        copyright: "trainer/src/synth.rs".into(),
        files: options.synth_loops,
        windows: 0,
        heldout_windows: 0,
        duration_s: 0.0,
    };
    for i in 0..options.synth_loops {
        let spec = corpus_spec(i, config.window_secs(), config.sample_rate);
        let mono = render_loop(&spec).mono();
        let split = if i % options.heldout_every.max(1) == 0 {
            Split::Heldout
        } else {
            Split::Train
        };
        summary.windows += 1;
        summary.heldout_windows += (split == Split::Heldout) as usize;
        summary.duration_s += config.window_secs();
        let file = format!(
            "bpm {} key {} {} seed {i}",
            spec.bpm,
            spec.key_root_midi,
            if spec.minor { "minor" } else { "major" }
        );
        writer.push(
            &transform.to_model(&mono)?,
            WindowInfo {
                source: "synth".into(),
                file,
                offset_s: 0.0,
                split,
            },
        )?;
    }
    println!("synth: {} loops", summary.windows);
    Ok(summary)
}

fn rms_db(x: &[f32]) -> f32 {
    let mean_square = x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32;
    10.0 * mean_square.max(1e-12).log10()
}
