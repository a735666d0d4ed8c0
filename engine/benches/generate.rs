//! Generation benchmark: one 5.94 s variation end to end (strength 0.5, 50 steps, so 25 UNet
//! calls) with a per-stage breakdown, with Detail off (0: one decoder call, like for like with
//! diffusers) and at its default (one more decoder call: the song's own round trip); and, when a
//! Python with torch and diffusers is found (`scripts/bench_diffusers.py`), in the same run:
//! - the same DDIM loop with a diffusers UNet2DModel: without `$REFRAIN_BENCH_REPO` one of about
//!   the same parameter count and FLOPs on the same latent shape; with it, that repo's own UNet;
//! - the whole variation in diffusers on the same 5.94 s window (mel, VAE encode, the loop, VAE
//!   decode, Griffin-Lim 32): with `$REFRAIN_BENCH_REPO`, that repo's AudioDiffusionPipeline
//!   (`start_step = steps · (1 − strength)`); without, the pipeline's steps with diffusers parts of
//!   the base's sizes.
//!
//! The ratios printed: UNet loop torch ÷ Refrain, and whole variation Refrain ÷ diffusers, also
//! "song cached": the same request timed again with the song's encoding (and Detail residual)
//! kept by the pipeline's song cache, what each further variation of a captured song costs; the
//! main figures clear the cache before every run.
//!
//! Model: `$REFRAIN_BENCH_MODEL`, else `models/base`. Reference repo: `$REFRAIN_BENCH_REPO` (the
//! diffusers repo that model was imported from; `cargo xtask bench generate` sets both for the
//! published-size config). Runs: `$REFRAIN_BENCH_RUNS` (median of that many after a warm-up,
//! default 5). Provider: `$REFRAIN_BENCH_PROVIDER` (auto/cpu/cuda, default cpu). Threads:
//! `$REFRAIN_BENCH_THREADS`, else every core, given to ONNX Runtime (intra-op) and to torch
//! alike. Python: `$REFRAIN_BENCH_PYTHON`, else the virtualenv `cargo xtask bench-env` makes,
//! else `python3`. Run with `cargo xtask bench generate`.
//! Targets: (issue 5, base) ≤ 1.0 s end to end on the 2-core CPU, UNet loop ≥ 2× faster than
//! torch; (issue 6, published size) whole variation ≤ 0.5× the diffusers pipeline's time (caching
//! a song's encoding across variations allowed), UNet loop ≥ 2× faster than torch.
use refrain_engine::audio::{read_file, Audio};
use refrain_engine::ddim::{Ddim, Sampler};
use refrain_engine::model::{Model, ModelOptions, Provider};
use refrain_engine::pipeline::detail::DEFAULT_DETAIL;
use refrain_engine::pipeline::{prepare, GenerateRequest, Pipeline, SongInput, Timings};
use refrain_engine::spectrogram::AudioConfig;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

#[path = "generate/reference.rs"]
mod reference;
use reference::{diffusers_mel_matches, reference, Reference};

const DEFAULT_RUNS: usize = 5;
const STEPS: usize = 50;
const STRENGTH: f64 = 0.5;

/// One Refrain configuration: the median run by wall time.
struct Measured {
    detail: f64,
    /// `Pipeline::generate` wall time.
    wall: f64,
    /// That run's stages.
    t: Timings,
    /// The median wall time of the same request again, the song's encoding kept by the
    /// pipeline from the run before (what each further variation of a captured song costs).
    cached_wall: f64,
}

impl Measured {
    /// The song's stages: resample in, mel, encode, and with Detail the song's own decode (one
    /// of the two equal decoder calls the decode stage holds).
    fn song_s(&self) -> f64 {
        let own_decode = if self.detail > 0.0 {
            self.t.decode / 2.0
        } else {
            0.0
        };
        self.t.resample_in + self.t.mel + self.t.encode + own_decode
    }

