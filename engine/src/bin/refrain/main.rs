//! `refrain`: the engine's command line (round trips, model info; generation lands with issue 5).
mod info;
mod roundtrip;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "refrain",
    version,
    about = "Refrain's engine on the command line"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render a song through the spectrogram and back (mel → Griffin-Lim), to hear what the
    /// DSP keeps before any model is involved.
    Roundtrip(roundtrip::Args),
    /// Show the audio configuration and the ONNX Runtime library and providers found.
    Info,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().command {
        Command::Roundtrip(args) => roundtrip::run(&args),
        Command::Info => info::run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
