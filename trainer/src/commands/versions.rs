//! `refrain-trainer versions` (every model version, whether it verifies, which is current, its
//! metrics from the store) and `refrain-trainer rollback N`.
use super::location::Location;
use anyhow::{Context, Result};
use refrain_engine::feedback::{FeedbackStore, ModelVersion, DB_FILE};
use refrain_engine::locator;
use refrain_trainer::versions::{self, VersionEntry};
use std::collections::BTreeMap;
use std::error::Error;
use std::path::Path;

/// Arguments of `refrain-trainer versions`.
#[derive(clap::Args)]
pub struct Args {
    /// The data dir and shipped base.
    #[command(flatten)]
    location: Location,
}

/// Arguments of `refrain-trainer rollback`.
#[derive(clap::Args)]
pub struct RollbackArgs {
    /// The version to make current: `2` or `v2` (0 is the shipped base), or the name of an
    /// imported version (`refrain-trainer import`).
    version: String,
    /// The data dir and shipped base.
    #[command(flatten)]
    location: Location,
}

/// `N` or `vN`, as the listing prints numbered versions; anything else names an import.
fn parse_version(s: &str) -> Option<u32> {
    s.strip_prefix('v').unwrap_or(s).parse().ok()
}

/// Prints the version table, then each problem in full.
pub fn run(args: &Args) -> Result<()> {
    let (data, base) = args.location.resolve()?;
    let list = versions::list_versions(&data, &base)?;
    let registered = registered_versions(&data);
    println!(
        "{:<8} {:<7} {:<21} {:<8} {:<8} metrics",
        "version", "parent", "created", "files", "current"
    );
    for entry in &list {
        let metrics = registered
            .get(&entry.version)
            .map_or("-".into(), |v| v.metrics.to_string());
        println!("{}", row(&version_label(entry), entry, &metrics));
    }
    for (v, reg) in &registered {
        if !list.iter().any(|e| e.version == *v) {
            let parent = reg.parent.map_or("-".into(), |p| format!("v{p}"));
            println!(
                "{:<8} {parent:<7} {:<21} {:<8} {:<8} {}",
                format!("v{v}"),
                "-",
                "no dir",
                "",
                reg.metrics
            );
        }
    }
    for entry in list.iter().filter(|e| e.problem.is_some()) {
        if let Some(problem) = &entry.problem {
            println!(
                "v{} ({}): {}",
                entry.version,
                entry.dir.display(),
                chain(problem)
            );
        }
    }
    let imported = versions::list_imported(&data, &base);
    for (name, entry) in &imported {
        // Where it came from in the metrics column: imports have no rating metrics of their own.
        let source = entry
            .manifest
            .as_ref()
            .and_then(|m| {
                m.training
                    .as_ref()?
                    .get("import")?
                    .get("source")?
                    .as_str()
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "-".into());
        println!("{}", row(name, entry, &format!("import of {source}")));
        if let Some(problem) = &entry.problem {
            println!("{name} ({}): {}", entry.dir.display(), chain(problem));
        }
    }
    let current = locator::current_version_dir(&data, &base);
    if !list.iter().any(|e| e.is_current) && !imported.iter().any(|(_, e)| e.is_current) {
        println!("current: {} (not a v<N> directory)", current.display());
    }
    Ok(())
}

/// A numbered version's label: `v3`, or `v0 base`.
fn version_label(entry: &VersionEntry) -> String {
    if entry.is_base {
        format!("v{} base", entry.version)
    } else {
        format!("v{}", entry.version)
    }
}

/// One table row: `label`, the entry's checks, and `last` (metrics, or an import's source).
fn row(label: &str, entry: &VersionEntry, last: &str) -> String {
    let (parent, created) = match &entry.manifest {
        Some(m) => (
            m.parent.map_or("-".into(), |p| format!("v{p}")),
            m.created.clone(),
        ),
        None => ("?".into(), "?".into()),
    };
    let files = if entry.problem.is_none() {
        "ok"
    } else {
        "FAILED"
    };
    let current = if entry.is_current { "*" } else { "" };
    format!("{label:<8} {parent:<7} {created:<21} {files:<8} {current:<8} {last}")
}

/// The store's registered versions by number; empty (with a note) when there is no store.
fn registered_versions(data: &Path) -> BTreeMap<u32, ModelVersion> {
    // Listing must not create a store in a data dir that has none.
    if !data.join(DB_FILE).is_file() {
        return BTreeMap::new();
    }
    let read = || -> Result<Vec<ModelVersion>> {
        let store = FeedbackStore::open(data).context("opening the feedback store")?;
        Ok(store.model_versions()?)
    };
    match read() {
        Ok(list) => list.into_iter().map(|v| (v.version, v)).collect(),
        Err(e) => {
            println!("(no metrics: {e:#})");
            BTreeMap::new()
        }
    }
}

/// An error with its sources, `outer: inner: ...`.
fn chain(e: &dyn Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Verifies the version and points `models/current` at it.
pub fn rollback(args: &RollbackArgs) -> Result<()> {
    let (data, base) = args.location.resolve()?;
    let Some(number) = parse_version(&args.version) else {
        let done = versions::use_imported(&data, &base, &args.version).with_context(|| {
            format!(
                "making the import {:?} current refused; nothing changed",
                args.version
            )
        })?;
        println!(
            "current model: {} ({}), was {}",
            done.manifest.name,
            done.to.display(),
            done.from.display()
        );
        return Ok(());
    };
    let done = versions::rollback(&data, &base, number)
        .with_context(|| format!("rollback to v{number} refused; nothing changed"))?;
    println!(
        "current model: v{} ({}), was {}",
        done.manifest.version,
        done.to.display(),
        done.from.display()
    );
    if number == versions::BASE_VERSION {
        println!("(removed models/current: the engine falls back to the shipped base)");
    }
    Ok(())
}
