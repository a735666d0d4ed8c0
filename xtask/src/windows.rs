//! `cargo xtask windows`: the Windows cross build checked under Wine (issue 17). Builds the
//! `refrain` CLI for x86_64-pc-windows-gnu, runs the engine's, the CLI's and the trainer's tests
//! with Wine as cargo's runner (`.cargo/config.toml`, scripts/wine/run.sh), renders the same
//! clips with the Linux and the Windows `refrain vary` and compares them sample by sample, then
//! hosts the Windows plugin in the Windows test host (`windows_host`).
use crate::{build_tools, ort, windows_host, workspace};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Rust target of the Windows build.
pub const TARGET: &str = "x86_64-pc-windows-gnu";
/// Largest sample difference allowed between the Linux and the Windows clip (full scale 1):
/// the two builds run different libm and ONNX Runtime binaries, so float rounding differs;
/// −40 dBFS is far below anything a listener could tell apart and far above what a real
/// divergence (another seed, another model, a broken stage) gives.
pub const MAX_DIFF: f64 = 0.01;
/// Smallest signal-to-difference ratio allowed, in dB.
pub const MIN_SNR_DB: f64 = 40.0;

/// Entry point: `cargo xtask windows [--no-tests]`.
pub fn run(args: &[String]) -> Result<()> {
    let tests = match args {
        [] => true,
        [flag] if flag == "--no-tests" => false,
        _ => bail!("usage: cargo xtask windows [--no-tests]"),
    };
    build_tools::ensure()?;
    build_tools::windows_cross()?;
    ort::ensure_for(ort::Platform::Windows, false)?;
    let linux_ort = ort::ensure(false)?;
    let cargo = workspace::cargo();
    let root = workspace::root();
    step(
        &cargo,
        &["build", "--target", TARGET, "-p", "refrain-cli"],
        &root,
    )?;
    if tests {
        step(
            &cargo,
            &[
                "test",
                "--target",
                TARGET,
                "-p",
                "refrain-engine",
                "-p",
                "refrain-cli",
                "-p",
                "refrain-trainer",
            ],
            &root,
        )?;
    }
    step(&cargo, &["build", "-p", "refrain-cli"], &root)?;
    parity(&root, &linux_ort)?;
    windows_host::run(&cargo, &root, &workspace::target_dir()?)
}

/// Runs `cargo ARGS` in the workspace, saying what runs, failing on a non-zero exit.
pub(crate) fn step(cargo: &str, args: &[&str], root: &Path) -> Result<()> {
    println!("\n==> {cargo} {}", args.join(" "));
    let status = Command::new(cargo)
        .args(args)
        .current_dir(root)
        .status()
        .with_context(|| format!("starting {cargo}"))?;
    if !status.success() {
        bail!("{cargo} {} failed ({status})", args.join(" "));
    }
    Ok(())
}

/// `refrain vary` on the bundled example with the shipped base, two seeds, on both builds.
fn parity(root: &Path, linux_ort: &Path) -> Result<()> {
    let target = workspace::target_dir()?;
    let out = target.join("windows-parity");
    let _ = std::fs::remove_dir_all(&out);
    let args = [
        "vary",
        "examples/loop.wav",
        "--model",
        "models/base",
        "--count",
        "2",
        "--steps",
        "20",
        "--provider",
        "cpu",
        "--out",
    ];
    println!("\n==> refrain vary, Linux and Windows (Wine)");
    let linux = Command::new(target.join("debug/refrain"))
        .args(args)
        .arg(out.join("linux"))
        .current_dir(root)
        .env("REFRAIN_ORT_DYLIB", linux_ort.join("libonnxruntime.so"))
        .status()
        .context("running the Linux refrain")?;
    let exe = target.join(TARGET).join("debug/refrain.exe");
    let windows = Command::new(root.join("scripts/wine/run.sh"))
        .arg(&exe)
        .args(args)
        .arg(out.join("windows"))
        .current_dir(root)
        .status()
        .context("running the Windows refrain under Wine")?;
    if !linux.success() || !windows.success() {
        bail!("refrain vary failed: Linux {linux}, Windows {windows}");
    }
    println!("| clip | samples | max |difference| | SNR (dB) |\n|---|---|---|---|");
    let mut worst = (0.0f64, f64::INFINITY);
    for seed in [7, 8] {
        let name = format!("clip-{seed}.wav");
        let a = pcm24_mono(&out.join("linux").join(&name))?;
        let b = pcm24_mono(&out.join("windows").join(&name))?;
        if a.len() != b.len() {
            bail!(
                "{name}: {} samples on Linux, {} on Windows",
                a.len(),
                b.len()
            );
        }
        let max = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        let noise: f64 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
        let signal: f64 = a.iter().map(|x| x * x).sum();
        let snr = 10.0 * (signal / noise.max(1e-30)).log10();
        println!("| {name} | {} | {max:.5} | {snr:.1} |", a.len());
        worst = (worst.0.max(max), worst.1.min(snr));
    }
    if worst.0 > MAX_DIFF || worst.1 < MIN_SNR_DB {
        bail!(
            "the Windows clips differ from the Linux ones beyond the tolerance (max {MAX_DIFF}, \
             SNR ≥ {MIN_SNR_DB} dB): max {:.5}, SNR {:.1} dB",
            worst.0,
            worst.1
        );
    }
    println!("\nWindows matches Linux within the tolerance (max |difference| ≤ {MAX_DIFF}, SNR ≥ {MIN_SNR_DB} dB)");
    Ok(())
}

/// The samples of a mono 24-bit PCM WAV (what `refrain vary` writes), in [-1, 1].
fn pcm24_mono(path: &PathBuf) -> Result<Vec<f64>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into()?) as usize;
        if &bytes[at..at + 4] == b"data" {
            let data = bytes
                .get(at + 8..at + 8 + size)
                .with_context(|| format!("{}: data chunk cut short", path.display()))?;
            return Ok(data
                .chunks_exact(3)
                .map(|s| f64::from(i32::from_le_bytes([0, s[0], s[1], s[2]]) >> 8) / 8_388_607.0)
                .collect());
        }
        at += 8 + size + size % 2;
    }
    bail!("{}: no data chunk", path.display())
}
