//! `refrain`: the engine on the command line — variations of songs, clips from noise, round
//! trips through the DSP or the autoencoder, and what model and runtime would be used.
mod info;
mod model_dir;
mod roundtrip;
mod song;
mod vary;

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
    /// Generate variations of one or more songs (merged with SLERP).
    Vary(vary::VaryArgs),
    /// Generate clips from noise alone (no song).
    Sample(vary::Common),
    /// Show the model, audio configuration, and ONNX Runtime providers available and chosen.
    Info(info::Args),
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
        Command::Vary(args) => vary::vary(&args),
        Command::Sample(args) => vary::sample(&args),
        Command::Info(args) => info::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
