//! `cargo xtask bench-env [--force]`: a virtualenv at `~/.cache/refrain/bench-venv` where torch
//! and diffusers import on CPU, for the reference side of `cargo xtask bench generate` (which
//! uses it when `$REFRAIN_BENCH_PYTHON` is not set).
//!
//! Only PyPI is reachable here, and PyPI's Linux torch wheel is a CUDA build that depends on
//! ~2.2 GB of nvidia-* wheels plus triton. Its shared objects link against most of the CUDA
//! libraries (cudart, cupti, cublas, cudnn, cufft, cufile, cusparse(Lt), nccl, nvrtc, nvshmem),
//! so `import torch` fails without them, even on a machine with no GPU. What it never loads on
//! CPU is left out: triton, cuda-bindings, cusolver (dlopened by CUDA linalg only) and nvtx.
//! That is torch with `--no-deps` plus the pinned libraries below: 2.5 GB downloaded and 4.4 GB
//! installed, against 3.0 GB downloaded for a plain `pip install torch diffusers`.
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The torch release the CUDA pins below belong to.
const TORCH: &str = "torch==2.15.0";

/// The CUDA libraries torch 2.15.0's shared objects link against, at the versions its metadata
/// pins (through `cuda-toolkit[...]==13.2.2` and its own requirements).
const CUDA_LIBS: &[&str] = &[
    "nvidia-cuda-runtime==13.2.86",
    "nvidia-cuda-cupti==13.2.86",
    "nvidia-cuda-nvrtc==13.2.86",
    "nvidia-cublas==13.4.1.3",
    "nvidia-cufft==12.2.0.57",
    "nvidia-cufile==1.17.1.22",
    "nvidia-cusparse==12.7.10.12",
    "nvidia-nvjitlink==13.5.37",
    "nvidia-cudnn-cu13==9.26.0.51",
    "nvidia-cusparselt-cu13==0.8.1",
    "nvidia-nccl-cu13==2.30.7",
    "nvidia-nvshmem-cu13==3.7.2",
];

/// torch's pure-Python requirements (skipped by `--no-deps`) and diffusers with its own.
const PYTHON_DEPS: &[&str] = &[
    "filelock",
    "typing-extensions>=4.13.0",
    "setuptools>=77.0.3",
    "sympy>=1.13.3",
    "networkx>=2.5.1",
    "jinja2",
    "fsspec>=0.8.5",
    "diffusers==0.42.1",
];

/// The venv's location; `engine/benches/generate.rs` looks in the same place.
pub fn venv_dir() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache/refrain/bench-venv")
}

/// Entry point: `cargo xtask bench-env [--force]` (`--force` deletes and rebuilds the venv).
pub fn run(args: &[String]) -> Result<()> {
    let force = match args {
        [] => false,
        [flag] if flag == "--force" => true,
        _ => bail!("usage: cargo xtask bench-env [--force]"),
    };
    let dir = venv_dir();
    let python = dir.join("bin/python");
    if !force && python.is_file() && check(&python).is_ok() {
        println!("{} already imports torch and diffusers", dir.display());
        return report(&dir, &python);
    }
    if force && dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    if !python.is_file() {
        step(
            "create the venv",
            Command::new("python3").args(["-m", "venv"]).arg(&dir),
        )?;
    }
    let pip = |args: &[&str]| {
        let mut command = Command::new(&python);
        // --no-cache-dir: the wheels are 2.5 GB and a second copy in ~/.cache/pip helps nobody.
        command.args([
            "-m",
            "pip",
            "install",
            "--no-cache-dir",
            "--progress-bar",
            "off",
        ]);
        command.args(args);
        command
    };
    println!("downloading about 2.5 GB from PyPI; the venv will take about 4.4 GB");
    step(
        "torch without its CUDA extras",
        &mut pip(&["--no-deps", TORCH]),
    )?;
    // pip then warns that torch's triton/cuda-bindings/cuda-toolkit requirements are missing:
    // expected, those are the parts left out on purpose (see the module docs).
    let mut rest: Vec<&str> = CUDA_LIBS.to_vec();
    rest.extend(PYTHON_DEPS);
    step(
        "the CUDA libraries torch links, torch's Python deps, diffusers",
        &mut pip(&rest),
    )?;
    check(&python)?;
    report(&dir, &python)
}

/// Runs one install step, echoing it, failing on a non-zero exit.
fn step(label: &str, command: &mut Command) -> Result<()> {
    println!("\n==> {label}");
    let status = command
        .status()
        .with_context(|| format!("starting {:?}", command.get_program()))?;
    if !status.success() {
        bail!("{label} failed ({status})");
    }
    Ok(())
}

/// Fails unless torch and diffusers import and torch computes on the CPU.
fn check(python: &Path) -> Result<()> {
    let out = Command::new(python)
        .args([
            "-c",
            "import torch, diffusers; assert float(torch.ones(2) @ torch.ones(2)) == 2.0",
        ])
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    if !out.status.success() {
        bail!(
            "{} cannot use torch/diffusers: {}",
            python.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Prints the versions, the venv's size on disk, and how the benchmark finds it.
fn report(dir: &Path, python: &Path) -> Result<()> {
    let out = Command::new(python)
        .args([
            "-c",
            "import torch, diffusers; print(f'torch {torch.__version__}, diffusers {diffusers.__version__}')",
        ])
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    println!("{}", String::from_utf8_lossy(&out.stdout).trim());
    println!(
        "{}: {:.1} GB; `cargo xtask bench generate` uses it unless REFRAIN_BENCH_PYTHON is set",
        dir.display(),
        size(dir) as f64 / 1e9
    );
    Ok(())
}

/// Bytes in the files under `dir` (symlinks not followed).
fn size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}
