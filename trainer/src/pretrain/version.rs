//! A model version directory from pretraining checkpoints (docs/ARCHITECTURE.md §4.1): the three ONNX
//! graphs through [`crate::onnx::export`], their weight-name maps, and `manifest.json`.
use super::state::{checkpoint_dir, load_module, read_loss_log, TrainState};
use super::{Autoencoder, PretrainError};
use crate::corpus::Corpus;
use crate::model::{AutoencoderConfig, Unet, UnetConfig};
use crate::onnx::export::{export_decoder, export_encoder, export_unet, Exported, VERSION_FILES};
use crate::versions::{write_guard, GUARD_FILE};
use burn::module::Module;
use burn::tensor::Device;
use refrain_engine::manifest::{
    self, LatentConfig, Manifest, ScheduleConfig, UnetConfig as ManifestUnet, FORMAT_VERSION,
};
use refrain_engine::spectrogram::AudioConfig;
use serde_json::json;
use std::path::{Path, PathBuf};

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Checkpoint root holding `autoencoder/` and (optionally) `unet/`.
    pub checkpoints: PathBuf,
    /// The version directory to write.
    pub out: PathBuf,
    /// The manifest's `name`.
    pub name: String,
    /// Batch size baked into a graph the exporter cannot make dynamic.
    pub fixed_batch: usize,
    /// The pretraining corpus: when given, its held-out windows' latents ship as the
    /// fine-tune's forgetting guard ([`GUARD_FILE`]).
    pub corpus: Option<PathBuf>,
}

/// Held-out windows encoded into the guard file.
const GUARD_WINDOWS: usize = 32;

/// Exports the checkpoints as version 0 (the base) and returns the written manifest.
///
/// The UNet exported is the EMA of its weights. Without a UNet checkpoint the version still
/// exports (so the autoencoder can be heard) with an untrained UNet, and `training` says so.
pub fn export_version(options: &ExportOptions) -> Result<Manifest, PretrainError> {
    let ae_root = options.checkpoints.join("autoencoder");
    let ae_dir = checkpoint_dir(&ae_root).ok_or_else(|| {
        PretrainError::Invalid(format!(
            "no autoencoder checkpoint in {}",
            ae_root.display()
        ))
    })?;
    let ae_state = TrainState::load(&ae_dir)?
        .ok_or_else(|| PretrainError::Invalid(format!("{}: no state.json", ae_dir.display())))?;
    let unet_root = options.checkpoints.join("unet");
    let unet_ckpt = match checkpoint_dir(&unet_root) {
        Some(dir) => TrainState::load(&dir)?.map(|s| (dir, s)),
        None => None,
    };
    let device = Device::flex();
    let ae = Autoencoder::load(&ae_state.autoencoder, &ae_dir, &device)?;
    let (unet_config, unet) = match &unet_ckpt {
        Some((dir, state)) => {
            let config = state.unet.clone().ok_or_else(|| {
                PretrainError::Invalid(format!("{}: not a UNet checkpoint", dir.display()))
            })?;
            let unet = load_module(config.init(&device)?, dir, "ema.bpk")?;
            (config, unet)
        }
        None => {
            tracing::warn!(
                "no UNet checkpoint in {}: exporting an untrained UNet",
                unet_root.display()
            );
            let config = UnetConfig {
                latent_channels: ae_state.autoencoder.latent_channels,
                ..UnetConfig::default()
            };
            let unet = config.init(&device)?;
            (config, unet)
        }
    };

    let audio = ae_state.audio.clone();
    let f = ae_state.autoencoder.downsampling();
    let shape = [
        ae_state.autoencoder.latent_channels,
        audio.n_mels / f,
        audio.frames / f,
    ];
    let scale = match &unet_ckpt {
        Some((_, s)) => s.latent_scale,
        None => ae_state.latent_std.map(|std| 1.0 / std.max(1e-8)),
    }
    .unwrap_or(1.0);

    let guard = match &options.corpus {
        Some(dir) => Some(guard_latents(dir, &ae, scale, &device)?),
        None => None,
    };
    let training = training_summary(
        &options.checkpoints,
        &ae_state,
        unet_ckpt.as_ref().map(|(_, s)| s),
        &unet_config,
    )?;
    let nets = Networks {
        ae: &ae,
        unet: &unet,
        embedding_dim: unet_config.embedding_dim,
        audio,
        shape,
        scale,
    };
    write_networks(
        &options.out,
        &options.name,
        options.fixed_batch,
        &nets,
        guard,
        training,
    )
}

