//! A diffusers audio-diffusion repo (a local folder in the hub layout) as a Refrain model
//! version: the networks rebuilt in burn ([`crate::diffusers`]), exported to the three ONNX files
//! of the model contract (docs/ARCHITECTURE.md §4.1) with their weight-name maps, and a manifest
//! whose audio comes from `mel/`, schedule from `scheduler/`, latent scale from the VAE's
//! `scaling_factor`, and provenance (repo, revision, license) under `training.import`.
//!
//! A pixel-space repo (no `vqvae/`) gets identity encoder and decoder graphs and a latent that is
//! the mel image itself (scale 1), so the engine runs both kinds the same way.
use super::ImportError;
use crate::diffusers::{
    self, config, DiffusersDecoder, DiffusersEncoder, DiffusersUnet, MelConfig, SchedulerConfig,
    UnetConfig,
};
use crate::onnx::export::{export_one, Exported, DECODER_IO, ENCODER_IO, UNET_IO, VERSION_FILES};
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use refrain_engine::manifest::{
    self, BetaSchedule, LatentConfig, Manifest, Prediction, ScheduleConfig,
    UnetConfig as ManifestUnet, FORMAT_VERSION,
};
use refrain_engine::spectrogram::AudioConfig;
use serde_json::json;
use std::path::Path;

/// Where the repo came from, recorded in the manifest.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    /// Hub repo id, or the local folder given.
    pub source: String,
    /// The revision asked for (branch, tag or commit), when one was.
    pub revision: Option<String>,
    /// The commit the hub resolved, when downloaded.
    pub commit: Option<String>,
}

/// The pipeline's components as `model_index.json` names them.
#[derive(Debug, serde::Deserialize)]
struct ModelIndex {
    #[serde(rename = "_class_name", default)]
    class_name: Option<String>,
    #[serde(default)]
    unet: Option<serde_json::Value>,
    #[serde(default)]
    vqvae: Option<serde_json::Value>,
    #[serde(default)]
    mel: Option<serde_json::Value>,
}

/// Whether `model_index.json` names a component: `["diffusers", "Class"]`; a pipeline saved
/// without one writes `[null, null]` (the pixel models' `vqvae`).
fn present(component: &Option<serde_json::Value>) -> bool {
    component
        .as_ref()
        .and_then(|v| v.as_array())
        .and_then(|a| a.first())
        .is_some_and(|first| !first.is_null())
}

