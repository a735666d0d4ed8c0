//! The building blocks of diffusers' `UNet2DModel` and `AutoencoderKL`, in burn, with fields
//! named like diffusers' state-dict keys (`norm1`, `conv1`, `time_emb_proj`, `conv_shortcut`,
//! `group_norm`, `to_q`…), so weights load by name.
//!
//! Written with the operations burn-onnx 0.22 lowers (docs/ARCHITECTURE.md §3): GroupNorm from
//! [`crate::model::layers::GroupNorm`] (`sum_dim` statistics), SiLU as `x · sigmoid(x)`,
//! softmax by hand, transposes as constant-index gathers, nearest Resize for upsampling.
use crate::model::layers::{attend, silu, GroupNorm};
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::module::{conv2d, interpolate};
use burn::tensor::ops::{ConvOptions, InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Tensor};

/// How a block's GroupNorms compute their statistics (see [`GroupNorm`]): the reshape form is
/// faster, the reshape-free form keeps a dynamic batch axis in the exported graph.
#[derive(Debug, Clone, Copy)]
pub struct Norms {
    /// GroupNorm groups.
    pub groups: usize,
    /// GroupNorm epsilon (1e-5 in the UNet, 1e-6 in the VAE).
    pub eps: f64,
    /// Use the reshape-free form.
    pub reshape_free: bool,
}

impl Norms {
    /// A GroupNorm over `channels`.
    pub fn make(self, channels: usize, device: &Device) -> GroupNorm {
        let mut norm = GroupNorm::new(self.groups, channels, self.reshape_free, device);
        norm.epsilon = self.eps;
        norm
    }
}

/// A 3×3 convolution with the given padding (top, left, bottom, right) and stride.
fn conv3x3(in_ch: usize, out_ch: usize, stride: usize, pad: [usize; 4], device: &Device) -> Conv2d {
    Conv2dConfig::new([in_ch, out_ch], [3, 3])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad[0], pad[1], pad[2], pad[3]))
        .init(device)
}

/// Same-size 3×3 convolution.
pub fn conv_same(in_ch: usize, out_ch: usize, device: &Device) -> Conv2d {
    conv3x3(in_ch, out_ch, 1, [1; 4], device)
}

/// 1×1 convolution.
pub fn conv1x1(in_ch: usize, out_ch: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([in_ch, out_ch], [1, 1]).init(device)
}

/// A linear layer kept in PyTorch's `[out, in]` layout and applied as a 1×1 convolution over a
/// feature map, so attention needs no transpose of activations. (Named `Proj`, not `Linear`,
/// so the PyTorch loader leaves its weight untransposed.)
#[derive(Module, Debug)]
pub struct Proj {
    /// `[out, in]`.
    pub weight: Param<Tensor<2>>,
    /// `[out]`.
    pub bias: Param<Tensor<1>>,
}

impl Proj {
    /// A zero-initialised projection (weights are always loaded).
    pub fn new(in_ch: usize, out_ch: usize, device: &Device) -> Self {
        Self {
            weight: Param::from_tensor(Tensor::zeros([out_ch, in_ch], device)),
            bias: Param::from_tensor(Tensor::zeros([out_ch], device)),
        }
    }

    /// `[B, in, H, W]` → `[B, out, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [out_ch, in_ch] = self.weight.dims();
        let weight: Tensor<4> = self.weight.val().reshape([out_ch, in_ch, 1, 1]);
        let options = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
        conv2d(x, weight, Some(self.bias.val()), options)
    }
}

/// diffusers' `ResnetBlock2D` (time-scale-shift `default`, output scale 1): GN → SiLU → conv1
/// (+ `time_emb_proj(SiLU(temb))`) → GN → SiLU → conv2, plus a 1×1 `conv_shortcut` when the
/// width changes.
#[derive(Module, Debug)]
pub struct ResnetBlock2D {
    /// First normalisation.
    pub norm1: GroupNorm,
    /// First convolution.
    pub conv1: Conv2d,
    /// Timestep projection (UNet blocks only).
    pub time_emb_proj: Option<Linear>,
    /// Second normalisation.
    pub norm2: GroupNorm,
    /// Second convolution.
    pub conv2: Conv2d,
    /// Width-changing shortcut.
    pub conv_shortcut: Option<Conv2d>,
}

impl ResnetBlock2D {
    /// A block from `in_ch` to `out_ch`; `temb` is the time embedding's width (UNet only).
    pub fn new(
        in_ch: usize,
        out_ch: usize,
        temb: Option<usize>,
        norms: Norms,
        device: &Device,
    ) -> Self {
        Self {
            norm1: norms.make(in_ch, device),
            conv1: conv_same(in_ch, out_ch, device),
            time_emb_proj: temb.map(|t| LinearConfig::new(t, out_ch).init(device)),
            norm2: norms.make(out_ch, device),
            conv2: conv_same(out_ch, out_ch, device),
            conv_shortcut: (in_ch != out_ch).then(|| conv1x1(in_ch, out_ch, device)),
        }
    }

