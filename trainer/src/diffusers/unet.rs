//! diffusers' `UNet2DModel` in burn, for the block types of the audio-diffusion family
//! (`DownBlock2D`, `AttnDownBlock2D`, `UNetMidBlock2D`, `UpBlock2D`, `AttnUpBlock2D`).
//!
//! The timestep enters as Refrain's `temb` input: the sinusoidal projection ([cos | sin],
//! `exp(−ln 10000 · i / half)`, diffusers' `flip_sin_to_cos = true, freq_shift = 0`) is computed
//! by the engine (`ddim::timestep_embeddings`), and the graph starts at diffusers'
//! `time_embedding` MLP. A repo with `flip_sin_to_cos = false` is imported by permuting the
//! MLP's input columns ([`DiffusersUnet::flip_time_input`]), so the engine's order still holds.
use super::blocks::{
    conv_same, Attention, Downsample2D, MidBlock2D, Norms, ResnetBlock2D, Upsample2D,
};
use super::config::UnetConfig;
use crate::model::layers::{silu, GroupNorm};
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

/// diffusers' `TimestepEmbedding`: linear → SiLU → linear.
#[derive(Module, Debug)]
pub struct TimestepEmbedding {
    /// Sinusoidal width → 4 × the first width.
    pub linear_1: Linear,
    /// 4 × the first width → itself.
    pub linear_2: Linear,
}

/// A down block: resnets (each followed by an attention in `AttnDownBlock2D`), then a stride-2
/// convolution except at the lowest level.
#[derive(Module, Debug)]
pub struct DownBlock {
    /// `layers_per_block` resnets.
    pub resnets: Vec<ResnetBlock2D>,
    /// One attention per resnet, or none.
    pub attentions: Vec<Attention>,
    /// One downsampler, or none at the last level.
    pub downsamplers: Vec<Downsample2D>,
}

/// An up block: `layers_per_block + 1` resnets, each on the concatenation of the features and
/// one skip (features first), with an attention after each in `AttnUpBlock2D`, then nearest ×2
/// and a convolution except at the top level.
#[derive(Module, Debug)]
pub struct UpBlock {
    /// The resnets.
    pub resnets: Vec<ResnetBlock2D>,
    /// One attention per resnet, or none.
    pub attentions: Vec<Attention>,
    /// One upsampler, or none at the top level.
    pub upsamplers: Vec<Upsample2D>,
}

impl crate::training::NoisePredictor for DiffusersUnet {
    fn predict(&self, sample: Tensor<4>, temb: Tensor<2>) -> Tensor<4> {
        self.forward(sample, temb)
    }
}

/// The whole noise predictor.
#[derive(Module, Debug)]
pub struct DiffusersUnet {
    /// Input convolution.
    pub conv_in: Conv2d,
    /// The time-embedding MLP.
    pub time_embedding: TimestepEmbedding,
    /// Down path, top level first.
    pub down_blocks: Vec<DownBlock>,
    /// The middle block.
    pub mid_block: MidBlock2D,
    /// Up path, lowest level first.
    pub up_blocks: Vec<UpBlock>,
    /// Output normalisation.
    pub conv_norm_out: GroupNorm,
    /// Output convolution.
    pub conv_out: Conv2d,
}