/// Exports the repo at `repo` into `out` (created) as version 0 named `name`.
pub fn write_version(
    repo: &Path,
    out: &Path,
    name: &str,
    provenance: &Provenance,
) -> Result<Manifest, ImportError> {
    let index_path = repo.join("model_index.json");
    let index: ModelIndex = config::read(&index_path)?;
    if !present(&index.unet) {
        return Err(ImportError::NotAPipeline {
            path: index_path,
            problem: format!(
                "has no `unet` component (class {}): not an audio-diffusion pipeline",
                index.class_name.as_deref().unwrap_or("unknown")
            ),
        });
    }
    if !present(&index.mel) {
        return Err(ImportError::NotAPipeline {
            path: index_path,
            problem: "has no `mel` component: Refrain needs the pipeline's mel settings".into(),
        });
    }
    let mel: MelConfig = config::read(&repo.join("mel/mel_config.json"))?;
    let scheduler_path = repo.join("scheduler/scheduler_config.json");
    let scheduler: SchedulerConfig = config::read(&scheduler_path)?;
    scheduler.check(&scheduler_path)?;
    let device = Device::flex();
    // The UNet graph is exported with a fixed batch (see onnx::export), so its GroupNorms can use
    // the faster reshape form.
    let (unet_config, unet) = diffusers::load_unet(repo, true, &device)?;
    let audio = audio_config(&mel);
    audio
        .validate()
        .map_err(|e| ImportError::Mel(e.to_string()))?;
    std::fs::create_dir_all(out).map_err(ImportError::io(out))?;
    let save = |e: &Exported, stem: &str| e.save(out, stem).map_err(ImportError::from);
    let mel_shape = [1, audio.n_mels, audio.frames];
    let mut parameters = json!({"unet": unet.num_params()});
    let (latent, vae_summary) = if present(&index.vqvae) {
        let (vae, encoder, decoder) = diffusers::load_vae(repo, &device)?;
        let down = 1usize << (vae.block_out_channels.len() - 1);
        if !audio.n_mels.is_multiple_of(down) || !audio.frames.is_multiple_of(down) {
            return Err(ImportError::Mel(format!(
                "a {}×{} mel image does not divide into the VAE's {down}× downsampling",
                audio.n_mels, audio.frames
            )));
        }
        let latent = LatentConfig {
            channels: vae.latent_channels,
            height: audio.n_mels / down,
            width: audio.frames / down,
            scale: vae.scaling_factor as f32,
        };
        parameters["vae"] = json!(encoder.num_params() + decoder.num_params());
        let image =
            |b: usize| Tensor::<4>::zeros([b, mel_shape[0], mel_shape[1], mel_shape[2]], &device);
        let encoder = encoder.valid();
        save(
            &export_one(
                "encoder",
                &encoder,
                ENCODER_IO,
                1,
                image,
                |m: &DiffusersEncoder, x| m.forward(x),
            )?,
            "encoder",
        )?;
        let code = |b: usize| {
            Tensor::<4>::zeros([b, latent.channels, latent.height, latent.width], &device)
        };
        let decoder = decoder.valid();
        save(
            &export_one(
                "decoder",
                &decoder,
                DECODER_IO,
                1,
                code,
                |m: &DiffusersDecoder, z| m.forward(z),
            )?,
            "decoder",
        )?;
        (
            latent,
            json!({"scaling_factor": vae.scaling_factor, "block_out_channels": vae.block_out_channels}),
        )
    } else {
        let latent = LatentConfig {
            channels: unet_config.in_channels,
            height: audio.n_mels,
            width: audio.frames,
            scale: 1.0,
        };
        if latent.channels != 1 {
            return Err(ImportError::Mel(format!(
                "a pixel-space UNet must take the 1-channel mel image, but in_channels is {}",
                latent.channels
            )));
        }
        let identity = PassThrough::default();
        let image = |b: usize| Tensor::<4>::zeros([b, 1, audio.n_mels, audio.frames], &device);
        save(
            &export_one(
                "encoder",
                &identity,
                ENCODER_IO,
                1,
                image,
                |m: &PassThrough, x| m.forward(x),
            )?,
            "encoder",
        )?;
        save(
            &export_one(
                "decoder",
                &identity,
                DECODER_IO,
                1,
                image,
                |m: &PassThrough, x| m.forward(x),
            )?,
            "decoder",
        )?;
        (latent, json!(null))
    };
    let [h, w] = unet_config.sample_size.hw();
    if [h, w] != [latent.height, latent.width] || unet_config.in_channels != latent.channels {
        tracing::warn!(
            "unet/config.json says {}×{}×{} samples but the mel and VAE give {}×{}×{}; using the latter",
            unet_config.in_channels, h, w, latent.channels, latent.height, latent.width
        );
    }
    let embedding_dim = unet_config.block_out_channels[0];
    let sample = |b: usize| {
        (
            Tensor::<4>::zeros([b, latent.channels, latent.height, latent.width], &device),
            Tensor::<2>::zeros([b, embedding_dim], &device),
        )
    };
    let unet = unet.valid();
    let unet_onnx = export_one(
        "unet",
        &unet,
        UNET_IO,
        1,
        sample,
        |m: &DiffusersUnet, (x, t)| m.forward(x, t),
    )?;
    save(&unet_onnx, "unet")?;
    let batch_sizes = unet_onnx.batch.sizes();
    let mut manifest = Manifest {
        format_version: FORMAT_VERSION,
        name: name.to_string(),
        version: 0,
        parent: None,
        created: manifest::rfc3339_utc(std::time::SystemTime::now()),
        audio,
        latent,
        schedule: schedule(&scheduler),
        unet: ManifestUnet { embedding_dim },
        files: Default::default(),
        batch_sizes,
        vocoder: None,
        training: Some(json!({
            "import": {
                "source": provenance.source,
                "revision": provenance.revision,
                "commit": provenance.commit,
                "license": license(repo),
                "pipeline": index.class_name,
                "scheduler": scheduler.class_name,
                "parameters": parameters,
                "unet": unet_summary(&unet_config),
                // A fine-tune rebuilds the network from it (finetune/network.rs).
                "unet_config": unet_config,
                "vae": vae_summary,
                "note": "the diffusers pipeline quantises its mel image to 8 bits; Refrain feeds the unquantised mel (within half a level of it)",
            }
        })),
    };
    manifest
        .hash_files(out, &VERSION_FILES)
        .map_err(|e| ImportError::Manifest(e.to_string()))?;
    manifest
        .write(out)
        .map_err(|e| ImportError::Manifest(e.to_string()))?;
    Ok(manifest)
}

/// The engine's audio config for the pipeline's `Mel`: librosa defaults (win = n_fft, fmin 0,
/// fmax = sr/2), `y_res` mel bands and `x_res` frames.
pub fn audio_config(mel: &MelConfig) -> AudioConfig {
    AudioConfig {
        sample_rate: mel.sample_rate,
        n_fft: mel.n_fft,
        hop_length: mel.hop_length,
        win_length: mel.n_fft,
        n_mels: mel.y_res,
        frames: mel.x_res,
        fmin: 0.0,
        fmax: mel.sample_rate as f32 / 2.0,
        top_db: mel.top_db,
        griffin_lim_iters: mel.n_iter,
    }
}

/// The engine's schedule for the repo's scheduler (checked with [`SchedulerConfig::check`]).
fn schedule(s: &SchedulerConfig) -> ScheduleConfig {
    ScheduleConfig {
        num_train_timesteps: s.num_train_timesteps,
        beta_start: s.beta_start,
        beta_end: s.beta_end,
        beta_schedule: if s.beta_schedule == "scaled_linear" {
            BetaSchedule::ScaledLinear
        } else {
            BetaSchedule::Linear
        },
        prediction: Prediction::Epsilon,
        clip_sample: s.clip_sample,
    }
}

fn unet_summary(c: &UnetConfig) -> serde_json::Value {
    json!({
        "block_out_channels": c.block_out_channels,
        "down_block_types": c.down_block_types,
        "up_block_types": c.up_block_types,
        "layers_per_block": c.layers_per_block,
        "attention_head_dim": c.attention_head_dim,
    })
}

/// The `license:` line of the model card's YAML header, when there is one.
fn license(repo: &Path) -> Option<String> {
    let card = std::fs::read_to_string(repo.join("README.md")).ok()?;
    let header = card.strip_prefix("---")?.split("\n---").next()?;
    header
        .lines()
        .find_map(|l| l.trim().strip_prefix("license:"))
        .map(|v| v.trim().trim_matches('"').to_string())
}

/// The identity network of a pixel-space model's encoder and decoder (the latent is the image).
#[derive(Module, Debug, Default)]
pub struct PassThrough {}

impl PassThrough {
    /// `x · 1`: a graph with one node, since an empty graph maps an input straight to an output
    /// name that the contract's renaming cannot tell apart.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        x.mul_scalar(1.0)
    }
}