/// The trained (or initialised) networks of a version and what describes them.
struct Networks<'a> {
    ae: &'a Autoencoder,
    unet: &'a Unet,
    embedding_dim: usize,
    audio: AudioConfig,
    shape: [usize; 3],
    scale: f32,
}

/// Exports the three graphs, the guard latents when given, and `manifest.json` as version 0.
fn write_networks(
    out: &Path,
    name: &str,
    fixed_batch: usize,
    nets: &Networks<'_>,
    guard: Option<Vec<Vec<f32>>>,
    training: serde_json::Value,
) -> Result<Manifest, PretrainError> {
    let (audio, shape) = (&nets.audio, nets.shape);
    std::fs::create_dir_all(out).map_err(PretrainError::io(out))?;
    let b = fixed_batch;
    let save = |e: &Exported, stem: &str| e.save(out, stem).map_err(PretrainError::from);
    let encoder = export_encoder(&nets.ae.encoder, [1, audio.n_mels, audio.frames], b)?;
    save(&encoder, "encoder")?;
    let decoder = export_decoder(&nets.ae.decoder, shape, b)?;
    save(&decoder, "decoder")?;
    let unet_onnx = export_unet(nets.unet, shape, nets.embedding_dim, b)?;
    save(&unet_onnx, "unet")?;
    let mut files: Vec<&str> = VERSION_FILES.to_vec();
    if let Some(guard) = guard {
        let path = out.join(GUARD_FILE);
        write_guard(out, &guard).map_err(PretrainError::io(&path))?;
        files.push(GUARD_FILE);
    }
    let batch_sizes = unet_onnx.batch.sizes();
    for (name, e) in [
        ("encoder", &encoder),
        ("decoder", &decoder),
        ("unet", &unet_onnx),
    ] {
        tracing::info!("{name}.onnx: batch {:?}, {} bytes", e.batch, e.onnx.len());
    }

    let mut manifest = Manifest {
        format_version: FORMAT_VERSION,
        name: name.to_string(),
        version: 0,
        parent: None,
        created: manifest::rfc3339_utc(std::time::SystemTime::now()),
        audio: audio.clone(),
        latent: LatentConfig {
            channels: shape[0],
            height: shape[1],
            width: shape[2],
            scale: nets.scale,
        },
        schedule: ScheduleConfig::default(),
        unet: ManifestUnet {
            embedding_dim: nets.embedding_dim,
        },
        files: Default::default(),
        batch_sizes,
        vocoder: None,
        training: Some(training),
    };
    manifest
        .hash_files(out, &files)
        .map_err(PretrainError::engine)?;
    manifest.write(out).map_err(PretrainError::engine)?;
    Ok(manifest)
}

