//! Generation benchmark: one 5.94 s variation end to end (strength 0.5, 50 steps, so 25 UNet
//! calls) with a per-stage breakdown; and, when a Python with torch and diffusers is found, the
//! same DDIM loop with a diffusers UNet2DModel of about the same parameter count on the same
//! latent shape (`scripts/bench_diffusers.py`), timed in the same run, with the ratio printed.
//!
//! Model: `$REFRAIN_BENCH_MODEL`, else `models/base`. Provider: `$REFRAIN_BENCH_PROVIDER`
//! (auto/cpu/cuda, default cpu). Threads: `$REFRAIN_BENCH_THREADS`, else every core, given to
//! ONNX Runtime (intra-op) and to torch alike. Python: `$REFRAIN_BENCH_PYTHON`, else the
//! virtualenv `cargo xtask bench-env` makes, else `python3`. Run with `cargo xtask bench generate`.
//! Targets (issue 5): ≤ 1.0 s end to end on the 2-core CPU; UNet loop ≥ 2× faster than torch.
use refrain_engine::audio::{read_file, Audio};
use refrain_engine::ddim::{Ddim, Sampler};
use refrain_engine::model::{Model, ModelOptions, Provider};
use refrain_engine::pipeline::detail::DEFAULT_DETAIL;
use refrain_engine::pipeline::{GenerateRequest, Pipeline, SongInput, Timings};
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;

const RUNS: usize = 5;
const STEPS: usize = 50;
const STRENGTH: f64 = 0.5;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::env::var_os("REFRAIN_BENCH_MODEL")
        .map_or_else(|| root.join("models/base"), PathBuf::from);
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
    let request = GenerateRequest {
        songs: vec![SongInput {
            name: "example".into(),
            audio: song,
            offset_s: None,
            weight: 1.0,
        }],
        strength: STRENGTH,
        detail: DEFAULT_DETAIL,
        steps: STEPS,
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
        "model {name} v{version} on {used}, intra-op threads: {threads}; latent {}×{}×{}; median of {RUNS} runs",
        latent.channels, latent.height, latent.width
    );
    println!("{:<28} {:>10}", "stage", "ms");
    let unet_label = format!("UNet, {calls} DDIM steps");
    for (stage, secs) in [
        ("resample in", t.resample_in),
        ("mel", t.mel),
        ("encode", t.encode),
        (unet_label.as_str(), t.unet),
        ("decode", t.decode),
        ("vocoder (Griffin-Lim)", t.vocoder),
        ("resample out", t.resample_out),
    ] {
        println!("{stage:<28} {:>10.1}", secs * 1e3);
    }
    println!(
        "{:<28} {:>10.1}   target ≤ 1000 ms",
        "end to end",
        t.total() * 1e3
    );
    println!("UNet per step: {:.1} ms", t.unet * 1e3 / calls as f64);

    let shape = format!("{},{},{}", latent.channels, latent.height, latent.width);
    reference(&root, &dir, shape, threads, &ours, t.unet);
}

/// The torch side: runs `scripts/bench_diffusers.py` and prints its sizes, loop and the ratio.
fn reference(root: &Path, dir: &Path, shape: String, threads: usize, ours: &[usize], unet_s: f64) {
    let (python, source) = reference_python();
    println!("reference interpreter: {} ({source})", python.display());
    let mut command = Command::new(&python);
    command
        .arg(root.join("scripts/bench_diffusers.py"))
        .arg(shape)
        .arg(STEPS.to_string())
        .arg(STRENGTH.to_string())
        .arg(threads.to_string())
        .arg(RUNS.to_string());
    // GNU OpenMP's default spin-wait made torch's 2-thread loop ~40× slower (1.9 s vs 49 ms per
    // call) on the 2-core VM while another process used the cores, which would flatter us.
    // Passive waiting costs torch little on a quiet machine; set OMP_WAIT_POLICY to override.
    let wait = std::env::var("OMP_WAIT_POLICY").unwrap_or_else(|_| "PASSIVE".into());
    command.env("OMP_WAIT_POLICY", &wait);
    let out = match command.output() {
        Ok(out) => out,
        Err(e) => {
            return println!(
                "reference: skipped, {} not runnable ({e}); `cargo xtask bench-env` makes a venv with torch and diffusers",
                python.display()
            )
        }
    };
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let reason = stderr
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("diffusers benchmark failed");
        return println!(
            "reference: skipped, because {reason}; `cargo xtask bench-env` makes a venv with torch and diffusers"
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once(' ')).collect();
    let number = |key: &str| fields.get(key).and_then(|v| v.trim().parse::<f64>().ok());
    let (Some(torch_s), Some(their_calls), Some(first_t)) =
        (number("seconds"), number("calls"), number("first_t"))
    else {
        return println!("reference: skipped, unexpected output: {}", text.trim());
    };
    let their_params = number("params").unwrap_or(f64::NAN);
    let our_params = onnx_parameters(&dir.join("unet.onnx")).map_or(f64::NAN, |n| n as f64);
    println!(
        "UNet parameters: Refrain {:.2} M (unet.onnx initializers), diffusers UNet2DModel {:.2} M",
        our_params / 1e6,
        their_params / 1e6
    );
    println!(
        "threads: ONNX Runtime {threads} intra-op, torch {} (set_num_threads, OMP_WAIT_POLICY={wait}); torch {}, diffusers {}",
        fields.get("threads").unwrap_or(&"?"),
        fields.get("torch").unwrap_or(&"?"),
        fields.get("diffusers").unwrap_or(&"?"),
    );
    if their_calls as usize != ours.len() || first_t as usize != ours[0] {
        return println!(
            "reference: skipped, the loops differ (ours {} calls from t={}, diffusers {their_calls} from t={first_t})",
            ours.len(),
            ours[0]
        );
    }
    println!(
        "reference: diffusers UNet2DModel DDIM loop ({} calls from t={}, same run) {:.1} ms → Refrain UNet loop is {:.2}× faster (target ≥ 2×)",
        ours.len(),
        ours[0],
        torch_s * 1e3,
        torch_s / unet_s
    );
}

