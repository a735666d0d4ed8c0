//! `refrain-trainer`: the companion trainer's command line.
mod commands;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "refrain-trainer", version, about = "Refrain's model trainer")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print what this trainer build can do.
    Status,
    /// Build the pretraining corpus from installed Debian music packages and synthesised loops.
    Corpus(commands::corpus::Args),
    /// Pretrain the autoencoder or the UNet on the corpus, with checkpoints and --resume.
    Pretrain(commands::pretrain::Args),
    /// Export pretraining checkpoints as a model version (ONNX + manifest.json).
    Export(commands::export::Args),
    /// Measure a model version on the corpus's held-out windows (JSON for the model card).
    Evaluate(commands::evaluate::Args),
    /// Write a song's DSP, autoencoder and variation round trips through a model as WAVs.
    Roundtrip(commands::roundtrip::Args),
    /// Per-version ratings, mean rating, blind-baseline win rate and pool size, with an SVG plot.
    Report(commands::report::Args),
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Status => {
            println!(
                "refrain-trainer {} (engine {})",
                env!("CARGO_PKG_VERSION"),
                refrain_engine::VERSION
            );
            println!("commands: {}", refrain_trainer::capabilities().join(", "));
            println!("models and fine-tuning are not built yet (see README, Status)");
        }
        Command::Corpus(args) => commands::corpus::run(&args)?,
        Command::Pretrain(args) => commands::pretrain::run(&args)?,
        Command::Export(args) => commands::export::run(&args)?,
        Command::Evaluate(args) => commands::evaluate::run(&args)?,
        Command::Roundtrip(args) => commands::roundtrip::run(&args)?,
        Command::Report(args) => commands::report::run(&args)?,
    }
    Ok(())
}
