//! The Windows plugin in a Windows host under Wine (issue 17, `cargo xtask windows`): the CLAP
//! built for x86_64-pc-windows-gnu, laid out as an installed bundle (`Refrain.clap` with
//! `onnxruntime.dll` beside it), loaded by the Windows build of the test host
//! `refrain-clap-host`, which plays a 120 BPM 4/4 transport until the plugin's test hook has
//! captured, generated (the shipped base), previewed and rated a clip.
use crate::ort::Platform;
use crate::{bundle, ort};
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

use crate::windows::TARGET;

/// How long the host may run before the cycle counts as failed.
const TIMEOUT_S: &str = "300";

/// A Unix path as Wine's Windows programs see it (`Z:` is the Unix root).
fn wine_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

/// Builds the plugin and the host for Windows and runs one capture → rate cycle under Wine.
pub fn run(cargo: &str, root: &Path, target: &Path) -> Result<()> {
    let args = [
        "build",
        "--target",
        TARGET,
        "-p",
        "refrain-plugin",
        "--lib",
        "-p",
        "refrain-tests",
        "--bin",
        "refrain-clap-host",
    ];
    println!("\n==> {cargo} {}", args.join(" "));
    let status = Command::new(cargo).args(args).current_dir(root).status()?;
    if !status.success() {
        bail!("building the Windows plugin and host failed ({status})");
    }
    let built = target.join(TARGET).join("debug");
    let out = target.join("windows-host");
    let _ = std::fs::remove_dir_all(&out);
    let plugin_dir = out.join("Refrain");
    let data = out.join("data");
    std::fs::create_dir_all(&plugin_dir)?;
    std::fs::create_dir_all(&data)?;
    let clap = plugin_dir.join("Refrain.clap");
    std::fs::copy(built.join("refrain_plugin.dll"), &clap)
        .context("copying refrain_plugin.dll to Refrain.clap")?;
    let ort_dir = ort::ensure_for(Platform::Windows, false)?;
    bundle::copy_runtime(&ort_dir, &plugin_dir, Platform::Windows)?;

    println!("\n==> Windows refrain-clap-host.exe hosting the Windows Refrain.clap (Wine)");
    let output = Command::new(root.join("scripts/wine/run.sh"))
        .arg(built.join("refrain-clap-host.exe"))
        .args([wine_path(&clap), wine_path(&data), TIMEOUT_S.into()])
        .current_dir(root)
        // ONNX Runtime must come from beside the plugin, as in an installed bundle.
        .env("REFRAIN_WINE_ORT", "bundle")
        .env("REFRAIN_TEST_HOOK", "1")
        .env("REFRAIN_BASE_MODEL", wine_path(&root.join("models/base")))
        .env("REFRAIN_HOME", wine_path(&data))
        .output()
        .context("running the Windows host under Wine")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    if !output.status.success() {
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        bail!(
            "the Windows host did not complete the cycle ({})",
            output.status
        );
    }
    let report = stdout
        .lines()
        .find(|l| l.starts_with("report "))
        .context("the host printed no report")?;
    let expected_ort = wine_path(&plugin_dir.join("onnxruntime.dll"));
    if !report.to_lowercase().contains(&expected_ort.to_lowercase()) {
        bail!("ONNX Runtime did not come from beside the plugin ({expected_ort}): {report}");
    }
    println!(
        "Windows plugin under Wine: captured, generated, previewed and rated; ONNX Runtime from {expected_ort}"
    );
    Ok(())
}
