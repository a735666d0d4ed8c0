//! `cargo xtask test | demo | bench`: the README's commands, each a short sequence of cargo runs.
use crate::{bench_env, build_tools, ort, workspace};
use anyhow::{bail, Context, Result};
use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

mod published;
mod vocoder_set;

/// `engine::runtime::ENV_VAR`, spelled out because xtask links nothing of ours (docs/ARCHITECTURE.md §1).
const ORT_ENV: &str = "REFRAIN_ORT_DYLIB";

/// Runs a command in the workspace root with the provisioned ONNX Runtime, failing on non-zero exit.
fn run_step(label: &str, program: &str, args: &[&str], ort_dir: &Path) -> Result<()> {
    run_step_env(label, program, args, ort_dir, &[])
}

/// [`run_step`] with extra environment variables.
fn run_step_env(
    label: &str,
    program: &str,
    args: &[&str],
    ort_dir: &Path,
    envs: &[(&str, &OsStr)],
) -> Result<()> {
    println!("\n==> {label}: {program} {}", args.join(" "));
    for (key, value) in envs {
        println!("    {key}={}", Path::new(value).display());
    }
    let status = Command::new(program)
        .args(args)
        .current_dir(workspace::root())
        .env(ORT_ENV, ort_dir.join("libonnxruntime.so"))
        .envs(envs.iter().copied())
        .status()
        .with_context(|| format!("starting `{program}`"))?;
    if !status.success() {
        bail!("{label} failed ({status})");
    }
    Ok(())
}

/// `cargo xtask test`: provision ONNX Runtime if missing, then fmt, clippy and the test suite.
pub fn test(_args: &[String]) -> Result<()> {
    build_tools::ensure()?;
    let ort_dir = ort::ensure(false)?;
    let cargo = workspace::cargo();
    run_step(
        "format",
        &cargo,
        &["fmt", "--all", "--", "--check"],
        &ort_dir,
    )?;
    run_step(
        "lint",
        &cargo,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        &ort_dir,
    )?;
    run_step("tests", &cargo, &["test", "--workspace"], &ort_dir)?;
    println!("\nall checks passed");
    Ok(())
}