/// The interpreter for the reference and where it came from: `$REFRAIN_BENCH_PYTHON`, else the
/// venv `cargo xtask bench-env` makes, else `python3` on PATH.
fn reference_python() -> (PathBuf, &'static str) {
    if let Some(python) = std::env::var_os("REFRAIN_BENCH_PYTHON").filter(|p| !p.is_empty()) {
        return (PathBuf::from(python), "$REFRAIN_BENCH_PYTHON");
    }
    // The same path as xtask's bench_env::venv_dir (xtask and the engine share no code).
    if let Some(home) = std::env::var_os("HOME") {
        let venv = Path::new(&home).join(".cache/refrain/bench-venv/bin/python");
        if venv.is_file() {
            return (venv, "venv from `cargo xtask bench-env`");
        }
    }
    (PathBuf::from("python3"), "python3 on PATH")
}

/// Elements in the fp32 initializers of an ONNX file (its parameter count), read with a minimal
/// protobuf walk: ModelProto.graph (7) → GraphProto.initializer (5) → TensorProto dims (1) and
/// data_type (2). The engine has no ONNX parser of its own and needs none besides this.
fn onnx_parameters(path: &Path) -> Option<u64> {
    let bytes = std::fs::read(path).ok()?;
    let mut total = 0;
    for (_, graph) in fields(&bytes)?.into_iter().filter(|f| f.0 == 7) {
        let Field::Bytes(graph) = graph else { continue };
        for (_, tensor) in fields(graph)?.into_iter().filter(|f| f.0 == 5) {
            let Field::Bytes(tensor) = tensor else {
                continue;
            };
            let (mut dims, mut float) = (Vec::new(), false);
            for (number, field) in fields(tensor)? {
                match (number, field) {
                    (1, Field::Varint(d)) => dims.push(d),
                    (1, Field::Bytes(mut packed)) => {
                        while !packed.is_empty() {
                            dims.push(varint(&mut packed)?);
                        }
                    }
                    (2, Field::Varint(kind)) => float = kind == 1,
                    _ => {}
                }
            }
            if float {
                total += dims.iter().product::<u64>();
            }
        }
    }
    Some(total)
}

/// A protobuf field's value, as far as [`onnx_parameters`] needs one.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

fn varint(buf: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buf.split_first()?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// The top-level fields of one message, or `None` when the bytes are not protobuf.
fn fields(mut buf: &[u8]) -> Option<Vec<(u64, Field<'_>)>> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        let field = match key & 7 {
            0 => Field::Varint(varint(&mut buf)?),
            1 | 5 => {
                let width = if key & 7 == 1 { 8 } else { 4 };
                buf = buf.get(width..)?;
                Field::Fixed
            }
            2 => {
                let len = usize::try_from(varint(&mut buf)?).ok()?;
                let (bytes, rest) = (buf.get(..len)?, buf.get(len..)?);
                buf = rest;
                Field::Bytes(bytes)
            }
            _ => return None,
        };
        out.push((key >> 3, field));
    }
    Some(out)
}
