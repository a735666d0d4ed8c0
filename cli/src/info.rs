//! `refrain info`: what this engine would run with.
use super::model_dir;
use anyhow::Result;
use refrain_engine::model::Provider;
use refrain_engine::{runtime, spectrogram::AudioConfig};
use std::path::PathBuf;

/// Arguments of `refrain info`.
#[derive(clap::Args)]
pub struct Args {
    /// Model version directory (default: the current version, else the shipped base).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Execution provider to try: auto, cpu or cuda.
    #[arg(long, default_value = "auto")]
    provider: Provider,
}

/// Prints the runtime, the providers, and the model with the provider it actually gets.
pub fn run(args: &Args) -> Result<()> {
    println!("refrain-engine {}", refrain_engine::VERSION);
    match runtime::init() {
        Ok(info) => {
            println!(
                "onnx runtime: {} ({})",
                info.version,
                info.library.display()
            );
            println!("providers available: {}", info.providers.join(", "));
        }
        Err(e) => println!("onnx runtime: not available: {e}"),
    }
    let dir = match model_dir::resolve(args.model.as_deref()) {
        Ok(dir) => dir,
        Err(e) => {
            let config = AudioConfig::default();
            println!("model: none ({e})");
            println!(
                "default audio: {} Hz, {} mels × {} frames",
                config.sample_rate, config.n_mels, config.frames
            );
            return Ok(());
        }
    };
    let model = model_dir::load(&dir, args.provider)?;
    let m = model.manifest();
    println!(
        "model: {} v{} (parent {:?}) from {}",
        m.name,
        m.version,
        m.parent,
        dir.display()
    );
    println!(
        "provider: {} (asked for {})",
        model.provider(),
        args.provider
    );
    for warning in model.warnings() {
        println!("warning: {warning}");
    }
    let a = &m.audio;
    println!(
        "audio: {} Hz mono, n_fft {}, hop {}, {} mels × {} frames ({:.2} s), top_db {}, Griffin-Lim {}",
        a.sample_rate, a.n_fft, a.hop_length, a.n_mels, a.frames, a.window_secs(), a.top_db, a.griffin_lim_iters
    );
    let l = &m.latent;
    println!(
        "latent: {}×{}×{} (scale {}), UNet batch sizes {:?}",
        l.channels, l.height, l.width, l.scale, m.batch_sizes
    );
    Ok(())
}
