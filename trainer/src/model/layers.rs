//! Building blocks shared by the autoencoder and the UNet.
//!
//! Every block is written with the operations burn-onnx 0.22's exporter lowers (PITFALLS.md):
//! Conv2d, Linear, `x * sigmoid(x)` for SiLU, `sum_dim` statistics for GroupNorm, nearest
//! Resize for upsampling, and softmax / transposes spelled as `max_dim_with_indices`, `exp`,
//! `sum_dim` and `select`. burn's own GroupNorm (`mean_dim`), softmax, `swap_dims` and
//! ConvTranspose2d do not export.
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::sigmoid;
use burn::tensor::module::{conv2d, interpolate};
use burn::tensor::ops::{ConvOptions, InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Int, Tensor, TensorData};

/// SiLU as `x · sigmoid(x)`: burn's fused `silu` has no ONNX lowering in burn-onnx 0.22.
pub fn silu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    x.clone() * sigmoid(x)
}

/// A 3×3 convolution with one pixel of zero padding (same size at stride 1, half at stride 2).
pub fn conv3x3(in_ch: usize, out_ch: usize, stride: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([in_ch, out_ch], [3, 3])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(device)
}

/// A 1×1 convolution (channel mixing for residual shortcuts and attention projections).
pub fn conv1x1(in_ch: usize, out_ch: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([in_ch, out_ch], [1, 1]).init(device)
}

/// Group normalisation over `[B, C, H, W]`, with learnable per-channel scale and shift.
///
/// Written with `sum_dim` (burn's `GroupNorm` uses `mean_dim`, which the exporter cannot
/// lower). Two forms: a `[B, G, C/G·H·W]` reshape, or (`reshape_free`) per-channel sums pooled
/// into group sums by a 1×1 convolution with a constant block-diagonal ones matrix. The
/// reshape adds two dimensions the exporter cannot trace back to the batch input, so it
/// loses a dynamic batch axis (`DynamicShapeLost`); the pooled form keeps it. The variance is
/// the biased one, as in PyTorch / burn.
#[derive(Module, Debug)]
pub struct GroupNorm {
    /// Per-channel scale, initialised to 1.
    pub gamma: Param<Tensor<1>>,
    /// Per-channel shift, initialised to 0.
    pub beta: Param<Tensor<1>>,
    /// Number of channel groups; divides the channel count.
    pub groups: usize,
    /// Added to the variance before the square root.
    pub epsilon: f64,
    /// Pool group statistics with a 1×1 convolution instead of a `[B, G, ·]` reshape, so the
    /// graph keeps a dynamic batch axis. The reshape form is faster in ONNX Runtime and is
    /// used where the batch is fixed anyway (the UNet; see `export`).
    pub reshape_free: bool,
}

impl GroupNorm {
    /// A GroupNorm over `channels` channels in `groups` groups (the caller checks divisibility).
    pub fn new(groups: usize, channels: usize, reshape_free: bool, device: &Device) -> Self {
        Self {
            gamma: Param::from_tensor(Tensor::ones([channels], device)),
            beta: Param::from_tensor(Tensor::zeros([channels], device)),
            groups,
            epsilon: 1e-5,
            reshape_free,
        }
    }

    /// Normalises `x` [B, C, H, W] per sample and group.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        let gamma: Tensor<4> = self.gamma.val().reshape([1, c, 1, 1]);
        let beta: Tensor<4> = self.beta.val().reshape([1, c, 1, 1]);
        if !self.reshape_free {
            let n = (c / self.groups) * h * w;
            let grouped: Tensor<3> = x.reshape([b, self.groups, n]);
            let mean = grouped.clone().sum_dim(2).div_scalar(n as f64);
            let centred = grouped - mean;
            let var = (centred.clone() * centred.clone())
                .sum_dim(2)
                .div_scalar(n as f64);
            let normed = centred / var.add_scalar(self.epsilon).sqrt();
            let normed: Tensor<4> = normed.reshape([b, c, h, w]);
            return normed * gamma + beta;
        }
        let n = ((c / self.groups) * h * w) as f64;
        let pool = group_matrix(c, self.groups, &x.device());
        let options = || ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
        // [B, C, 1, 1] channel sums → the sum over each channel's group, per channel.
        let group_mean = |t: Tensor<4>| {
            conv2d(t.sum_dim(3).sum_dim(2), pool.clone(), None, options()).div_scalar(n)
        };
        let mean = group_mean(x.clone());
        let centred = x - mean;
        let var = group_mean(centred.clone() * centred.clone());
        let normed = centred / var.add_scalar(self.epsilon).sqrt();
        normed * gamma + beta
    }
}

