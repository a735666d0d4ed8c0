//! The JSON configs of a diffusers `AudioDiffusionPipeline` repo (`model_index.json`,
//! `unet/config.json`, `vqvae/config.json`, `mel/mel_config.json`,
//! `scheduler/scheduler_config.json`), read with serde and checked against what the burn
//! networks here implement. Unknown fields are ignored (diffusers adds them over versions);
//! fields that change the maths and that we do not implement are refused by name.
use super::DiffusersError;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Block types this importer builds (the audio-diffusion family uses exactly these).
pub const SUPPORTED_BLOCKS: &[&str] = &[
    "DownBlock2D",
    "AttnDownBlock2D",
    "UpBlock2D",
    "AttnUpBlock2D",
    "UNetMidBlock2D",
    "DownEncoderBlock2D",
    "UpDecoderBlock2D",
];

/// `unet/config.json` of a `UNet2DModel` (serialised back into an imported version's manifest,
/// from which a fine-tune rebuilds the network).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct UnetConfig {
    /// Input channels (latent channels, or 1 for a pixel model).
    pub in_channels: usize,
    /// Output channels (the predicted noise).
    pub out_channels: usize,
    /// Side of the square sample (32 for the latent models, 256 for the pixel ones).
    pub sample_size: SampleSize,
    /// Resnets per down block (up blocks have one more).
    pub layers_per_block: usize,
    /// Width of each resolution level.
    pub block_out_channels: Vec<usize>,
    /// One type per level, from the top.
    pub down_block_types: Vec<String>,
    /// One type per level, from the bottom.
    pub up_block_types: Vec<String>,
    /// The middle block's type (`UNetMidBlock2D`; `null` means none, which we refuse).
    #[serde(default = "mid_block_default")]
    pub mid_block_type: Option<String>,
    /// Channels per attention head.
    #[serde(default)]
    pub attention_head_dim: Option<usize>,
    /// GroupNorm groups.
    #[serde(default = "groups_default")]
    pub norm_num_groups: usize,
    /// GroupNorm epsilon.
    #[serde(default = "eps_default")]
    pub norm_eps: f64,
    /// Activation; only `silu` is implemented.
    #[serde(default = "silu")]
    pub act_fn: String,
    /// Sinusoidal embedding order: `[cos | sin]` when true.
    #[serde(default = "yes")]
    pub flip_sin_to_cos: bool,
    /// Shift of the frequency exponent's denominator; only 0 matches the engine's `temb`.
    #[serde(default)]
    pub freq_shift: f64,
    /// Padding of the down blocks' stride-2 convolutions.
    #[serde(default = "one")]
    pub downsample_padding: usize,
    /// Scale of the middle block's residual outputs.
    #[serde(default = "one_f")]
    pub mid_block_scale_factor: f64,
    /// `positional` (sinusoidal) is implemented; `fourier` is refused.
    #[serde(default = "positional")]
    pub time_embedding_type: String,
    /// Must be false: centring would change the input range.
    #[serde(default)]
    pub center_input_sample: bool,
    /// Must be `default` (additive timestep shift).
    #[serde(default = "default_shift")]
    pub resnet_time_scale_shift: String,
    /// Class conditioning is not part of this family; refused when set.
    #[serde(default)]
    pub class_embed_type: Option<String>,
    /// Class conditioning is not part of this family; refused when set.
    #[serde(default)]
    pub num_class_embeds: Option<usize>,
    /// Must be absent or 4 × the first width.
    #[serde(default)]
    pub time_embedding_dim: Option<usize>,
    /// Whether the middle block has attention.
    #[serde(default = "yes")]
    pub add_attention: bool,
}

