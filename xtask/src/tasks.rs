//! `cargo xtask test | demo | bench`: the README's commands, each a short sequence of cargo runs.
use crate::{ort, workspace};
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

/// `engine::runtime::ENV_VAR`, spelled out because xtask links nothing of ours (docs/ARCHITECTURE.md §1).
const ORT_ENV: &str = "REFRAIN_ORT_DYLIB";

/// Runs a command in the workspace root with the provisioned ONNX Runtime, failing on non-zero exit.
fn run_step(label: &str, program: &str, args: &[&str], ort_dir: &Path) -> Result<()> {
    println!("\n==> {label}: {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(workspace::root())
        .env(ORT_ENV, ort_dir.join("libonnxruntime.so"))
        .status()
        .with_context(|| format!("starting `{program}`"))?;
    if !status.success() {
        bail!("{label} failed ({status})");
    }
    Ok(())
}

/// `cargo xtask test`: provision ONNX Runtime if missing, then fmt, clippy and the test suite.
pub fn test(_args: &[String]) -> Result<()> {
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
    let ort_dir = ort::ensure(false)?;
    let cargo = workspace::cargo();
    match args.first().map(String::as_str) {
        Some("dsp") | None => run_step(
            "dsp benchmark (reference: librosa, same run)",
            &cargo,
            &["bench", "-p", "refrain-engine", "--bench", "dsp"],
            &ort_dir,
        ),
        Some("generate") => run_step(
            "generation benchmark (reference: diffusers UNet2DModel in torch, same run)",
            &cargo,
            &["bench", "-p", "refrain-engine", "--bench", "generate"],
            &ort_dir,
        ),
        Some("loop") => {
            // The full simulation: 3 fine-tunes of ≤ 64 ratings per arm, three arms; extra
            // arguments go to `refrain-trainer simulate` (e.g. --arms full --iterations 4).
            let mut cmd = vec![
                "run",
                "-p",
                "refrain-trainer",
                "--",
                "simulate",
                "--model",
                "models/base",
                "--out",
                "target/simulate",
            ];
            cmd.extend(args[1..].iter().map(String::as_str));
            run_step(
                "learning-loop benchmark (reference: the base version, blind, same run)",
                &cargo,
                &cmd,
                &ort_dir,
            )
        }
        Some(other) => bail!("unknown benchmark `{other}` (available: dsp, generate, loop)"),
    }
}

fn path_arg(path: &Path) -> Result<&str> {
    path.to_str()
        .with_context(|| format!("path {} is not valid UTF-8", path.display()))
}