/// `[C, C, 1, 1]` weights with 1 where output and input channel share a group, else 0.
fn group_matrix(channels: usize, groups: usize, device: &Device) -> Tensor<4> {
    let per = channels / groups.max(1);
    let values: Vec<f32> = (0..channels * channels)
        .map(|i| f32::from(u8::from((i / channels) / per == (i % channels) / per)))
        .collect();
    Tensor::from_data(TensorData::new(values, [channels, channels, 1, 1]), device)
}

/// Pre-activation residual block: GN → SiLU → conv → (+ timestep projection) → GN → SiLU →
/// conv, plus a 1×1 shortcut when the channel count changes.
#[derive(Module, Debug)]
pub struct ResBlock {
    /// Normalisation before the first convolution.
    pub norm1: GroupNorm,
    /// First 3×3 convolution (in → out channels).
    pub conv1: Conv2d,
    /// Projects the timestep embedding to a per-channel shift (UNet only).
    pub temb_proj: Option<Linear>,
    /// Normalisation before the second convolution.
    pub norm2: GroupNorm,
    /// Second 3×3 convolution (out → out channels).
    pub conv2: Conv2d,
    /// 1×1 shortcut when in ≠ out channels.
    pub skip: Option<Conv2d>,
}

impl ResBlock {
    /// A block from `in_ch` to `out_ch` channels; `temb_dim` adds a timestep projection.
    pub fn new(
        in_ch: usize,
        out_ch: usize,
        groups: usize,
        temb_dim: Option<usize>,
        device: &Device,
    ) -> Self {
        // Only the UNet has a timestep input, and its batch is exported fixed (two batch
        // inputs make every batch reshape ambiguous to the exporter): use the faster norm.
        let reshape_free = temb_dim.is_none();
        Self {
            norm1: GroupNorm::new(groups, in_ch, reshape_free, device),
            conv1: conv3x3(in_ch, out_ch, 1, device),
            temb_proj: temb_dim.map(|d| LinearConfig::new(d, out_ch).init(device)),
            norm2: GroupNorm::new(groups, out_ch, reshape_free, device),
            conv2: conv3x3(out_ch, out_ch, 1, device),
            skip: (in_ch != out_ch).then(|| conv1x1(in_ch, out_ch, device)),
        }
    }

    /// Applies the block; `temb` is the (already SiLU-activated) timestep features [B, temb_dim].
    pub fn forward(&self, x: Tensor<4>, temb: Option<&Tensor<2>>) -> Tensor<4> {
        let mut h = self.conv1.forward(silu(self.norm1.forward(x.clone())));
        if let (Some(proj), Some(t)) = (&self.temb_proj, temb) {
            let [b, c, _, _] = h.dims();
            let shift: Tensor<4> = proj.forward(t.clone()).reshape([b, c, 1, 1]);
            h = h + shift;
        }
        let h = self.conv2.forward(silu(self.norm2.forward(h)));
        let shortcut = match &self.skip {
            Some(conv) => conv.forward(x),
            None => x,
        };
        shortcut + h
    }
}

/// Nearest-neighbour ×2 upsampling followed by a 3×3 convolution.
///
/// Replaces ConvTranspose2d, which burn-onnx 0.22 cannot export (and which tends to leave
/// checkerboard artefacts in spectrograms anyway).
#[derive(Module, Debug)]
pub struct Upsample {
    /// The convolution after the resize.
    pub conv: Conv2d,
}

