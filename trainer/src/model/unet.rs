//! The noise predictor ε_θ(x_t, t) over the autoencoder's latent.
//!
//! The timestep enters as `temb` [B, embedding_dim], the sinusoidal embedding computed outside
//! the network (by `refrain_engine::ddim` at inference and by the trainer in training):
//! sin/cos have no ONNX lowering in burn-onnx 0.22, and computing them outside keeps the graph
//! free of any schedule detail.
//!
//! Shape: one stage per entry of `channels`; each stage has `res_blocks` residual blocks and
//! all but the last halve the resolution. A single skip per stage goes to the mirrored up
//! stage. The middle has two residual blocks with self-attention between them.
//!
//! Default size (4×32×32 latent, channels 64/128/192, one block per stage, attention at 8×8):
//! see [`UnetConfig::default`] for the measured parameter count and ONNX Runtime time.
//!
//! The exported graph has a fixed batch: with two batch-carrying inputs (`sample`, `temb`)
//! burn-onnx 0.22 cannot tell which one a reshape's batch dimension comes from
//! (`DynamicShapeLost: dimension matches 2 dynamic source axes`).
use super::layers::{conv3x3, silu, Attention, GroupNorm, ResBlock, Upsample};
use super::{check_groups, ModelError};
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Sizes of the UNet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnetConfig {
    /// Latent channels `C` (input and output).
    pub latent_channels: usize,
    /// Width of `temb`, the sinusoidal timestep embedding fed as an input.
    pub embedding_dim: usize,
    /// Width of each resolution stage; every stage but the last halves H and W.
    pub channels: Vec<usize>,
    /// Residual blocks per stage on the way down (the way up has one, after the skip concat).
    pub res_blocks: usize,
    /// Self-attention in the middle (lowest resolution).
    pub attention: bool,
    /// GroupNorm groups; must divide every entry of `channels`.
    pub norm_groups: usize,
}

impl Default for UnetConfig {
    /// 4×32×32 latent, stages 64/128/192 at 32²/16²/8², one block per stage, attention in the
    /// middle, 128-wide `temb`.
    ///
    /// Measured with `cargo run -p refrain-trainer --example measure` (ONNX Runtime 1.31.1,
    /// batch 1, one intra-op thread, 2-core VM shared with compiles, medians of 15–20 runs):
    /// 4.91 M parameters, 16–24 ms per forward (≈ 1.7 GFLOP) depending on the load. Two blocks
    /// per stage: 6.04 M, 20–30 ms, too close to the 25 ms budget. A burn flex training step
    /// (batch 8, forward + backward + Adam) takes 1.3–2.1 s on the same loaded VM.
    fn default() -> Self {
        Self {
            latent_channels: 4,
            embedding_dim: 128,
            channels: vec![64, 128, 192],
            res_blocks: 1,
            attention: true,
            norm_groups: 32,
        }
    }
}

impl UnetConfig {
    /// Width of the time features inside the network (4× the first stage, as in DDPM).
    pub fn time_dim(&self) -> usize {
        4 * self.channels.first().copied().unwrap_or(0)
    }

