//! diffusers' `AutoencoderKL` in burn, split the way Refrain's model contract runs it: an
//! encoder network (mel image → posterior mean) and a decoder network (latent → mel image),
//! each loadable from the same weight file by its key prefix (`encoder.`/`quant_conv.` and
//! `decoder.`/`post_quant_conv.`).
use super::blocks::{
    conv1x1, conv_same, Downsample2D, MidBlock2D, Norms, ResnetBlock2D, Upsample2D,
};
use super::config::VaeConfig;
use crate::model::layers::{silu, GroupNorm};
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Tensor};

/// diffusers' VAE GroupNorm epsilon (the UNet's is the config's `norm_eps`).
const VAE_EPS: f64 = 1e-6;

/// `DownEncoderBlock2D`: resnets, then a stride-2 convolution except at the lowest level.
#[derive(Module, Debug)]
pub struct EncoderBlock {
    /// The resnets.
    pub resnets: Vec<ResnetBlock2D>,
    /// One downsampler, or none.
    pub downsamplers: Vec<Downsample2D>,
}

/// `UpDecoderBlock2D`: resnets, then nearest ×2 and a convolution except at the top level.
#[derive(Module, Debug)]
pub struct DecoderBlock {
    /// The resnets.
    pub resnets: Vec<ResnetBlock2D>,
    /// One upsampler, or none.
    pub upsamplers: Vec<Upsample2D>,
}

/// diffusers' `Encoder`.
#[derive(Module, Debug)]
pub struct VaeEncoderBody {
    /// Input convolution.
    pub conv_in: Conv2d,
    /// Down path.
    pub down_blocks: Vec<EncoderBlock>,
    /// Middle block (single-head attention).
    pub mid_block: MidBlock2D,
    /// Output normalisation.
    pub conv_norm_out: GroupNorm,
    /// To 2 × latent channels (mean and log-variance).
    pub conv_out: Conv2d,
}

/// diffusers' `Decoder`.
#[derive(Module, Debug)]
pub struct VaeDecoderBody {
    /// Input convolution.
    pub conv_in: Conv2d,
    /// Middle block.
    pub mid_block: MidBlock2D,
    /// Up path, lowest level first.
    pub up_blocks: Vec<DecoderBlock>,
    /// Output normalisation.
    pub conv_norm_out: GroupNorm,
    /// To image channels.
    pub conv_out: Conv2d,
}

/// Mel image → posterior mean (unscaled; the engine applies the manifest's latent scale).
#[derive(Module, Debug)]
pub struct DiffusersEncoder {
    /// The encoder body.
    pub encoder: VaeEncoderBody,
    /// The 1×1 convolution on the moments, when the config has one.
    pub quant_conv: Option<Conv2d>,
    /// Latent channels (the mean is the first half of the moments).
    pub latent_channels: usize,
}

/// Latent (unscaled) → mel image.
#[derive(Module, Debug)]
pub struct DiffusersDecoder {
    /// The 1×1 convolution before the decoder, when the config has one.
    pub post_quant_conv: Option<Conv2d>,
    /// The decoder body.
    pub decoder: VaeDecoderBody,
}

fn norms(config: &VaeConfig) -> Norms {
    // The reshape-free GroupNorm keeps the encoder's and decoder's batch axis dynamic.
    Norms {
        groups: config.norm_num_groups,
        eps: VAE_EPS,
        reshape_free: true,
    }
}

