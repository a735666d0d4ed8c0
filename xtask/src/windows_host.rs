//! The Windows plugin in a Windows host under Wine (issue 17, `cargo xtask windows`): the
//! bundles built for x86_64-pc-windows-gnu and laid out as installed (`CLAP\Refrain\` with
//! `onnxruntime.dll` and `models\` beside `Refrain.clap`; `VST3\Refrain.vst3\` with them in
//! `Contents`), each loaded by the Windows build of the test host `refrain-plugin-host` (CLAP
//! through clack-host, VST3 through the `vst3` bindings), which plays a 120 BPM 4/4 transport
//! until the plugin's test hook has captured, generated (the shipped base), previewed and rated
//! a clip.
use crate::{bundle, bundle_programs, install_layout};
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

use crate::windows::{self, TARGET};

/// How long the host may run before the cycle counts as failed.
const TIMEOUT_S: &str = "300";

/// A Unix path as Wine's Windows programs see it (`Z:` is the Unix root).
fn wine_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

/// A plugin format as distributed under `target/bundled/windows` and installed under
/// `Common Files`.
struct Format {
    /// The folder under `Common Files` (and under the distribution).
    folder: &'static str,
    /// The path inside it the host is given.
    plugin: &'static str,
    /// Where `onnxruntime.dll` must be loaded from, inside the copied plugin.
    ort_dir: &'static str,
}

const FORMATS: [Format; 2] = [
    Format {
        folder: "CLAP",
        plugin: "Refrain/Refrain.clap",
        ort_dir: "Refrain",
    },
    Format {
        folder: "VST3",
        plugin: "Refrain.vst3",
        ort_dir: "Refrain.vst3/Contents/x86_64-win",
    },
];

/// Bundles the plugin for Windows, builds the host, and runs one capture → rate cycle under
/// Wine with each distributed folder (`CLAP\Refrain`, `VST3\Refrain.vst3`): ONNX Runtime and
/// the model from inside it.
pub fn run(cargo: &str, root: &Path, target: &Path) -> Result<()> {
    let bundle_args = ["refrain-plugin", "--target", TARGET].map(String::from);
    bundle::run(&bundle_args)?;
    let args = [
        "build",
        "--target",
        TARGET,
        "-p",
        "refrain-tests",
        "--bin",
        "refrain-plugin-host",
    ];
    windows::step(cargo, &args, root)?;
    let dist = bundle::windows_dist(&target.join("bundled"));
    for format in &FORMATS {
        cycle(root, target, &dist, format)?;
    }
    tools(root, target)
}

/// `refrain.exe` from its bundled `Refrain Tools` folder, copied under a path with spaces and
/// non-ASCII letters and run from elsewhere: ONNX Runtime and the model must come from the
/// folder, and `vary` must write a clip.
fn tools(root: &Path, target: &Path) -> Result<()> {
    let built = bundle_programs::run("refrain-cli", &["--target".into(), TARGET.into()])?;
    let folder = built.parent().context("the bundled program has a folder")?;
    let host_dir = target.join("windows-host");
    let _ = std::fs::remove_dir_all(&host_dir);
    let copy = host_dir
        .join("Programmes été")
        .join(bundle_programs::TOOLS_DIR);
    install_layout::copy_tree(folder, &copy, true)?;
    let exe = copy.join("refrain.exe");
    let out = host_dir.join("clips");
    let example = root.join("examples/loop.wav");
    println!("\n==> {} info, vary (Wine)", exe.display());
    let mut info = String::new();
    for args in [
        vec!["info".to_string()],
        vec![
            "vary".into(),
            wine_path(&example),
            "--count".into(),
            "1".into(),
            "--steps".into(),
            "10".into(),
            "--out".into(),
            wine_path(&out),
        ],
    ] {
        let mut cmd = bundled_under_wine(root, &exe);
        // Run from elsewhere than the repo, so nothing is found through the working dir.
        cmd.args(&args).current_dir(&host_dir);
        let stdout = printed_output(cmd, &format!("refrain.exe {}", args[0]))?;
        info.push_str(&stdout);
    }
    let inside = wine_path(&copy).to_lowercase();
    let lines_inside = |prefix: &str| {
        info.lines()
            .find(|l| l.starts_with(prefix))
            .is_some_and(|l| l.to_lowercase().contains(&inside))
    };
    if !lines_inside("onnx runtime:") || !lines_inside("model:") {
        bail!(
            "ONNX Runtime or the model did not come from {}:\n{info}",
            copy.display()
        );
    }
    let is_wav = |e: &std::fs::DirEntry| e.path().extension().is_some_and(|x| x == "wav");
    let clips = std::fs::read_dir(&out)
        .map(|d| d.flatten().filter(is_wav).count())
        .unwrap_or(0);
    if clips == 0 {
        bail!("refrain.exe vary wrote no clip into {}", out.display());
    }
    println!("Windows refrain.exe from its Refrain Tools folder: ONNX Runtime and the model from the folder, {clips} clip written");
    Ok(())
}

