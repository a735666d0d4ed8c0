//! `refrain-trainer watch`: waits for enough new usable ratings, then trains, and again.
use super::train::{print_report, TrainArgs};
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use refrain_trainer::finetune::{pending_ratings, train_next_version, FinetuneError};
use std::time::Duration;

/// Arguments of `refrain-trainer watch`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The fine-tune's settings.
    #[command(flatten)]
    pub train: TrainArgs,
    /// Train once this many new usable (unflagged) ratings have arrived.
    #[arg(long, default_value_t = 16)]
    pub min_ratings: usize,
    /// Seconds between looks at the store.
    #[arg(long, default_value_t = 10.0)]
    pub poll_seconds: f64,
    /// Stop after this many published versions (default: run until interrupted).
    #[arg(long)]
    pub rounds: Option<usize>,
}

/// Polls the store; each time `min_ratings` are pending, runs one round.
pub fn run(args: &Args) -> Result<()> {
    let options = args.train.options(true)?;
    let poll = Duration::from_secs_f64(args.poll_seconds.max(0.05));
    let need = args.min_ratings.max(1);
    let mut published = 0usize;
    println!(
        "watching {} for {need} new usable ratings",
        options.data_dir.display()
    );
    loop {
        let bar = ProgressBar::new(need as u64);
        bar.set_style(
            ProgressStyle::with_template("waiting for ratings {bar:30} {pos}/{len}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        loop {
            let pending = match pending_ratings(&options) {
                Ok(n) => n,
                // A store locked by the plugin mid-write, or not created yet: look again.
                Err(e) => {
                    tracing::debug!(error = %e, "cannot count pending ratings yet");
                    0
                }
            };
            bar.set_position(pending.min(need) as u64);
            if pending >= need {
                break;
            }
            std::thread::sleep(poll);
        }
        bar.finish_and_clear();
        match train_next_version(&options) {
            Ok(report) => {
                print_report(&report);
                published += 1;
                if args.rounds.is_some_and(|r| published >= r) {
                    return Ok(());
                }
            }
            Err(e @ (FinetuneError::NothingToTrain(_) | FinetuneError::Forgetting { .. })) => {
                println!("no new version this round: {e}; waiting for more ratings");
                // The failed round's ratings stay pending: wait for `need` beyond them.
                let floor = pending_ratings(&options).unwrap_or(0);
                wait_for_more(&options, floor, need, poll);
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// After a round that published nothing, waits until `need` ratings beyond `floor` arrive.
fn wait_for_more(
    options: &refrain_trainer::finetune::FinetuneOptions,
    floor: usize,
    need: usize,
    poll: Duration,
) {
    while pending_ratings(options).unwrap_or(0) < floor + need {
        std::thread::sleep(poll);
    }
}
