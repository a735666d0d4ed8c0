//! `cargo xtask <command>`: the project's automation entry point.
mod bench_env;
mod build_tools;
mod bundle;
mod bundle_programs;
mod corpus;
mod install;
mod install_layout;
mod ort;
mod tasks;
mod windows;
mod windows_host;
mod workspace;

use anyhow::{bail, Result};

const USAGE: &str = "usage: cargo xtask <command>

commands:
  test               provision ONNX Runtime if missing, then fmt --check, clippy, cargo test
  demo               the main job on the bundled example, written to out/
  bench dsp|generate|loop|vocoder  benchmarks with ratios against their references (librosa, diffusers, the base model);
                     bench generate [base|latent-256] [--rebuild]: the shipped base and the published
                     latent model with random weights (built once into ~/.cache/refrain/bench-models);
                     bench loop [ablations|pairs]: taste × objective, confidence/selection off, or pairs within a version
  bench-env [--force]  venv with CPU-usable torch + diffusers for `bench generate` (~4.4 GB)
  corpus [--synth N] install the Debian music packages, build the corpus cache
  bundle <pkg> [--release] [--target x86_64-pc-windows-gnu]  CLAP + VST3 bundles in
                     <target>/bundled, with ONNX Runtime; for Windows also the folders to copy
                     into Common Files; refrain-cli / refrain-trainer for Windows: the .exe with
                     ONNX Runtime and the models in <target>/bundled/windows/Refrain Tools
  install [--debug]  build the bundles and install them into ~/.clap and ~/.vst3 with ONNX
                     Runtime and the shipped models inside
  uninstall          remove them (the data dir stays)
  ort [--gpu] [--target windows]  provision ONNX Runtime 1.31.1 into <target>/onnxruntime/{cpu,gpu,windows-cpu,windows-gpu}
  windows [--no-tests]  cross-build refrain.exe, run the engine, CLI and trainer tests under
                     Wine, compare its clips with the Linux build's, then bundle the plugin for
                     Windows and run a capture-to-rating cycle with the CLAP and the VST3 in the
                     Windows test host, and run refrain.exe from its Refrain Tools folder
";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        print!("{USAGE}");
        return Ok(());
    };
    match command.as_str() {
        "ort" => ort::run(rest),
        "bundle" => bundle::run(rest),
        "install" => install::install(rest),
        "uninstall" => install::uninstall(rest),
        "corpus" => corpus::run(rest),
        "test" => tasks::test(rest),
        "demo" => tasks::demo(rest),
        "bench" => tasks::bench(rest),
        "bench-env" => bench_env::run(rest),
        "windows" => windows::run(rest),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}
