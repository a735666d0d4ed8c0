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
}

fn main() -> anyhow::Result<()> {
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
    }
    Ok(())
}
