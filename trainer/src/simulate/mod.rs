//! Simulated producers (issue 7 item 6, issue 14): the whole loop — generate, rate, select,
//! fine-tune, publish, reload — with virtual raters sharing a hidden taste (a built-in one from
//! `taste.rs` or an external scorer), plus spammers, and the ablations the paper left open
//! (confidence fixed to 1, no selection).
//!
//! Every arm starts from the same base in its own data dir and hears the same requests, so the
//! arms differ only in the rule switched off. Round 0 renders two seeds per request (a pair for a
//! preference objective); after the first fine-tune each round also renders every request
//! through the base (stored as blind baseline clips) for the win rate and the diversity ratio,
//! and pairs each clip with it (`Pairs::Base`) or with a second seed of the current version
//! (`Pairs::Within`, the base's clip then rated for the win rate only).
pub mod metrics;
pub mod rater;
pub mod round;
pub mod scorer;
pub mod taste;

use crate::finetune::{
    train_next_version, Confidence, FinetuneError, FinetuneOptions, FitParams, Objective,
};
use crate::synth::{render_loop, LoopSpec};
use metrics::{Goals, VersionMetrics};
use refrain_engine::audio::Audio;
use refrain_engine::feedback::{FeedbackError, FeedbackStore, NewSong, SongAudio};
use refrain_engine::model::{Model, ModelOptions, Provider};
use refrain_engine::pipeline::{Pipeline, PipelineError, Timings};
use round::{generate_round, rate_round, requests, Generation, Pairs, Song};
use scorer::Scorer;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use taste::Taste;

/// Which learning rule an arm switches off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Arm {
    /// Everything on (docs/ARCHITECTURE.md §4.4).
    Full,
    /// Confidence weight fixed to 1.
    FixedConfidence,
    /// No genetic selection or purge: every accepted clip trains.
    NoSelection,
}

/// Settings of a simulation.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// The version every arm starts from.
    pub base: PathBuf,
    /// Work directory: one data dir per arm, and `simulate.json`.
    pub out: PathBuf,
    /// Fine-tunes per arm.
    pub iterations: usize,
    /// Requests per round (each rated twice: two seeds in round 0, then with its baseline twin).
    pub requests: usize,
    /// Synthesised conditioning songs.
    pub songs: usize,
    /// Honest raters and spammers.
    pub honest: usize,
    /// See `honest`.
    pub spammers: usize,
    /// Rating noise (utility units).
    pub noise: f32,
    /// Generation settings.
    pub generation: Generation,
    /// Fine-tune settings.
    pub fit: FitParams,
    /// What each fine-tune learns from.
    pub objective: Objective,
    /// What each stored clip is paired with after round 0.
    pub pairs: Pairs,
    /// What the honest raters like.
    pub scorer: Scorer,
    /// Arms to run.
    pub arms: Vec<Arm>,
    /// Seed of songs' choice, requests and ratings.
    pub seed: u64,
    /// ONNX Runtime intra-op threads.
    pub threads: usize,
}

