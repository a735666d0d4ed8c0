//! `refrain-trainer status`: the data dir, the current model version, the feedback store's
//! counts and what this trainer can do. Every part degrades to a message (no data dir yet, no
//! store, no model), because `status` is what a user runs to find out what is missing.
use super::location::Location;
use anyhow::{Context, Result};
use refrain_engine::feedback::{FeedbackError, FeedbackStore, Since, DB_FILE};
use refrain_engine::locator;
use refrain_engine::manifest::Manifest;
use refrain_trainer::versions::{self, BASE_VERSION};
use std::path::Path;

/// Arguments of `refrain-trainer status`.
#[derive(clap::Args)]
pub struct Args {
    /// The data dir and shipped base.
    #[command(flatten)]
    location: Location,
}

/// Prints the status report; fails only when stdout does.
pub fn run(args: &Args) -> Result<()> {
    println!(
        "refrain-trainer {} (engine {})",
        env!("CARGO_PKG_VERSION"),
        refrain_engine::VERSION
    );
    let data = match args.location.data.resolve() {
        Ok((dir, from)) => {
            let note = if dir.is_dir() {
                ""
            } else {
                ", not created yet"
            };
            println!("data dir: {} ({from}{note})", dir.display());
            Some(dir)
        }
        Err(e) => {
            println!("data dir: none ({e:#})");
            None
        }
    };
    let base = args.location.shipped_base(data.as_deref());
    println!("shipped base: {}", base.display());
    let current = print_current(data.as_deref(), &base);
    if let Some(dir) = &data {
        match versions::next_version_number(dir) {
            Ok(n) => println!("next fine-tune: v{n}"),
            Err(e) => println!("next fine-tune: unknown ({e})"),
        }
    }
    match &data {
        Some(dir) => print_store(dir, current),
        None => println!("feedback store: none (no data dir)"),
    }
    println!("commands: {}", refrain_trainer::capabilities().join(", "));
    Ok(())
}

/// Prints the current model line; returns its version when it loads.
fn print_current(data: Option<&Path>, base: &Path) -> Option<u32> {
    let dir = match data {
        Some(data) => locator::current_version_dir(data, base),
        None => base.to_path_buf(),
    };
    let is_base = dir == base;
    let what = if is_base {
        "shipped base".to_string()
    } else {
        // Relative to the data dir, as `versions` and the pointer file name it.
        let relative = data.and_then(|d| dir.strip_prefix(d).ok()).unwrap_or(&dir);
        relative.display().to_string()
    };
    match Manifest::load(&dir) {
        Ok(m) => {
            let parent = m.parent.map_or("none".into(), |p| format!("v{p}"));
            println!(
                "current model: v{} ({what}, {}; {}, parent {parent}, created {})",
                m.version,
                dir.display(),
                m.name,
                m.created
            );
            Some(m.version)
        }
        Err(e) if is_base && !dir.exists() => {
            println!(
                "current model: none (no shipped base at {}; pass --model-base or set REFRAIN_BASE_MODEL)",
                dir.display()
            );
            tracing::debug!(error = %e, "no shipped base");
            None
        }
        Err(e) => {
            println!("current model: {what} does not load: {e}");
            None
        }
    }
}

/// Prints the feedback store's counts, or why there are none.
fn print_store(data: &Path, current: Option<u32>) {
    let db = data.join(DB_FILE);
    // `open` would create an empty store; status must not write anything that is not there.
    if !db.is_file() {
        println!("feedback store: none yet ({} does not exist)", db.display());
        return;
    }
    println!("feedback store: {}", db.display());
    if let Err(e) = print_counts(data, current) {
        println!("  cannot read it: {e:#}");
    }
}

/// The counts lines of [`print_store`].
fn print_counts(data: &Path, current: Option<u32>) -> Result<()> {
    let store = FeedbackStore::open(data).context("opening the feedback store")?;
    if let Some(r) = store.recovery() {
        println!(
            "  it was damaged and has been restarted empty; the old one is at {} ({})",
            r.backup.display(),
            r.reason
        );
    }
    let total = store.rating_count()?;
    let since = match current {
        None => "unknown (no current model)".to_string(),
        Some(v) => match store.ratings_since(Since::Version(v)) {
            Ok(r) => format!("{} since v{v}", r.len()),
            // The base is registered only once something trains from it: before that every
            // rating was made on it.
            Err(FeedbackError::NotFound { .. }) if v == BASE_VERSION => {
                format!("{total} since v0 (v0 not registered; counting all)")
            }
            Err(FeedbackError::NotFound { .. }) => {
                format!("unknown since v{v} (v{v} is not registered in the store)")
            }
            Err(e) => return Err(e.into()),
        },
    };
    println!("  ratings: {total} total, {since}");
    println!("  training pool: {} samples", store.pool_samples()?.len());
    let registered = store.model_versions()?;
    let names: Vec<String> = registered
        .iter()
        .map(|v| format!("v{}", v.version))
        .collect();
    println!(
        "  versions registered: {}{}",
        registered.len(),
        if names.is_empty() {
            String::new()
        } else {
            format!(" ({})", names.join(", "))
        }
    );
    Ok(())
}