impl Upsample {
    /// ×2 upsampling from `in_ch` to `out_ch` channels.
    pub fn new(in_ch: usize, out_ch: usize, device: &Device) -> Self {
        Self {
            conv: conv3x3(in_ch, out_ch, 1, device),
        }
    }

    /// [B, in, H, W] → [B, out, 2H, 2W].
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, _, h, w] = x.dims();
        let options = InterpolateOptions::new(InterpolateMode::Nearest)
            .with_align_corners(false)
            .with_output_size([h * 2, w * 2]);
        self.conv.forward(interpolate(x, options))
    }
}

/// Index that permutes a row-major `[rows, cols]` matrix, flattened, into its transpose.
///
/// `select` with this index on the flattened axis is a transpose the exporter can lower
/// (a Gather with a constant index); `swap_dims` has no lowering.
fn transpose_index(rows: usize, cols: usize, device: &Device) -> Tensor<1, Int> {
    let index: Vec<i64> = (0..cols)
        .flat_map(|c| (0..rows).map(move |r| (r * cols + c) as i64))
        .collect();
    Tensor::from_data(TensorData::new(index, [rows * cols]), device)
}

/// Scaled dot-product attention in channel-first layout: `q`, `k`, `v` are `[B, d, N]` (B may
/// count heads), the result `[B, d, N]`. Softmax is spelled out and the two transposes are
/// constant-index gathers, so the exporter lowers all of it.
pub(crate) fn attend(q: Tensor<3>, k: Tensor<3>, v: Tensor<3>) -> Tensor<3> {
    let [b, d, n] = q.dims();
    let device = q.device();
    // qᵀ: [B, d, N] → [B, N, d] through a constant-index gather.
    let q_flat: Tensor<2> = q.reshape([b, d * n]);
    let q_t: Tensor<3> = q_flat
        .select(1, transpose_index(d, n, &device))
        .reshape([b, n, d]);
    // scores[b, i, j] = q_i · k_j / √d
    let scores = q_t.matmul(k).div_scalar((d as f64).sqrt());
    let (max, _) = scores.clone().max_dim_with_indices(2);
    let e = (scores - max).exp();
    let attn = e.clone() / e.sum_dim(2);
    // out[b, c, i] = Σ_j v[b, c, j] · attn[b, i, j] = (v · attnᵀ)[b, c, i]
    let attn_flat: Tensor<2> = attn.reshape([b, n * n]);
    let attn_t: Tensor<3> = attn_flat
        .select(1, transpose_index(n, n, &device))
        .reshape([b, n, n]);
    v.matmul(attn_t)
}

/// Single-head self-attention over the spatial positions of a feature map, with a residual.
///
/// Used at the UNet's lowest resolution only (8×8 = 64 positions by default), where it is cheap
/// and gives every time-frequency cell a view of the whole window.
#[derive(Module, Debug)]
pub struct Attention {
    /// Normalisation before the projections.
    pub norm: GroupNorm,
    /// Query projection.
    pub q: Conv2d,
    /// Key projection.
    pub k: Conv2d,
    /// Value projection.
    pub v: Conv2d,
    /// Output projection.
    pub out: Conv2d,
}

impl Attention {
    /// Attention over `channels`-channel feature maps.
    pub fn new(channels: usize, groups: usize, device: &Device) -> Self {
        Self {
            norm: GroupNorm::new(groups, channels, false, device),
            q: conv1x1(channels, channels, device),
            k: conv1x1(channels, channels, device),
            v: conv1x1(channels, channels, device),
            out: conv1x1(channels, channels, device),
        }
    }

    /// [B, C, H, W] → [B, C, H, W].
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        let n = h * w;
        let hn = self.norm.forward(x.clone());
        let q: Tensor<3> = self.q.forward(hn.clone()).reshape([b, c, n]);
        let k: Tensor<3> = self.k.forward(hn.clone()).reshape([b, c, n]);
        let v: Tensor<3> = self.v.forward(hn).reshape([b, c, n]);
        let o: Tensor<4> = attend(q, k, v).reshape([b, c, h, w]);
        x + self.out.forward(o)
    }
}