impl DiffusersEncoder {
    /// The encoder `config` describes (checked with [`VaeConfig::check`]).
    pub fn new(config: &VaeConfig, device: &Device) -> Self {
        let norms = norms(config);
        let widths = &config.block_out_channels;
        let levels = widths.len();
        let mut out_ch = widths[0];
        let mut down_blocks = Vec::with_capacity(levels);
        for (i, &width) in widths.iter().enumerate() {
            let in_ch = out_ch;
            out_ch = width;
            let resnets = (0..config.layers_per_block)
                .map(|j| {
                    ResnetBlock2D::new(
                        if j == 0 { in_ch } else { out_ch },
                        out_ch,
                        None,
                        norms,
                        device,
                    )
                })
                .collect();
            let downsamplers = if i + 1 < levels {
                vec![Downsample2D::new(out_ch, true, device)]
            } else {
                Vec::new()
            };
            down_blocks.push(EncoderBlock {
                resnets,
                downsamplers,
            });
        }
        let last = widths[levels - 1];
        let moments = 2 * config.latent_channels;
        Self {
            encoder: VaeEncoderBody {
                conv_in: conv_same(config.in_channels, widths[0], device),
                down_blocks,
                mid_block: MidBlock2D::new(
                    last,
                    None,
                    config.mid_block_add_attention.then_some(last),
                    norms,
                    device,
                ),
                conv_norm_out: norms.make(last, device),
                conv_out: conv_same(last, moments, device),
            },
            quant_conv: config
                .use_quant_conv
                .then(|| conv1x1(moments, moments, device)),
            latent_channels: config.latent_channels,
        }
    }

    /// `[B, in, H, W]` → posterior mean `[B, latent, H/2^(levels−1), W/2^(levels−1)]`.
    pub fn forward(&self, image: Tensor<4>) -> Tensor<4> {
        let e = &self.encoder;
        let mut h = e.conv_in.forward(image);
        for block in &e.down_blocks {
            for resnet in &block.resnets {
                h = resnet.forward(h, None);
            }
            for down in &block.downsamplers {
                h = down.forward(h);
            }
        }
        h = e.mid_block.forward(h, None);
        let mut moments = e.conv_out.forward(silu(e.conv_norm_out.forward(h)));
        if let Some(quant) = &self.quant_conv {
            moments = quant.forward(moments);
        }
        moments.narrow(1, 0, self.latent_channels)
    }
}

impl DiffusersDecoder {
    /// The decoder `config` describes (checked with [`VaeConfig::check`]).
    pub fn new(config: &VaeConfig, device: &Device) -> Self {
        let norms = norms(config);
        let reversed: Vec<usize> = config.block_out_channels.iter().rev().copied().collect();
        let levels = reversed.len();
        let mut prev = reversed[0];
        let mut up_blocks = Vec::with_capacity(levels);
        for (i, &out_ch) in reversed.iter().enumerate() {
            let resnets = (0..config.layers_per_block + 1)
                .map(|j| {
                    ResnetBlock2D::new(
                        if j == 0 { prev } else { out_ch },
                        out_ch,
                        None,
                        norms,
                        device,
                    )
                })
                .collect();
            let upsamplers = if i + 1 < levels {
                vec![Upsample2D::new(out_ch, device)]
            } else {
                Vec::new()
            };
            up_blocks.push(DecoderBlock {
                resnets,
                upsamplers,
            });
            prev = out_ch;
        }
        let l = config.latent_channels;
        let top = config.block_out_channels[0];
        Self {
            post_quant_conv: config.use_post_quant_conv.then(|| conv1x1(l, l, device)),
            decoder: VaeDecoderBody {
                conv_in: conv_same(l, reversed[0], device),
                mid_block: MidBlock2D::new(
                    reversed[0],
                    None,
                    config.mid_block_add_attention.then_some(reversed[0]),
                    norms,
                    device,
                ),
                up_blocks,
                conv_norm_out: norms.make(top, device),
                conv_out: conv_same(top, config.out_channels, device),
            },
        }
    }

    /// Unscaled latent `[B, latent, h, w]` → image `[B, out, h·2^(levels−1), w·2^(levels−1)]`.
    pub fn forward(&self, latent: Tensor<4>) -> Tensor<4> {
        let mut h = match &self.post_quant_conv {
            Some(conv) => conv.forward(latent),
            None => latent,
        };
        let d = &self.decoder;
        h = d.conv_in.forward(h);
        h = d.mid_block.forward(h, None);
        for block in &d.up_blocks {
            for resnet in &block.resnets {
                h = resnet.forward(h, None);
            }
            for up in &block.upsamplers {
                h = up.forward(h);
            }
        }
        d.conv_out.forward(silu(d.conv_norm_out.forward(h)))
    }
}