/// `vqvae/config.json` of an `AutoencoderKL` (the family's VAE, despite the folder's name).
#[derive(Debug, Clone, Deserialize)]
pub struct VaeConfig {
    /// Image channels in (1: a mel image).
    pub in_channels: usize,
    /// Image channels out.
    pub out_channels: usize,
    /// Latent channels.
    pub latent_channels: usize,
    /// Width of each level, from the top.
    pub block_out_channels: Vec<usize>,
    /// One type per level (`DownEncoderBlock2D`).
    pub down_block_types: Vec<String>,
    /// One type per level (`UpDecoderBlock2D`).
    pub up_block_types: Vec<String>,
    /// Resnets per encoder block (decoder blocks have one more).
    #[serde(default = "one")]
    pub layers_per_block: usize,
    /// GroupNorm groups.
    #[serde(default = "groups_default")]
    pub norm_num_groups: usize,
    /// Activation; only `silu` is implemented.
    #[serde(default = "silu")]
    pub act_fn: String,
    /// Multiplies latents before the UNet sees them.
    #[serde(default = "sd_scale")]
    pub scaling_factor: f64,
    /// Whether the middle blocks have attention.
    #[serde(default = "yes")]
    pub mid_block_add_attention: bool,
    /// The 1×1 convolution after the encoder.
    #[serde(default = "yes")]
    pub use_quant_conv: bool,
    /// The 1×1 convolution before the decoder.
    #[serde(default = "yes")]
    pub use_post_quant_conv: bool,
    /// Must be absent: a shifted latent space is not part of the engine's contract.
    #[serde(default)]
    pub shift_factor: Option<f64>,
}

/// `mel/mel_config.json` of the pipeline's `Mel` component.
#[derive(Debug, Clone, Deserialize)]
pub struct MelConfig {
    /// Frames of the mel image.
    pub x_res: usize,
    /// Mel bands of the mel image.
    pub y_res: usize,
    /// Audio rate.
    pub sample_rate: u32,
    /// FFT size.
    pub n_fft: usize,
    /// Hop between frames.
    pub hop_length: usize,
    /// dB floor below the maximum.
    pub top_db: f32,
    /// Griffin-Lim iterations the pipeline uses.
    pub n_iter: usize,
}

/// `scheduler/scheduler_config.json` (DDPM or DDIM; both give the training schedule).
#[derive(Debug, Clone, Deserialize)]
pub struct SchedulerConfig {
    /// `DDPMScheduler` or `DDIMScheduler`.
    #[serde(rename = "_class_name")]
    pub class_name: String,
    /// Training timesteps.
    #[serde(default = "thousand")]
    pub num_train_timesteps: usize,
    /// First β.
    #[serde(default = "beta_start")]
    pub beta_start: f64,
    /// Last β.
    #[serde(default = "beta_end")]
    pub beta_end: f64,
    /// `linear` or `scaled_linear`.
    #[serde(default = "linear")]
    pub beta_schedule: String,
    /// `epsilon` is implemented.
    #[serde(default = "epsilon")]
    pub prediction_type: String,
    /// Clamp the x₀ estimate of every step to [−1, 1].
    #[serde(default = "yes")]
    pub clip_sample: bool,
    /// Explicit betas are not supported.
    #[serde(default)]
    pub trained_betas: Option<serde_json::Value>,
}

/// Either an integer or a `[h, w]` pair, as diffusers allows.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(untagged)]
pub enum SampleSize {
    /// A square sample.
    Square(usize),
    /// Height and width.
    Rect([usize; 2]),
}

impl SampleSize {
    /// `[height, width]`.
    pub fn hw(self) -> [usize; 2] {
        match self {
            Self::Square(s) => [s, s],
            Self::Rect(hw) => hw,
        }
    }
}

fn mid_block_default() -> Option<String> {
    Some("UNetMidBlock2D".into())
}
fn groups_default() -> usize {
    32
}
fn eps_default() -> f64 {
    1e-5
}
fn silu() -> String {
    "silu".into()
}
fn yes() -> bool {
    true
}
fn one() -> usize {
    1
}
fn one_f() -> f64 {
    1.0
}
fn positional() -> String {
    "positional".into()
}
fn default_shift() -> String {
    "default".into()
}
fn sd_scale() -> f64 {
    0.18215
}
fn thousand() -> usize {
    1000
}
fn beta_start() -> f64 {
    1e-4
}
fn beta_end() -> f64 {
    0.02
}
fn linear() -> String {
    "linear".into()
}
fn epsilon() -> String {
    "epsilon".into()
}

/// Reads and parses one JSON config file.
pub fn read<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, DiffusersError> {
    let text = std::fs::read_to_string(path).map_err(|source| DiffusersError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| DiffusersError::Config {
        path: path.to_path_buf(),
        problem: e.to_string(),
    })
}