/// Exports randomly initialised networks of the given sizes as a version (tests and
/// simulations need real burn-exported graphs fast, without pretraining). `guard` latents are
/// written as the version's forgetting guard when given.
pub fn export_initialised(
    out: &Path,
    audio: AudioConfig,
    autoencoder: &AutoencoderConfig,
    unet: &UnetConfig,
    seed: u64,
    guard: Option<Vec<Vec<f32>>>,
) -> Result<Manifest, PretrainError> {
    // Held until the export below has drawn every weight (see `seeded_init_lock`): the same
    // seed then gives the same networks however many tests initialise at once.
    let _rng = crate::training::seeded_init_lock();
    let device = Device::flex();
    device.seed(seed);
    let ae = Autoencoder::init(autoencoder, &device)?;
    let net = unet.init(&device)?;
    let f = autoencoder.downsampling();
    let nets = Networks {
        ae: &ae,
        unet: &net,
        embedding_dim: unet.embedding_dim,
        shape: [
            autoencoder.latent_channels,
            audio.n_mels / f,
            audio.frames / f,
        ],
        audio,
        scale: 1.0,
    };
    let training = json!({
        "note": "randomly initialised networks (tests and simulations), not trained",
        "autoencoder": { "config": autoencoder },
        "unet": { "config": unet },
    });
    write_networks(out, "initialised", 1, &nets, guard, training)
}

/// Scaled latents of up to [`GUARD_WINDOWS`] held-out corpus windows (posterior means).
fn guard_latents(
    corpus: &Path,
    ae: &Autoencoder,
    scale: f32,
    device: &Device,
) -> Result<Vec<Vec<f32>>, PretrainError> {
    let corpus = Corpus::open(corpus)?;
    let (_, eval) = super::data::splits(&corpus, GUARD_WINDOWS);
    let encoder = ae.encoder.valid();
    let mut out = Vec::with_capacity(eval.len());
    for chunk in eval.chunks(8) {
        let latent = encoder.forward(super::data::mel_batch(&corpus, chunk, device));
        let values = latent
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| PretrainError::Invalid(format!("encoder output is not f32: {e:?}")))?;
        let n = values.len() / chunk.len().max(1);
        out.extend(
            values
                .chunks(n.max(1))
                .map(|l| l.iter().map(|v| v * scale).collect::<Vec<f32>>()),
        );
    }
    Ok(out)
}

/// The manifest's `training`: corpus, sizes, steps, final and held-out losses per stage.
fn training_summary(
    root: &Path,
    ae: &TrainState,
    unet: Option<&TrainState>,
    unet_config: &UnetConfig,
) -> Result<serde_json::Value, PretrainError> {
    let stage = |name: &str, s: Option<&TrainState>| -> Result<serde_json::Value, PretrainError> {
        let Some(s) = s else {
            return Ok(json!({ "steps": 0, "note": "untrained: random weights" }));
        };
        let log = read_loss_log(&root.join(name))?;
        // Losses from before the UNet's latents last changed were measured on other latents.
        let since = s.ema_since.unwrap_or(0);
        let best_heldout = log
            .iter()
            .filter(|r| r.step > since && r.step <= s.step)
            .filter_map(|r| r.heldout)
            .fold(None, |m: Option<f32>, h| Some(m.map_or(h, |m| m.min(h))));
        Ok(json!({
            "steps": s.step,
            "batch": s.batch,
            "lr": s.lr,
            "final_train_loss": s.train_loss,
            "final_heldout_loss": s.heldout_loss,
            "best_heldout_loss": best_heldout,
        }))
    };
    Ok(json!({
        "corpus": ae.corpus,
        "autoencoder": {
            "config": ae.autoencoder,
            "loss": "L1 on model-range mel (held-out: posterior mean) + KL + detail (L1 of frame-to-frame and band-to-band changes)",
            "kl_weight": ae.kl_weight,
            "detail_weight": ae.detail_weight,
            "crop_frames": ae.crop_frames,
            "latent_std": ae.latent_std,
            "run": stage("autoencoder", Some(ae))?,
        },
        "unet": {
            "config": unet_config,
            "loss": "epsilon MSE, min-SNR-5 weighted; timesteps 80% < 0.7T; EMA weights exported",
            "ema_decay": unet.and_then(|s| s.ema_decay),
            "autoencoder_step": unet.and_then(|s| s.autoencoder_step),
            "trained_on_these_latents_since_step": unet.and_then(|s| s.ema_since),
            "run": stage("unet", unet)?,
        },
    }))
}