    /// Builds the UNet with freshly initialised weights.
    pub fn init(&self, device: &Device) -> Result<Unet, ModelError> {
        if self.channels.is_empty() || self.latent_channels == 0 || self.embedding_dim == 0 {
            return Err(ModelError::Config(
                "unet needs at least one stage and non-zero channels".into(),
            ));
        }
        check_groups(self.norm_groups, &self.channels)?;
        let g = self.norm_groups;
        let td = self.time_dim();
        let t = Some(td);
        let last = self.channels.len() - 1;
        let top = self.channels[last];

        let mut down = Vec::new();
        let mut prev = self.channels[0];
        for (i, &ch) in self.channels.iter().enumerate() {
            let blocks = (0..self.res_blocks.max(1))
                .map(|j| ResBlock::new(if j == 0 { prev } else { ch }, ch, g, t, device))
                .collect();
            let downsample = (i < last).then(|| conv3x3(ch, ch, 2, device));
            down.push(DownStage { blocks, downsample });
            prev = ch;
        }

        let mut up = Vec::new();
        let mut h_ch = top;
        for (i, &ch) in self.channels.iter().enumerate().rev() {
            let block = ResBlock::new(h_ch + ch, ch, g, t, device);
            let upsample = (i > 0).then(|| Upsample::new(ch, self.channels[i - 1], device));
            up.push(UpStage { block, upsample });
            h_ch = if i > 0 { self.channels[i - 1] } else { ch };
        }

        Ok(Unet {
            time_in: LinearConfig::new(self.embedding_dim, td).init(device),
            time_out: LinearConfig::new(td, td).init(device),
            conv_in: conv3x3(self.latent_channels, self.channels[0], 1, device),
            down,
            mid1: ResBlock::new(top, top, g, t, device),
            mid_attn: self.attention.then(|| Attention::new(top, g, device)),
            mid2: ResBlock::new(top, top, g, t, device),
            up,
            norm_out: GroupNorm::new(g, self.channels[0], false, device),
            conv_out: conv3x3(self.channels[0], self.latent_channels, 1, device),
        })
    }
}

/// One stage on the way down.
#[derive(Module, Debug)]
pub struct DownStage {
    /// Residual blocks at this resolution.
    pub blocks: Vec<ResBlock>,
    /// Stride-2 convolution to the next stage (absent on the last).
    pub downsample: Option<Conv2d>,
}

/// One stage on the way up.
#[derive(Module, Debug)]
pub struct UpStage {
    /// Residual block over [h, skip] concatenated on channels.
    pub block: ResBlock,
    /// Nearest ×2 + conv to the next (shallower) stage's width (absent on the last).
    pub upsample: Option<Upsample>,
}

/// ε_θ(x_t, temb).
#[derive(Module, Debug)]
pub struct Unet {
    /// temb → time features.
    pub time_in: Linear,
    /// Second layer of the time MLP.
    pub time_out: Linear,
    /// Latent → first stage width.
    pub conv_in: Conv2d,
    /// Down path.
    pub down: Vec<DownStage>,
    /// First middle block.
    pub mid1: ResBlock,
    /// Middle self-attention.
    pub mid_attn: Option<Attention>,
    /// Second middle block.
    pub mid2: ResBlock,
    /// Up path, deepest first.
    pub up: Vec<UpStage>,
    /// Final normalisation.
    pub norm_out: GroupNorm,
    /// Back to latent channels.
    pub conv_out: Conv2d,
}

impl Unet {
    /// sample [B, C, H, W] (x_t), temb [B, embedding_dim] → predicted noise [B, C, H, W].
    /// H and W must be divisible by 2^(stages − 1).
    pub fn forward(&self, sample: Tensor<4>, temb: Tensor<2>) -> Tensor<4> {
        // SiLU once here: every block's projection reads silu(time features).
        let t = silu(self.time_out.forward(silu(self.time_in.forward(temb))));
        let mut h = self.conv_in.forward(sample);
        let mut skips = Vec::with_capacity(self.down.len());
        for stage in &self.down {
            for block in &stage.blocks {
                h = block.forward(h, Some(&t));
            }
            skips.push(h.clone());
            if let Some(down) = &stage.downsample {
                h = down.forward(h);
            }
        }
        h = self.mid1.forward(h, Some(&t));
        if let Some(attn) = &self.mid_attn {
            h = attn.forward(h);
        }
        h = self.mid2.forward(h, Some(&t));
        for stage in &self.up {
            if let Some(skip) = skips.pop() {
                h = Tensor::cat(vec![h, skip], 1);
            }
            h = stage.block.forward(h, Some(&t));
            if let Some(up) = &stage.upsample {
                h = up.forward(h);
            }
        }
        self.conv_out.forward(silu(self.norm_out.forward(h)))
    }
}