impl DiffusersUnet {
    /// The network `config` describes (checked with [`UnetConfig::check`]), weights zero or
    /// random until loaded. `reshape_norms` picks the faster GroupNorm (fixed batch).
    pub fn new(config: &UnetConfig, reshape_norms: bool, device: &Device) -> Self {
        let widths = &config.block_out_channels;
        let levels = widths.len();
        let temb = 4 * widths[0];
        let norms = Norms {
            groups: config.norm_num_groups,
            eps: config.norm_eps,
            reshape_free: !reshape_norms,
        };
        let head = config.attention_head_dim.unwrap_or(widths[0]);
        let mut down_blocks = Vec::with_capacity(levels);
        let mut out_ch = widths[0];
        for (i, kind) in config.down_block_types.iter().enumerate() {
            let in_ch = out_ch;
            out_ch = widths[i];
            let attn = kind == "AttnDownBlock2D";
            let resnets: Vec<_> = (0..config.layers_per_block)
                .map(|j| {
                    ResnetBlock2D::new(
                        if j == 0 { in_ch } else { out_ch },
                        out_ch,
                        Some(temb),
                        norms,
                        device,
                    )
                })
                .collect();
            let attentions = if attn {
                (0..config.layers_per_block)
                    .map(|_| Attention::new(out_ch, head, norms, device))
                    .collect()
            } else {
                Vec::new()
            };
            let downsamplers = if i + 1 < levels {
                vec![Downsample2D::new(out_ch, false, device)]
            } else {
                Vec::new()
            };
            down_blocks.push(DownBlock {
                resnets,
                attentions,
                downsamplers,
            });
        }
        let last = widths[levels - 1];
        let mid_head = config.add_attention.then_some(head);
        let mid_block = MidBlock2D::new(last, Some(temb), mid_head, norms, device);
        let reversed: Vec<usize> = widths.iter().rev().copied().collect();
        let mut up_blocks = Vec::with_capacity(levels);
        let mut prev_out = reversed[0];
        for (i, kind) in config.up_block_types.iter().enumerate() {
            let out_ch = reversed[i];
            let in_ch = reversed[(i + 1).min(levels - 1)];
            let layers = config.layers_per_block + 1;
            let resnets: Vec<_> = (0..layers)
                .map(|j| {
                    let skip = if j + 1 == layers { in_ch } else { out_ch };
                    let from = if j == 0 { prev_out } else { out_ch };
                    ResnetBlock2D::new(from + skip, out_ch, Some(temb), norms, device)
                })
                .collect();
            let attentions = if kind == "AttnUpBlock2D" {
                (0..layers)
                    .map(|_| Attention::new(out_ch, head, norms, device))
                    .collect()
            } else {
                Vec::new()
            };
            let upsamplers = if i + 1 < levels {
                vec![Upsample2D::new(out_ch, device)]
            } else {
                Vec::new()
            };
            up_blocks.push(UpBlock {
                resnets,
                attentions,
                upsamplers,
            });
            prev_out = out_ch;
        }
        Self {
            conv_in: conv_same(config.in_channels, widths[0], device),
            time_embedding: TimestepEmbedding {
                linear_1: LinearConfig::new(widths[0], temb).init(device),
                linear_2: LinearConfig::new(temb, temb).init(device),
            },
            down_blocks,
            mid_block,
            up_blocks,
            conv_norm_out: norms.make(widths[0], device),
            conv_out: conv_same(widths[0], config.out_channels, device),
        }
    }

    /// The predicted noise for `sample` [B, C, H, W] given the sinusoidal timestep projection
    /// `temb` [B, first width] in [cos | sin] order.
    pub fn forward(&self, sample: Tensor<4>, temb: Tensor<2>) -> Tensor<4> {
        let emb = self
            .time_embedding
            .linear_2
            .forward(silu(self.time_embedding.linear_1.forward(temb)));
        let emb = Some(&emb);
        let mut h = self.conv_in.forward(sample);
        let mut skips = vec![h.clone()];
        for block in &self.down_blocks {
            for (j, resnet) in block.resnets.iter().enumerate() {
                h = resnet.forward(h, emb);
                if let Some(attn) = block.attentions.get(j) {
                    h = attn.forward(h);
                }
                skips.push(h.clone());
            }
            for down in &block.downsamplers {
                h = down.forward(h);
                skips.push(h.clone());
            }
        }
        h = self.mid_block.forward(h, emb);
        for block in &self.up_blocks {
            for (j, resnet) in block.resnets.iter().enumerate() {
                // Skips were pushed top level first: the last one belongs to the first resnet.
                if let Some(skip) = skips.pop() {
                    h = Tensor::cat(vec![h, skip], 1);
                }
                h = resnet.forward(h, emb);
                if let Some(attn) = block.attentions.get(j) {
                    h = attn.forward(h);
                }
            }
            for up in &block.upsamplers {
                h = up.forward(h);
            }
        }
        self.conv_out.forward(silu(self.conv_norm_out.forward(h)))
    }
}