/// Why a simulation stopped.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Generation failed.
    #[error("generation: {0}")]
    Pipeline(#[from] PipelineError),
    /// Loading a model failed.
    #[error("model: {0}")]
    Model(#[from] refrain_engine::model::ModelError),
    /// The store failed.
    #[error("feedback store: {0}")]
    Store(#[from] FeedbackError),
    /// A fine-tune failed for a reason other than "nothing to learn" or the guard.
    #[error("fine-tune: {0}")]
    Finetune(#[from] FinetuneError),
    /// Bad settings or an unexpected state.
    #[error("{0}")]
    Invalid(String),
}

/// One arm's results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArmReport {
    /// The arm.
    pub arm: Arm,
    /// What the raters liked (`Scorer::describe`).
    pub taste: String,
    /// The taste pinned to round 0.
    pub pinned: Taste,
    /// What each fine-tune learned from.
    pub objective: Objective,
    /// What each stored clip was paired with after round 0 (runs before this field: the base).
    #[serde(default)]
    pub pairs: Pairs,
    /// One entry per round (version rated in it).
    pub versions: Vec<VersionMetrics>,
    /// The goals on this arm.
    pub goals: Goals,
    /// Its data dir (store + versions), for `refrain-trainer report --data-dir`.
    pub data_dir: PathBuf,
}

/// The conditioning songs: synthesised 4-bar loops over tempos, keys and modes.
fn song_specs(n: usize, seed: u64, sample_rate: u32) -> Vec<LoopSpec> {
    (0..n)
        .map(|i| LoopSpec {
            bpm: [92.0, 104.0, 116.0, 128.0, 140.0][i % 5],
            bars: 4,
            key_root_midi: 45 + ((i * 5) % 12) as u8,
            minor: i % 2 == 0,
            seed: seed.wrapping_add(i as u64 * 7919),
            sample_rate,
        })
        .collect()
}

fn load(dir: &Path, threads: usize) -> Result<Pipeline, SimError> {
    let options = ModelOptions {
        provider: Provider::Cpu,
        intra_threads: threads,
        warm_up: false,
    };
    Ok(Pipeline::new(Model::load(dir, options)?)?)
}

/// Adds the songs to `store` with their latents from `pipe`'s encoder.
fn add_songs(
    store: &mut FeedbackStore,
    pipe: &mut Pipeline,
    specs: &[LoopSpec],
) -> Result<Vec<Song>, SimError> {
    let config = pipe.model().manifest().audio.clone();
    let mut songs = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        let audio: Audio = render_loop(spec);
        let name = format!("loop-{i}");
        // Rendered at the model rate, so the window is the loop's first 5.94 s as is.
        let mut window = audio.mono();
        window.resize(config.window_samples(), 0.0);
        let latent = pipe.encode_window(&window, &mut Timings::default())?;
        let id = store.add_song(NewSong {
            source: format!("simulated {} bpm loop", spec.bpm),
            sample_rate: audio.sample_rate,
            duration_s: audio.frames() as f64 / f64::from(audio.sample_rate),
            wav: SongAudio::Samples(audio.mono()),
            latent,
        })?;
        songs.push(Song { id, name, audio });
    }
    Ok(songs)
}

/// The data dir of one run under `options.out`: taste, objective and arm.
pub fn run_dir(options: &SimOptions, arm: Arm) -> PathBuf {
    let objective = format!("{:?}", options.objective).to_lowercase();
    let arm = format!("{arm:?}").to_lowercase();
    let pairs = match options.pairs {
        Pairs::Base => "",
        Pairs::Within => "-within",
    };
    options.out.join(format!(
        "{}-{objective}-{arm}{pairs}",
        options.scorer.name()
    ))
}

/// Runs one arm from a fresh data dir under `options.out`.
pub fn run_arm(options: &SimOptions, arm: Arm) -> Result<ArmReport, SimError> {
    if options.iterations == 0 || options.requests == 0 || options.songs == 0 || options.honest == 0
    {
        return Err(SimError::Invalid(
            "iterations, requests, songs and honest raters must be at least 1".into(),
        ));
    }
    let data = run_dir(options, arm);
    if data.exists() {
        std::fs::remove_dir_all(&data)
            .map_err(|e| SimError::Invalid(format!("{}: {e}", data.display())))?;
    }
    let mut store = FeedbackStore::open(&data)?;
    let mut base = load(&options.base, options.threads)?;
    let rate = base.model().manifest().audio.sample_rate;
    let songs = add_songs(
        &mut store,
        &mut base,
        &song_specs(options.songs, options.seed, rate),
    )?;
    let g = options.generation;
    let mut fo = FinetuneOptions::new(data.clone(), options.base.clone());
    fo.fit = options.fit.clone();
    fo.objective = options.objective;
    fo.confidence = if arm == Arm::FixedConfidence {
        Confidence::Fixed
    } else {
        Confidence::Weighted
    };
    fo.select.genetic = arm != Arm::NoSelection;

    let mut versions: Vec<VersionMetrics> = Vec::new();
    let mut taste = None;
    // The version being rated, and what the fine-tune that made it reported.
    let mut current: Option<Pipeline> = None;
    let mut made_by: Option<(usize, (f32, f32), f64)> = None;
    // The same requests (songs, weights, seeds) every round: each version is heard on the same
    // material, so the mean rating compares versions rather than request sets (with fresh
    // requests per round it moved by ±0.4 stars between two identical models).
    let reqs = requests(options.seed, options.requests, songs.len());
    for round in 0..=options.iterations {
        let clips = match current.as_mut() {
            Some(pipe) => generate_round(
                pipe,
                Some(&mut base),
                &mut store,
                &songs,
                &reqs,
                g,
                &options.scorer,
                options.pairs,
            )?,
            None => generate_round(
                &mut base,
                None,
                &mut store,
                &songs,
                &reqs,
                g,
                &options.scorer,
                options.pairs,
            )?,
        };
        let t = *taste.get_or_insert_with(|| Taste::from_scores(&clips.scores()));
        let raters = rater::panel(options.honest, options.spammers, t, options.noise);
        let mut m = rate_round(&mut store, &clips, &raters, options.seed ^ round as u64)?;
        m.pool = made_by.map(|(pool, _, _)| pool);
        m.guard = made_by.map(|(_, guard, _)| guard);
        m.finetune_s = made_by.map(|(_, _, s)| s);
        tracing::info!(?arm, round, version = m.version, mean_rating = ?m.mean_rating, win_rate = ?m.win_rate, "round rated");
        if round < options.iterations {
            let began = std::time::Instant::now();
            match train_next_version(&fo) {
                Ok(report) => {
                    current = Some(load(&report.dir, options.threads)?);
                    made_by = Some((
                        report.pool,
                        (report.fit.guard_before, report.fit.guard_after),
                        began.elapsed().as_secs_f64(),
                    ));
                }
                // The loop goes on with the same version, as `watch` would.
                Err(e @ (FinetuneError::NothingToTrain(_) | FinetuneError::Forgetting { .. })) => {
                    m.no_version = Some(e.to_string());
                }
                Err(e) => return Err(e.into()),
            }
        }
        versions.push(m);
    }
    let goals = Goals::check(&versions);
    Ok(ArmReport {
        arm,
        taste: options.scorer.describe(),
        pinned: taste.unwrap_or(Taste {
            pivot: 0.0,
            width: 0.0,
        }),
        objective: options.objective,
        pairs: options.pairs,
        versions,
        goals,
        data_dir: data,
    })
}
