//! `refrain-trainer corpus`: build the pretraining corpus cache.
use anyhow::{Context, Result};
use refrain_trainer::corpus::{self, BuildOptions};
use std::path::PathBuf;

/// Arguments of `refrain-trainer corpus`.
#[derive(clap::Args)]
pub struct Args {
    /// Installed Debian packages whose audio files go in (repeat the flag).
    #[arg(long = "package")]
    packages: Vec<String>,
    /// Synthesised loops to add.
    #[arg(long, default_value_t = 300)]
    synth: usize,
    /// Corpus directory (outside git; large).
    #[arg(long)]
    out: PathBuf,
    /// Window stride as a fraction of the window (0.5 = 50 % overlap).
    #[arg(long, default_value_t = 1.0)]
    stride: f64,
    /// Also write the manifest here (the copy committed to the repository).
    #[arg(long)]
    manifest_copy: Option<PathBuf>,
}

/// Builds the corpus and prints its summary.
pub fn run(args: &Args) -> Result<()> {
    let sources = args
        .packages
        .iter()
        .map(|p| corpus::package_source(p))
        .collect::<Result<Vec<_>, _>>()?;
    let mut options = BuildOptions::new(args.out.clone(), args.synth);
    options.stride = args.stride;
    let manifest = corpus::build(&sources, &options)?;
    println!(
        "corpus: {} windows ({} held out), {:.1} min of audio, in {}",
        manifest.windows,
        manifest.heldout_windows,
        manifest.duration_s / 60.0,
        args.out.display()
    );
    if let Some(copy) = &args.manifest_copy {
        let text = std::fs::read_to_string(args.out.join("manifest.json"))?;
        std::fs::write(copy, text).with_context(|| format!("writing {}", copy.display()))?;
        println!("manifest copied to {}", copy.display());
    }
    Ok(())
}