    /// `temb` is the time embedding *before* SiLU ([B, temb width]).
    pub fn forward(&self, x: Tensor<4>, temb: Option<&Tensor<2>>) -> Tensor<4> {
        let mut h = self.conv1.forward(silu(self.norm1.forward(x.clone())));
        if let (Some(proj), Some(t)) = (&self.time_emb_proj, temb) {
            let [b, c, _, _] = h.dims();
            let shift: Tensor<4> = proj.forward(silu(t.clone())).reshape([b, c, 1, 1]);
            h = h + shift;
        }
        let h = self.conv2.forward(silu(self.norm2.forward(h)));
        let shortcut = match &self.conv_shortcut {
            Some(conv) => conv.forward(x),
            None => x,
        };
        shortcut + h
    }
}

/// diffusers' spatial self-attention (`Attention` with a residual, from the old
/// `AttentionBlock`): GN, q/k/v projections, scaled dot-product over the H·W positions in
/// `heads` heads of `head_dim` channels, output projection, residual.
#[derive(Module, Debug)]
pub struct Attention {
    /// Normalisation before the projections.
    pub group_norm: GroupNorm,
    /// Query.
    pub to_q: Proj,
    /// Key.
    pub to_k: Proj,
    /// Value.
    pub to_v: Proj,
    /// Output (diffusers' `to_out.0`; the loader renames).
    pub to_out: Proj,
    /// Channels per head.
    pub head_dim: usize,
}

impl Attention {
    /// Attention over `channels` channels in heads of `head_dim` channels.
    pub fn new(channels: usize, head_dim: usize, norms: Norms, device: &Device) -> Self {
        Self {
            group_norm: norms.make(channels, device),
            to_q: Proj::new(channels, channels, device),
            to_k: Proj::new(channels, channels, device),
            to_v: Proj::new(channels, channels, device),
            to_out: Proj::new(channels, channels, device),
            head_dim,
        }
    }

    /// `[B, C, H, W]` → `[B, C, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        let (n, d) = (h * w, self.head_dim);
        let bh = b * (c / d);
        let hn = self.group_norm.forward(x.clone());
        // Heads take contiguous channel ranges, as diffusers' [B, N, heads, d] view does.
        let q: Tensor<3> = self.to_q.forward(hn.clone()).reshape([bh, d, n]);
        let k: Tensor<3> = self.to_k.forward(hn.clone()).reshape([bh, d, n]);
        let v: Tensor<3> = self.to_v.forward(hn).reshape([bh, d, n]);
        let o: Tensor<4> = attend(q, k, v).reshape([b, c, h, w]);
        x + self.to_out.forward(o)
    }
}

/// A stride-2 3×3 convolution: symmetric padding 1 in the UNet, (0, 0, 1, 1) in the VAE
/// (diffusers pads right and bottom, then convolves without padding).
#[derive(Module, Debug)]
pub struct Downsample2D {
    /// The convolution.
    pub conv: Conv2d,
}

impl Downsample2D {
    /// Halves H and W at `channels` channels; `vae` selects the VAE's asymmetric padding.
    pub fn new(channels: usize, vae: bool, device: &Device) -> Self {
        let pad = if vae { [0, 0, 1, 1] } else { [1; 4] };
        Self {
            conv: conv3x3(channels, channels, 2, pad, device),
        }
    }

    /// `[B, C, H, W]` → `[B, C, H/2, W/2]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.conv.forward(x)
    }
}

/// Nearest ×2 upsampling, then a 3×3 convolution.
#[derive(Module, Debug)]
pub struct Upsample2D {
    /// The convolution after the resize.
    pub conv: Conv2d,
}

impl Upsample2D {
    /// Doubles H and W at `channels` channels.
    pub fn new(channels: usize, device: &Device) -> Self {
        Self {
            conv: conv_same(channels, channels, device),
        }
    }

    /// `[B, C, H, W]` → `[B, C, 2H, 2W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, _, h, w] = x.dims();
        let options = InterpolateOptions::new(InterpolateMode::Nearest)
            .with_align_corners(false)
            .with_output_size([h * 2, w * 2]);
        self.conv.forward(interpolate(x, options))
    }
}

/// diffusers' `UNetMidBlock2D`: resnet, then (attention, resnet) once.
#[derive(Module, Debug)]
pub struct MidBlock2D {
    /// Two resnets.
    pub resnets: Vec<ResnetBlock2D>,
    /// One attention, or none (`add_attention: false`).
    pub attentions: Vec<Attention>,
}

impl MidBlock2D {
    /// A middle block at `channels` channels.
    pub fn new(
        channels: usize,
        temb: Option<usize>,
        head_dim: Option<usize>,
        norms: Norms,
        device: &Device,
    ) -> Self {
        Self {
            resnets: (0..2)
                .map(|_| ResnetBlock2D::new(channels, channels, temb, norms, device))
                .collect(),
            attentions: head_dim
                .map(|d| Attention::new(channels, d, norms, device))
                .into_iter()
                .collect(),
        }
    }

    /// Applies the block.
    pub fn forward(&self, x: Tensor<4>, temb: Option<&Tensor<2>>) -> Tensor<4> {
        let mut h = x;
        for (i, resnet) in self.resnets.iter().enumerate() {
            if i > 0 {
                if let Some(attn) = self.attentions.first() {
                    h = attn.forward(h);
                }
            }
            h = resnet.forward(h, temb);
        }
        h
    }
}
