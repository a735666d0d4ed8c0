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
    /// Fine-tune the current version on the rated pool into version N+1 and publish it.
    Train(commands::train::TrainArgs),
    /// Wait for enough new usable ratings, then train; repeat.
    Watch(commands::watch::Args),
    /// Run the learning loop with virtual producers (and the ablations), printing the metrics.
    Simulate(commands::simulate::Args),
    /// Data dir, current model version, feedback store counts and what this build can do.
    Status(commands::status::Args),
    /// Build the pretraining corpus from installed Debian music packages and synthesised loops.
    Corpus(commands::corpus::Args),
    /// Pretrain the autoencoder or the UNet on the corpus, with checkpoints and --resume.
    Pretrain(commands::pretrain::Args),
    /// Export pretraining checkpoints as a model version (ONNX + manifest.json).
    Export(commands::export_version::Args),
    /// Import a diffusers audio-diffusion repo (hub id or local folder) as a model version.
    Import(commands::import::Args),
    /// Measure a model version on the corpus's held-out windows (JSON for the model card).
    Evaluate(commands::evaluate::Args),
    /// Write a song's DSP, autoencoder and variation round trips through a model as WAVs.
    Roundtrip(commands::roundtrip::Args),
    /// Per-version ratings, mean rating, blind-baseline win rate and pool size, with an SVG plot.
    Report(commands::report::Args),
    /// Every model version (v0 = shipped base): parent, created, verified, current, metrics.
    Versions(commands::versions::Args),
    /// Make model version N current after verifying it (0 = the shipped base).
    Rollback(commands::versions::RollbackArgs),
    /// Merge a session archive into the feedback store (idempotent).
    Ingest(commands::session_archive::IngestArgs),
    /// Write the ratings since a date, with their clips and songs, as a session archive.
    ExportSession(commands::session_archive::ExportArgs),
    /// Train or export the neural vocoder (mel → STFT magnitude) on the corpus packages' audio.
    Vocoder(commands::vocoder::Args),
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
        Command::Status(args) => commands::status::run(&args)?,
        Command::Corpus(args) => commands::corpus::run(&args)?,
        Command::Pretrain(args) => commands::pretrain::run(&args)?,
        Command::Export(args) => commands::export_version::run(&args)?,
        Command::Import(args) => commands::import::run(&args)?,
        Command::Evaluate(args) => commands::evaluate::run(&args)?,
        Command::Roundtrip(args) => commands::roundtrip::run(&args)?,
        Command::Report(args) => commands::report::run(&args)?,
        Command::Train(args) => commands::train::run(&args)?,
        Command::Watch(args) => commands::watch::run(&args)?,
        Command::Simulate(args) => commands::simulate::run(&args)?,
        Command::Versions(args) => commands::versions::run(&args)?,
        Command::Rollback(args) => commands::versions::rollback(&args)?,
        Command::Ingest(args) => commands::session_archive::ingest(&args)?,
        Command::ExportSession(args) => commands::session_archive::export(&args)?,
        Command::Vocoder(args) => commands::vocoder::run(&args)?,
    }
    Ok(())
}
