//! Generation benchmark: one 5.94 s variation end to end (strength 0.5, 50 steps, so 25 UNet
//! calls) with a per-stage breakdown; and, when python3 can import torch and diffusers, the same
//! DDIM loop with a diffusers UNet2DModel of about the same parameter count on the same latent
//! shape, timed in the same run, with the ratio printed.
//!
//! Model: `$REFRAIN_BENCH_MODEL`, else `models/base`. Provider: `$REFRAIN_BENCH_PROVIDER`
//! (auto/cpu/cuda, default cpu). Run with `cargo xtask bench generate`.
//! Targets (issue 5): ≤ 1.0 s end to end on the 2-core CPU; UNet loop ≥ 2× faster than torch.
use refrain_engine::audio::Audio;
use refrain_engine::model::{Model, ModelOptions, Provider};
use refrain_engine::pipeline::{GenerateRequest, Pipeline, SongInput, Timings};
use refrain_engine::synth::{example_spec, render_loop};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;

const RUNS: usize = 5;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::env::var_os("REFRAIN_BENCH_MODEL")
        .map_or_else(|| root.join("models/base"), PathBuf::from);
    let provider: Provider = std::env::var("REFRAIN_BENCH_PROVIDER")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(Provider::Cpu);
    if !dir.join("manifest.json").is_file() {
        println!(
            "skipped: no model at {} (train/export one, or set REFRAIN_BENCH_MODEL)",
            dir.display()
        );
        return;
    }
    let options = ModelOptions {
        provider,
        intra_threads: 0,
        warm_up: true,
    };
    let model = match Model::load(&dir, options) {
        Ok(m) => m,
        Err(e) => return println!("cannot load {}: {e}", dir.display()),
    };
    let (name, version, used) = (
        model.manifest().name.clone(),
        model.manifest().version,
        model.provider(),
    );
    let latent = model.manifest().latent;
    let mut pipeline = match Pipeline::new(model) {
        Ok(p) => p,
        Err(e) => return println!("cannot build the pipeline: {e}"),
    };
    let song: Audio = render_loop(&example_spec());
    let request = GenerateRequest {
        songs: vec![SongInput {
            name: "example".into(),
            audio: song,
            offset_s: None,
            weight: 1.0,
        }],
        strength: 0.5,
        steps: 50,
        eta: 0.0,
        seeds: vec![7],
        output_rate: 44_100,
    };
    let mut runs: Vec<Timings> = Vec::new();
    for _ in 0..RUNS + 1 {
        match pipeline.generate(&request, &mut |_| ControlFlow::Continue(())) {
            Ok((_, t)) => runs.push(t),
            Err(e) => return println!("generation failed: {e}"),
        }
    }
    runs.remove(0); // warm-up
    runs.sort_by(|a, b| a.total().total_cmp(&b.total()));
    let t = runs[RUNS / 2];
    println!(
        "model {name} v{version} on {used}; latent {}×{}×{}; median of {RUNS} runs",
        latent.channels, latent.height, latent.width
    );
    println!("{:<28} {:>10}", "stage", "ms");
    for (stage, secs) in [
        ("resample in", t.resample_in),
        ("mel", t.mel),
        ("encode", t.encode),
        ("UNet, 25 DDIM steps", t.unet),
        ("decode", t.decode),
        ("inverse mel + Griffin-Lim", t.griffin_lim),
        ("resample out", t.resample_out),
    ] {
        println!("{stage:<28} {:>10.1}", secs * 1e3);
    }
    println!(
        "{:<28} {:>10.1}   target ≤ 1000 ms",
        "end to end",
        t.total() * 1e3
    );
    println!("UNet per step: {:.1} ms", t.unet * 1e3 / 25.0);

    let script = root.join("scripts/bench_diffusers.py");
    let shape = format!("{},{},{}", latent.channels, latent.height, latent.width);
    match Command::new("python3")
        .arg(&script)
        .arg(&shape)
        .arg("25")
        .output()
    {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            match text.trim().parse::<f64>() {
                Ok(torch_s) => println!(
                    "reference: diffusers UNet2DModel DDIM loop (25 steps, same run) {:.1} ms → Refrain UNet loop is {:.2}× faster (target ≥ 2×)",
                    torch_s * 1e3,
                    torch_s / t.unet
                ),
                Err(_) => println!("reference: skipped ({})", text.trim()),
            }
        }
        Ok(out) => println!(
            "reference: skipped, {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("diffusers benchmark failed")
        ),
        Err(e) => println!("reference: skipped, python3 not runnable ({e})"),
    }
}
