//! `refrain-trainer ingest FILE` and `refrain-trainer export-session`: carry a producer's
//! rating session (ratings, their clips and conditioning songs) between feedback stores, e.g.
//! from a laptop to the machine that trains. Both wrap the engine's session archive, which
//! identifies rows by uid, so ingesting the same file twice adds nothing.
use super::location::DataDirArg;
use super::since::parse_since;
use anyhow::{Context, Result};
use refrain_engine::feedback::{FeedbackStore, DB_FILE};
use std::path::PathBuf;

/// Arguments of `refrain-trainer ingest`.
#[derive(clap::Args)]
pub struct IngestArgs {
    /// The session archive to merge (written by `export-session`).
    file: PathBuf,
    /// The data dir whose store receives it (created when it has none yet).
    #[command(flatten)]
    data: DataDirArg,
}

/// Arguments of `refrain-trainer export-session`.
#[derive(clap::Args)]
pub struct ExportArgs {
    /// Ratings made at or after this: `all`, unix milliseconds, or an RFC 3339 date
    /// (`2026-11-01`, `2026-11-01T12:00:00Z`).
    #[arg(long, value_parser = parse_since, allow_hyphen_values = true)]
    since: i64,
    /// The archive to write (replaced atomically).
    #[arg(long)]
    out: PathBuf,
    /// The data dir whose store is read.
    #[command(flatten)]
    data: DataDirArg,
}

/// Merges the archive and prints what was added and what was already there.
pub fn ingest(args: &IngestArgs) -> Result<()> {
    // Checked before opening the store, which would otherwise be created for nothing.
    anyhow::ensure!(
        args.file.is_file(),
        "no session archive at {}",
        args.file.display()
    );
    let (data, _) = args.data.resolve()?;
    let mut store = FeedbackStore::open(&data)
        .with_context(|| format!("opening the feedback store in {}", data.display()))?;
    let r = store
        .ingest(&args.file)
        .with_context(|| format!("ingesting {}", args.file.display()))?;
    println!(
        "ingested {} into {}",
        args.file.display(),
        store.db_path().display()
    );
    println!(
        "added: {} ratings, {} clips, {} songs; skipped {} ratings already in the store",
        r.ratings_added, r.generations_added, r.songs_added, r.ratings_skipped
    );
    if r.ratings_added == 0 && r.generations_added == 0 && r.songs_added == 0 {
        println!("nothing new");
    }
    Ok(())
}

/// Writes the ratings since `--since` with their clips and songs to `--out`.
pub fn export(args: &ExportArgs) -> Result<()> {
    let (data, _) = args.data.resolve()?;
    // `open` would create an empty store in a mistyped directory; refuse instead.
    let db = data.join(DB_FILE);
    anyhow::ensure!(db.is_file(), "no feedback store at {}", db.display());
    let store = FeedbackStore::open(&data)
        .with_context(|| format!("opening the feedback store in {}", data.display()))?;
    let r = store
        .export_session(args.since, &args.out)
        .with_context(|| format!("exporting the session to {}", args.out.display()))?;
    println!(
        "exported {} ratings, {} clips, {} songs ({} bytes) to {}",
        r.ratings,
        r.generations,
        r.songs,
        r.bytes,
        args.out.display()
    );
    Ok(())
}