    /// What a further variation of the same song costs: measured with the engine's song cache.
    fn cached_s(&self) -> f64 {
        self.cached_wall
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::env::var_os("REFRAIN_BENCH_MODEL")
        .map_or_else(|| root.join("models/base"), PathBuf::from);
    let repo = std::env::var_os("REFRAIN_BENCH_REPO")
        .filter(|r| !r.is_empty())
        .map(PathBuf::from);
    let runs = std::env::var("REFRAIN_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_RUNS);
    let provider: Provider = std::env::var("REFRAIN_BENCH_PROVIDER")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(Provider::Cpu);
    // One explicit count for both sides, so the ratio compares runtimes, not core counts. On
    // the 2-core VM it equals ONNX Runtime's own default (one thread per physical core).
    let threads = std::env::var("REFRAIN_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if !dir.join("manifest.json").is_file() {
        println!(
            "skipped: no model at {} (train/export one, or set REFRAIN_BENCH_MODEL)",
            dir.display()
        );
        return;
    }
    let options = ModelOptions {
        provider,
        intra_threads: threads,
        warm_up: true,
    };
    let load_started = Instant::now();
    let model = match Model::load(&dir, options) {
        Ok(m) => m,
        Err(e) => return println!("cannot load {}: {e}", dir.display()),
    };
    let load_s = load_started.elapsed().as_secs_f64();
    let (name, version, used) = (
        model.manifest().name.clone(),
        model.manifest().version,
        model.provider(),
    );
    let latent = model.manifest().latent;
    let config = model.manifest().audio.clone();
    // The timesteps the pipeline runs, so the reference is checked against the same loop.
    let ours: Vec<usize> = match Sampler::from_manifest(model.manifest()).and_then(|sampler| {
        Ok(Ddim::new(sampler.schedule(), STEPS)?
            .img2img_timesteps(STRENGTH)?
            .to_vec())
    }) {
        Ok(ts) => ts,
        Err(e) => return println!("cannot build the DDIM schedule: {e}"),
    };
    let calls = ours.len();
    let mut pipeline = match Pipeline::new(model) {
        Ok(p) => p,
        Err(e) => return println!("cannot build the pipeline: {e}"),
    };
    // The bundled example (the trainer's synth renders it; the file is that render at 16 bits).
    let song: Audio = match read_file(&root.join("examples/loop.wav")) {
        Ok(audio) => audio,
        Err(e) => return println!("cannot read the example loop: {e}"),
    };
    let mut request = GenerateRequest {
        songs: vec![SongInput {
            name: "example".into(),
            audio: song,
            offset_s: None,
            weight: 1.0,
        }],
        strength: STRENGTH,
        detail: 0.0,
        steps: STEPS,
        eta: 0.0,
        seeds: vec![7],
        output_rate: 44_100,
        vocoder: None,
        fit: None,
    };
    let mut measured = Vec::new();
    for detail in [0.0, DEFAULT_DETAIL] {
        request.detail = detail;
        match measure(&mut pipeline, &request, runs) {
            Ok(m) => measured.push(m),
            Err(e) => return println!("generation failed: {e}"),
        }
    }
    println!(
        "model {name} v{version} ({}) on {used}, intra-op threads: {threads}; latent {}×{}×{}; loaded in {load_s:.1} s; median of {runs} runs after a warm-up",
        dir.display(),
        latent.channels,
        latent.height,
        latent.width
    );
    print_stages(&measured, calls, config.griffin_lim_iters);
    if repo.is_none() {
        let default = &measured[1];
        println!(
            "target (issue 5, base): ≤ 1000 ms end to end → {:.0} ms with Detail {DEFAULT_DETAIL}",
            default.wall * 1e3
        );
    }

    // The same window the pipeline used, for the diffusers pipeline (its Mel must match ours).
    let window = match prepare(&request.songs[0], &config, None) {
        Ok(prepared) => Some(prepared.window),
        Err(e) => {
            println!("reference pipeline: skipped, cannot prepare the window: {e}");
            None
        }
    };
    let window = window.filter(|_| {
        let same = diffusers_mel_matches(&config);
        if !same {
            println!("reference pipeline: skipped, the model's audio config is not diffusers' Mel(x_res=256, y_res=256)");
        }
        same
    });
    let shape = format!("{},{},{}", latent.channels, latent.height, latent.width);
    let setup = Reference {
        root: &root,
        dir: &dir,
        repo: repo.as_deref(),
        shape,
        threads,
        runs,
        ours: &ours,
    };
    reference(&setup, window.as_deref(), &measured);
}

/// Runs `request` once to warm up, then `runs` times; the median run by wall time.
fn measure(
    pipeline: &mut Pipeline,
    request: &GenerateRequest,
    runs: usize,
) -> Result<Measured, String> {
    let mut all: Vec<(f64, Timings)> = Vec::new();
    for _ in 0..runs + 1 {
        // Each timed run encodes its song, as the first request of a new capture does.
        pipeline.clear_song_cache();
        let started = Instant::now();
        let (_, t) = pipeline
            .generate(request, &mut |_| ControlFlow::Continue(()))
            .map_err(|e| e.to_string())?;
        all.push((started.elapsed().as_secs_f64(), t));
    }
    all.remove(0); // warm-up
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (wall, t) = all[runs / 2];
    // The song is in the cache from the last run: time the same request again.
    let mut cached: Vec<f64> = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        pipeline
            .generate(request, &mut |_| ControlFlow::Continue(()))
            .map_err(|e| e.to_string())?;
        cached.push(started.elapsed().as_secs_f64());
    }
    cached.sort_by(f64::total_cmp);
    Ok(Measured {
        detail: request.detail,
        wall,
        t,
        cached_wall: cached[runs / 2],
    })
}

/// One row of the stage table: its value in a measured configuration, in seconds.
type StageOf = fn(&Measured) -> f64;

/// The per-stage table, one column per Detail setting.
fn print_stages(measured: &[Measured], calls: usize, gl_iters: usize) {
    let heads: Vec<String> = measured
        .iter()
        .map(|m| {
            let default = if m.detail == DEFAULT_DETAIL {
                " (default)"
            } else {
                ""
            };
            format!("Detail {}{default}", m.detail)
        })
        .collect();
    print!("{:<58}", "stage, ms");
    for head in &heads {
        print!(" {head:>20}");
    }
    println!();
    let unet_label = format!("UNet, {calls} DDIM steps");
    let vocoder_label = format!("vocoder (inverse mel + Griffin-Lim {gl_iters})");
    let rows: [(&str, StageOf); 11] = [
        ("resample in", |m| m.t.resample_in),
        ("mel", |m| m.t.mel),
        ("encode", |m| m.t.encode),
        (unet_label.as_str(), |m| m.t.unet),
        ("decode (the variation [+ the song's round trip])", |m| {
            m.t.decode
        }),
        (vocoder_label.as_str(), |m| m.t.vocoder),
        ("resample out", |m| m.t.resample_out),
        ("sum of stages", |m| m.t.total()),
        ("end to end (Pipeline::generate, wall)", |m| m.wall),
        (
            "  of which the song (resample in, mel, encode [, decode])",
            |m| m.song_s(),
        ),
        ("  each further variation, song cached (measured)", |m| {
            m.cached_s()
        }),
    ];
    for (label, value) in rows {
        print!("{label:<58}");
        for m in measured {
            print!(" {:>20.1}", value(m) * 1e3);
        }
        println!();
    }
    print!("{:<58}", "UNet per step");
    for m in measured {
        print!(" {:>20.1}", m.t.unet * 1e3 / calls as f64);
    }
    println!();
}
