//! `refrain-trainer import <hub repo id | local dir>`: a diffusers audio-diffusion repo (the
//! paper's models, teticio's) as a model version in the data dir.
use super::location::DataDirArg;
use anyhow::{Context, Result};
use refrain_trainer::import::download::{fetch_repo, DownloadOptions};
use refrain_trainer::import::install::default_name;
use refrain_trainer::import::{install, InstallOptions, Provenance};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Arguments of `import`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A hub repo id (`teticio/latent-audio-diffusion-256`) or a local folder in the hub layout
    /// (model_index.json, unet/, vqvae/, mel/, scheduler/).
    pub source: String,
    /// Branch, tag or commit to download (default: main).
    #[arg(long)]
    pub revision: Option<String>,
    /// Version name in the data dir (default: owner--name, or the folder's name).
    #[arg(long)]
    pub name: Option<String>,
    /// The data dir.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Downloads (unless local), rebuilds, exports, checks and installs.
pub fn run(args: &Args) -> Result<()> {
    let local = PathBuf::from(&args.source);
    let (repo, commit) = if local.is_dir() {
        (local, None)
    } else {
        let options = DownloadOptions {
            revision: args.revision.clone(),
            progress: std::io::stderr().is_terminal(),
            ..DownloadOptions::new(args.source.clone())
        };
        let snapshot = fetch_repo(&options)?;
        println!("downloaded {} to {}", args.source, snapshot.dir.display());
        (snapshot.dir, snapshot.commit)
    };
    let (data_dir, _) = args.data.resolve()?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| default_name(&args.source));
    let options = InstallOptions {
        data_dir,
        name,
        provenance: Provenance {
            source: args.source.clone(),
            revision: args.revision.clone(),
            commit,
        },
    };
    let installed =
        install(&repo, &options).with_context(|| format!("importing {}", args.source))?;
    let m = &installed.manifest;
    let import = m.training.as_ref().and_then(|t| t.get("import"));
    let license = import
        .and_then(|i| i.get("license"))
        .and_then(|l| l.as_str())
        .unwrap_or("not stated in the model card");
    println!(
        "installed {} in {} (mel {}×{} at {} Hz, latent {}×{}×{} × {:.5}, {} DDIM schedule{}); license: {license}",
        m.name,
        installed.dir.display(),
        m.audio.n_mels,
        m.audio.frames,
        m.audio.sample_rate,
        m.latent.channels,
        m.latent.height,
        m.latent.width,
        m.latent.scale,
        m.schedule.num_train_timesteps,
        if m.schedule.clip_sample { " with clipping" } else { "" },
    );
    println!(
        "use it with: refrain vary SONG --model {} (the current model is unchanged)",
        m.name
    );
    Ok(())
}