/// One capture → rate cycle with `format`'s folder copied out of `dist`.
fn cycle(root: &Path, target: &Path, dist: &Path, format: &Format) -> Result<()> {
    // Installed and used under names with spaces and non-ASCII letters, as a producer's
    // folders are: the plugin's own folder (ONNX Runtime, the model) and the data dir.
    let host_dir = target.join("windows-host");
    let _ = std::fs::remove_dir_all(&host_dir);
    let installed = host_dir.join("Common Files été").join(format.folder);
    let data = host_dir.join("Données du producteur");
    install_layout::copy_tree(&dist.join(format.folder), &installed, true)?;
    std::fs::create_dir_all(&data)?;
    let plugin = installed.join(format.plugin);

    println!(
        "\n==> Windows refrain-plugin-host.exe hosting {} (Wine)",
        plugin.display()
    );
    let host = target.join(TARGET).join("debug/refrain-plugin-host.exe");
    let mut cmd = bundled_under_wine(root, &host);
    cmd.args([wine_path(&plugin), wine_path(&data), TIMEOUT_S.into()])
        .current_dir(root)
        .env("REFRAIN_TEST_HOOK", "1")
        .env("REFRAIN_HOME", wine_path(&data));
    let stdout = printed_output(
        cmd,
        &format!("the {} cycle in the Windows host", format.folder),
    )?;
    let report = stdout
        .lines()
        .find(|l| l.starts_with("report "))
        .context("the host printed no report")?;
    let expected_ort = wine_path(&installed.join(format.ort_dir).join("onnxruntime.dll"));
    if !report.to_lowercase().contains(&expected_ort.to_lowercase()) {
        bail!("ONNX Runtime did not come from beside the plugin ({expected_ort}): {report}");
    }
    println!(
        "Windows {} under Wine: captured, generated, previewed and rated; ONNX Runtime from {expected_ort}",
        format.folder
    );
    Ok(())
}

/// `exe` under Wine (scripts/wine/run.sh) with nothing pointing at ONNX Runtime or a model: both
/// must come from the bundled folder, as once installed.
fn bundled_under_wine(root: &Path, exe: &Path) -> Command {
    let mut cmd = Command::new(root.join("scripts/wine/run.sh"));
    cmd.arg(exe)
        .env("REFRAIN_WINE_ORT", "bundle")
        .env_remove("REFRAIN_BASE_MODEL")
        .env_remove("REFRAIN_MODEL_DIR")
        .env_remove("REFRAIN_VOCODER_DIR");
    cmd
}

/// Runs `cmd`, echoes its standard output and returns it; on failure echoes its standard error
/// and says that `what` failed.
fn printed_output(mut cmd: Command, what: &str) -> Result<String> {
    let output = cmd
        .output()
        .with_context(|| format!("running {what} under Wine"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    print!("{stdout}");
    if !output.status.success() {
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        bail!("{what} failed ({})", output.status);
    }
    Ok(stdout)
}