/// `cargo xtask demo`: the main job on the bundled example — variations from the shipped base
/// model, or, until one ships, the DSP round trip (and it says which).
pub fn demo(_args: &[String]) -> Result<()> {
    build_tools::ensure()?;
    let ort_dir = ort::ensure(false)?;
    let cargo = workspace::cargo();
    let root = workspace::root();
    let example = root.join("examples/loop.wav");
    let out = root.join("out");
    let base = root.join("models/base");
    let (example, out_arg, base_arg) = (path_arg(&example)?, path_arg(&out)?, path_arg(&base)?);
    let refrain = [
        "run",
        "--release",
        "-q",
        "-p",
        "refrain-cli",
        "--bin",
        "refrain",
        "--",
    ];
    if base.join("manifest.json").is_file() {
        println!("Generating 4 variations of the bundled example with the shipped base model.");
        let mut args = refrain.to_vec();
        args.extend([
            "vary",
            example,
            "--model",
            base_arg,
            "--strength",
            "0.5",
            "--count",
            "4",
            "--out",
            out_arg,
        ]);
        run_step("variations", &cargo, &args, &ort_dir)?;
        let mut args = refrain.to_vec();
        args.extend(["roundtrip", example, "--model", base_arg, "--out", out_arg]);
        run_step("autoencoder round trip", &cargo, &args, &ort_dir)?;
    } else {
        println!(
            "No trained model ships yet (models/base is missing), so the demo renders the DSP"
        );
        println!("round trip of the bundled example (mel spectrogram → Griffin-Lim) to out/.");
        let mut args = refrain.to_vec();
        args.extend(["roundtrip", example, "--out", out_arg]);
        run_step("round trip", &cargo, &args, &ort_dir)?;
    }
    let mut args = refrain.to_vec();
    args.push("info");
    if base.join("manifest.json").is_file() {
        args.extend(["--model", base_arg]);
    }
    run_step("engine info", &cargo, &args, &ort_dir)?;
    println!("\nwrote to {}:", out.display());
    let mut files: Vec<_> = std::fs::read_dir(&out)
        .with_context(|| format!("listing {}", out.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    for file in files {
        println!("  {}", file.display());
    }
    Ok(())
}

/// `cargo xtask bench <name>`: the benchmarks, each printing ratios against its named reference.
pub fn bench(args: &[String]) -> Result<()> {
    build_tools::ensure()?;
    let ort_dir = ort::ensure(false)?;
    let cargo = workspace::cargo();
    match args.first().map(String::as_str) {
        Some("dsp") | None => run_step(
            "dsp benchmark (reference: librosa, same run)",
            &cargo,
            &["bench", "-p", "refrain-engine", "--bench", "dsp"],
            &ort_dir,
        ),
        Some("generate") => bench_generate(&args[1..], &cargo, &ort_dir),
        Some("loop") => {
            // Per taste × objective, 3 fine-tunes of 64 ratings each, full rules; `loop
            // ablations` switches confidence and selection off for two objectives on one taste;
            // `loop pairs` pairs two seeds of each version instead of a clip and its base twin.
            // Further arguments go to `refrain-trainer simulate` (e.g. --iterations 4).
            let variant = args.get(1).map(String::as_str);
            let ablations = variant == Some("ablations");
            let pairs = variant == Some("pairs");
            let rest = &args[1 + usize::from(ablations || pairs)..];
            let plan: &[&str] = if pairs {
                &[
                    "--out",
                    "target/simulate/pairs",
                    "--taste",
                    "brightness,low-end",
                    "--objective",
                    "both",
                    "--pairs",
                    "within",
                    "--arms",
                    "full",
                ]
            } else if ablations {
                &[
                    "--out",
                    "target/simulate/ablations",
                    "--taste",
                    "brightness",
                    "--objective",
                    "weighted,dpo",
                    "--arms",
                    "fixed-confidence,no-selection",
                ]
            } else {
                &[
                    "--out",
                    "target/simulate/matrix",
                    "--taste",
                    "brightness,density,low-end",
                    "--objective",
                    "weighted,dpo,both",
                    "--arms",
                    "full",
                ]
            };
            let mut cmd = vec![
                "run",
                "--release",
                "-p",
                "refrain-trainer",
                "--",
                "simulate",
                "--model",
                "models/base",
            ];
            cmd.extend(plan);
            cmd.extend(rest.iter().map(String::as_str));
            run_step(
                "learning-loop benchmark (reference: the base version, blind, same run)",
                &cargo,
                &cmd,
                &ort_dir,
            )
        }
        Some("vocoder") => {
            let set = workspace::root().join("target/vocoder-set.tsv");
            let files = vocoder_set::write(&set)?;
            println!("{files} files in {}", set.display());
            run_step_env(
                "vocoder benchmark (reference: Griffin-Lim 32, same run, same mels)",
                &cargo,
                &["bench", "-p", "refrain-engine", "--bench", "vocoder"],
                &ort_dir,
                &[("REFRAIN_VOCODER_SET", set.as_os_str())],
            )
        }
        Some(other) => {
            bail!("unknown benchmark `{other}` (available: dsp, generate, loop, vocoder)")
        }
    }
}

/// `cargo xtask bench generate [base|latent-256] [--rebuild]`: the shipped base, then the
/// published-size model (built once into the cache, see `tasks/published.rs`), each against
/// diffusers in the same run. `--rebuild` rebuilds the published-size model first.
fn bench_generate(args: &[String], cargo: &str, ort_dir: &Path) -> Result<()> {
    let (mut base, mut large, mut rebuild) = (false, false, false);
    for arg in args {
        match arg.as_str() {
            "base" => base = true,
            "latent-256" => large = true,
            "--rebuild" => rebuild = true,
            other => bail!(
                "unknown argument `{other}` (usage: cargo xtask bench generate [base|latent-256] [--rebuild])"
            ),
        }
    }
    if !base && !large {
        (base, large) = (true, true);
    }
    let bench = ["bench", "-p", "refrain-engine", "--bench", "generate"];
    if base {
        run_step(
            "generation benchmark (reference: diffusers UNet2DModel in torch, same run)",
            cargo,
            &bench,
            ort_dir,
        )?;
    }
    if !large {
        return Ok(());
    }
    // The repo is built with torch + diffusers: the bench venv, or the interpreter the
    // benchmark itself is told to use.
    let python = match std::env::var_os("REFRAIN_BENCH_PYTHON").filter(|p| !p.is_empty()) {
        Some(python) => std::path::PathBuf::from(python),
        None => bench_env::venv_dir().join("bin/python"),
    };
    if !python.is_file() {
        println!(
            "\n==> published-size config (teticio/latent-audio-diffusion-256 sizes, random weights): skipped, no bench venv at {} to build it with (`cargo xtask bench-env` makes it)",
            bench_env::venv_dir().display()
        );
        return Ok(());
    }
    let model = published::ensure(&python, ort_dir, rebuild)?;
    // Three runs: one variation takes seconds at this size, and each config runs twice
    // (Detail 0 and the default) plus the diffusers pipeline; REFRAIN_BENCH_RUNS overrides.
    let runs = std::env::var_os("REFRAIN_BENCH_RUNS").unwrap_or_else(|| "3".into());
    run_step_env(
        "generation benchmark, published size (reference: the same repo's diffusers AudioDiffusionPipeline, same run)",
        cargo,
        &bench,
        ort_dir,
        &[
            ("REFRAIN_BENCH_MODEL", model.model.as_os_str()),
            ("REFRAIN_BENCH_REPO", model.repo.as_os_str()),
            ("REFRAIN_BENCH_RUNS", &runs),
        ],
    )
}

fn path_arg(path: &Path) -> Result<&str> {
    path.to_str()
        .with_context(|| format!("path {} is not valid UTF-8", path.display()))
}
