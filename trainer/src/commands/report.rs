//! `refrain-trainer report`: per-version ratings, mean rating, blind-baseline win rate and pool
//! size from a feedback store, printed as a table and plotted as SVG.
use anyhow::{Context, Result};
use refrain_engine::feedback::FeedbackStore;
use refrain_trainer::report;
use std::path::PathBuf;

/// Arguments of `refrain-trainer report`.
#[derive(clap::Args)]
pub struct Args {
    /// The data dir holding `feedback.sqlite` (docs/ARCHITECTURE.md §4.2); `--data-dir` as in the other
    /// commands.
    #[arg(long, visible_alias = "data-dir")]
    store: PathBuf,
    /// Where to write the plot of mean rating per version (SVG).
    #[arg(long)]
    out: PathBuf,
    /// Also write the numbers as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Reads the store, prints the table, writes the plot (and JSON if asked).
pub fn run(args: &Args) -> Result<()> {
    // `open` would create an empty store in a mistyped directory; refuse instead.
    let db = args.store.join(refrain_engine::feedback::DB_FILE);
    anyhow::ensure!(db.is_file(), "no feedback store at {}", db.display());
    let store = FeedbackStore::open(&args.store)
        .with_context(|| format!("opening the feedback store in {}", args.store.display()))?;
    let stats = report::from_store(&store)?;
    print!("{}", report::table(&stats));
    report::plot::write_svg(&stats, &args.out)?;
    println!("plot: {}", args.out.display());
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&stats)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
        println!("json: {}", path.display());
    }
    Ok(())
}
