//! The diffusers side of the generation benchmark: the Python reference run in the same
//! process tree (`scripts/bench_diffusers.py`), its ratios against Refrain's measured stages,
//! and the counts that say the two sides compare like with like.
use super::*;

/// Whether the model's audio config is the one diffusers' `Mel(x_res=256, y_res=256)` uses
/// (22050 Hz, n_fft 2048, hop 512, top_db 80), so both pipelines see the same spectrogram.
pub(super) fn diffusers_mel_matches(config: &AudioConfig) -> bool {
    config.sample_rate == 22_050
        && config.n_fft == 2048
        && config.hop_length == 512
        && config.n_mels == 256
        && config.frames == 256
        && config.top_db == 80.0
}

/// What the torch side needs to know.
pub(super) struct Reference<'a> {
    pub(super) root: &'a Path,
    pub(super) dir: &'a Path,
    pub(super) repo: Option<&'a Path>,
    pub(super) shape: String,
    pub(super) threads: usize,
    pub(super) runs: usize,
    pub(super) ours: &'a [usize],
}

/// The torch side: runs `scripts/bench_diffusers.py` and prints its sizes, times and the ratios.
pub(super) fn reference(setup: &Reference, window: Option<&[f32]>, measured: &[Measured]) {
    let (python, source) = reference_python();
    println!("reference interpreter: {} ({source})", python.display());
    let mut command = Command::new(&python);
    command
        .arg(setup.root.join("scripts/bench_diffusers.py"))
        .arg(&setup.shape)
        .arg(STEPS.to_string())
        .arg(STRENGTH.to_string())
        .arg(setup.threads.to_string())
        .arg(setup.runs.to_string());
    if let Some(repo) = setup.repo {
        command.arg("--repo").arg(repo);
    }
    // The window as f32 little-endian samples at the model rate, removed after the run.
    let window_file =
        std::env::temp_dir().join(format!("refrain-bench-window-{}.f32", std::process::id()));
    if let Some(window) = window {
        let bytes: Vec<u8> = window.iter().flat_map(|s| s.to_le_bytes()).collect();
        match std::fs::write(&window_file, bytes) {
            Ok(()) => {
                command.arg("--audio").arg(&window_file);
            }
            Err(e) => println!("reference pipeline: skipped, cannot write the window: {e}"),
        }
    }
    // GNU OpenMP's default spin-wait made torch's 2-thread loop ~40× slower (1.9 s vs 49 ms per
    // call) on the 2-core VM while another process used the cores, which would flatter us.
    // Passive waiting costs torch little on a quiet machine; set OMP_WAIT_POLICY to override.
    let wait = std::env::var("OMP_WAIT_POLICY").unwrap_or_else(|_| "PASSIVE".into());
    command.env("OMP_WAIT_POLICY", &wait);
    let out = command.output();
    let _ = std::fs::remove_file(&window_file);
    let out = match out {
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
    let millions = |n: Option<f64>| n.map_or(f64::NAN, |n| n / 1e6);
    let onnx_millions =
        |file: &str| onnx_parameters(&setup.dir.join(file)).map_or(f64::NAN, |n| n as f64 / 1e6);
    let unet_kind = if setup.repo.is_some() {
        "the repo's UNet2DModel"
    } else {
        "diffusers UNet2DModel of the same size"
    };
    println!(
        "UNet parameters: Refrain {:.2} M (unet.onnx initializers), {unet_kind} {:.2} M ({:.1} GFLOP per call)",
        onnx_millions("unet.onnx"),
        millions(number("params")),
        number("unet_gflop").unwrap_or(f64::NAN)
    );
    println!(
        "threads: ONNX Runtime {} intra-op, torch {} (set_num_threads, OMP_WAIT_POLICY={wait}); torch {}, diffusers {}",
        setup.threads,
        fields.get("threads").unwrap_or(&"?"),
        fields.get("torch").unwrap_or(&"?"),
        fields.get("diffusers").unwrap_or(&"?"),
    );
    let ours = setup.ours;
    if their_calls as usize != ours.len() || first_t as usize != ours[0] {
        return println!(
            "reference: skipped, the loops differ (ours {} calls from t={}, diffusers {their_calls} from t={first_t})",
            ours.len(),
            ours[0]
        );
    }
    // The UNet stage of the Detail-default run, as before the Detail-0 column existed.
    let unet_s = measured.last().map_or(f64::NAN, |m| m.t.unet);
    println!(
        "reference: {unet_kind}, DDIM loop ({} calls from t={}, same run) {:.1} ms ({:.1} per call) → Refrain UNet loop is {:.2}× faster (target ≥ 2×)",
        ours.len(),
        ours[0],
        torch_s * 1e3,
        torch_s * 1e3 / ours.len() as f64,
        torch_s / unet_s
    );
    let Some(pipeline_s) = number("pipeline_seconds") else {
        return;
    };
    let (calls, first) = (number("pipeline_calls"), number("pipeline_first_t"));
    if calls != Some(ours.len() as f64) || first != Some(ours[0] as f64) {
        return println!(
            "reference pipeline: skipped, its loop differs ({calls:?} calls from t={first:?})"
        );
    }
    let kind = match fields.get("pipeline").copied() {
        Some("AudioDiffusionPipeline") => {
            "diffusers AudioDiffusionPipeline on the same repo".to_string()
        }
        Some(other) => format!("diffusers parts of the base's sizes ({other})"),
        None => "diffusers".to_string(),
    };
    println!(
        "VAE parameters: Refrain encoder {:.2} M / decoder {:.2} M (onnx initializers, GroupNorm's constant C×C group-pooling matrices included); diffusers encoder {:.2} M ({:.1} GFLOP) / decoder {:.2} M ({:.1} GFLOP)",
        onnx_millions("encoder.onnx"),
        onnx_millions("decoder.onnx"),
        millions(number("vae_encoder_params")),
        number("vae_encoder_gflop").unwrap_or(f64::NAN),
        millions(number("vae_decoder_params")),
        number("vae_decoder_gflop").unwrap_or(f64::NAN),
    );
    println!(
        "reference pipeline: {kind}, the same {:.2} s window, start_step {} of {STEPS} ({} UNet calls from t={}), eta 0, Griffin-Lim {}, median of {} after a warm-up, same run:",
        window.map_or(f64::NAN, |w| w.len() as f64 / 22_050.0),
        STEPS - ours.len(),
        ours.len(),
        ours[0],
        fields.get("griffin_lim_iters").unwrap_or(&"?"),
        setup.runs
    );
    let stage = |key: &str| number(key).unwrap_or(f64::NAN);
    let like = &measured[0];
    print!(
        "{:<44} {:>14} {:>14}",
        "stage, ms", "diffusers", "Refrain D0"
    );
    println!(" {:>16}", "Refrain ÷ diff.");
    let rows = [
        (
            "mel (Refrain: + resample in)",
            stage("pipeline_mel"),
            like.t.mel + like.t.resample_in,
        ),
        ("VAE encode", stage("pipeline_encode"), like.t.encode),
        ("UNet loop", stage("pipeline_unet"), like.t.unet),
        (
            "VAE decode (one call)",
            stage("pipeline_decode"),
            like.t.decode,
        ),
        (
            "Griffin-Lim (Refrain: + resample out)",
            stage("pipeline_vocoder"),
            like.t.vocoder + like.t.resample_out,
        ),
        (
            "other (scheduler, conversions)",
            stage("pipeline_other"),
            like.wall - like.t.total(),
        ),
        ("whole variation", pipeline_s, like.wall),
    ];
    for (label, theirs, ours) in rows {
        println!(
            "{label:<44} {:>14.1} {:>14.1} {:>15.2}×",
            theirs * 1e3,
            ours * 1e3,
            ours / theirs
        );
    }
    for m in measured {
        println!(
            "whole variation, Detail {}: Refrain {:.0} ms ÷ diffusers {:.0} ms = {:.2}×; song cached (measured) {:.0} ms = {:.2}× (target ≤ 0.5×)",
            m.detail,
            m.wall * 1e3,
            pipeline_s * 1e3,
            m.wall / pipeline_s,
            m.cached_s() * 1e3,
            m.cached_s() / pipeline_s
        );
    }
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

pub(super) fn varint(buf: &mut &[u8]) -> Option<u64> {
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
