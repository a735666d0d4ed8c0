//! The neural vocoder's network: a Vocos-style ConvNeXt backbone over mel frames that predicts
//! the log STFT magnitude of every frame (Siuzdak 2023, "Vocos", §3; without its phase head,
//! see the module doc of [`super`]) as a correction to the DSP mel inversion's.
//!
//! Why a correction: a 1×1 head from `dim` channels can only reach a `dim`-dimensional subspace
//! of the 1025 bins, while the low mel bands are nearly one bin wide and the DSP inversion
//! already gets those loud, narrow harmonics right (held-out spectral convergence 0.14 against
//! 0.53 for the same network predicting from scratch after 1000 steps). Adding the head to the
//! inversion's log magnitude, with the head starting at zero, starts training exactly at the
//! DSP's figures and spends the network on what the inversion gets wrong. The correction has two
//! parts, because the inversion errs two ways: a log-gain on its magnitude (loud bins slightly
//! off) and a magnitude added to it (bins its non-negative least squares left empty, which a
//! log-gain alone would have to lift by several nats). Measured: a single additive log
//! correction learned too slowly to leave the DSP's figures in 750 steps.
//!
//! Every operation is one burn-onnx 0.22 lowers (PITFALLS.md): 1-D convolutions are Conv2d over
//! `[B, C, 1, T]`, the channel LayerNorm is written with `sum_dim`, GELU becomes SiLU, and the
//! depthwise 7-tap time convolution is a grouped Conv2d.
use crate::model::layers::silu;
use crate::model::ModelError;
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Sizes of the vocoder network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VocoderConfig {
    /// Mel bands of the input.
    pub n_mels: usize,
    /// Frequency bins of the predicted STFT frame (`n_fft / 2 + 1`).
    pub n_freqs: usize,
    /// Channels of the backbone.
    pub dim: usize,
    /// Width of each block's pointwise MLP.
    pub inner: usize,
    /// ConvNeXt blocks.
    pub blocks: usize,
    /// Taps of the time convolutions (odd).
    pub kernel: usize,
}

impl Default for VocoderConfig {
    /// The shipped size: ≈ 1.9 M multiply-adds per frame, so a 256-frame window costs about
    /// 0.5 GFLOP (tens of milliseconds on one core) and the weights stay ≈ 4 MB.
    fn default() -> Self {
        Self {
            n_mels: 256,
            n_freqs: 1025,
            dim: 192,
            inner: 576,
            blocks: 6,
            kernel: 7,
        }
    }
}

impl VocoderConfig {
    /// Fresh weights on `device`.
    pub fn init(&self, device: &Device) -> Result<VocoderNet, ModelError> {
        if self.n_mels == 0 || self.n_freqs == 0 || self.dim == 0 || self.inner == 0 {
            return Err(ModelError::Config("vocoder sizes must be positive".into()));
        }
        if self.kernel.is_multiple_of(2) {
            return Err(ModelError::Config(format!(
                "vocoder kernel {} must be odd (same-length convolutions)",
                self.kernel
            )));
        }
        let pad = self.kernel / 2;
        let embed = Conv2dConfig::new([1, self.dim], [self.n_mels, self.kernel])
            .with_padding(PaddingConfig2d::Explicit(0, pad, 0, pad))
            .init(device);
        let blocks = (0..self.blocks).map(|_| Block::new(self, device)).collect();
        Ok(VocoderNet {
            embed,
            embed_base: Conv2dConfig::new([1, self.dim], [self.n_freqs, 1]).init(device),
            embed_norm: ChannelNorm::new(self.dim, device),
            blocks,
            norm: ChannelNorm::new(self.dim, device),
            // Zero weights: an untrained network returns the DSP inversion plus a constant fill
            // per bin (its bias, set from the data by the trainer).
            head: Conv2dConfig::new([self.dim, 2 * self.n_freqs], [1, 1])
                .with_initializer(Initializer::Zeros)
                .init(device),
            n_freqs: self.n_freqs,
        })
    }

    /// Parameters of a network of this size.
    pub fn parameters(&self) -> usize {
        let block = self.dim * self.kernel
            + self.dim
            + 2 * self.dim
            + self.dim * self.inner
            + self.inner
            + self.inner * self.dim
            + self.dim
            + self.dim;
        self.n_mels * self.kernel * self.dim
            + self.dim
            + self.n_freqs * self.dim
            + self.dim
            + 2 * self.dim
            + self.blocks * block
            + 2 * self.dim
            + 2 * (self.dim * self.n_freqs + self.n_freqs)
    }
}

/// mel `[B, 1, n_mels, T]` (model range −1..1) and the DSP inversion's ln |STFT|
/// `[B, 1, n_freqs, T]` → ln |STFT| `[B, n_freqs, T]`.
#[derive(Module, Debug)]
pub struct VocoderNet {
    /// The mel bands of 7 frames → `dim` channels per frame.
    pub embed: Conv2d,
    /// The DSP's log magnitude of each frame → `dim` channels, added to the mel's: the backbone
    /// sees where the inversion left a bin empty and has to fill it.
    pub embed_base: Conv2d,
    /// Normalisation after the embedding (Vocos).
    pub embed_norm: ChannelNorm,
    /// The backbone.
    pub blocks: Vec<Block>,
    /// Normalisation before the head.
    pub norm: ChannelNorm,
    /// `dim` → per bin a log-gain on the DSP magnitude and the log of a magnitude to add.
    pub head: Conv2d,
    /// Bins of the output.
    pub n_freqs: usize,
}

impl VocoderNet {
    /// The network's two heads for `mel` [B, 1, n_mels, T] and the DSP's `base` [B, 1, n_freqs,
    /// T]: `[B, 2·n_freqs, T]`, a log-gain on the DSP magnitude, then the log of a magnitude to
    /// add (what the exported graph returns; [`combine`] makes the magnitude).
    pub fn heads(&self, mel: Tensor<4>, base: Tensor<4>) -> Tensor<3> {
        let [b, _, _, t] = mel.dims();
        let base = base.reshape([b, 1, self.n_freqs, t]);
        // Scaled down: ln magnitudes span about −11.5..+3, the mel −1..1.
        let seen = self.embed_base.forward(base.mul_scalar(0.1));
        let mut x = self.embed_norm.forward(self.embed.forward(mel) + seen);
        for block in &self.blocks {
            x = block.forward(x);
        }
        self.head
            .forward(self.norm.forward(x))
            .reshape([b, 2 * self.n_freqs, t])
    }

    /// ln |X̂| `[B, n_freqs, T]`: the DSP magnitude times exp(gain) plus exp(fill).
    pub fn forward(&self, mel: Tensor<4>, base: Tensor<4>) -> Tensor<3> {
        let heads = self.heads(mel, base.clone());
        combine(heads, base, self.n_freqs).log()
    }
}

/// |X̂| = exp(base + gain) + exp(fill) from the heads `[B, 2F, T]` and `base` `[B, 1, F, T]`
/// (the engine does the same in Rust).
pub fn combine(heads: Tensor<3>, base: Tensor<4>, n_freqs: usize) -> Tensor<3> {
    let [b, _, t] = heads.dims();
    let gain = heads.clone().slice([0..b, 0..n_freqs, 0..t]);
    let fill = heads.slice([0..b, n_freqs..2 * n_freqs, 0..t]);
    (base.reshape([b, n_freqs, t]) + gain).exp() + fill.exp()
}

/// One ConvNeXt block: depthwise time convolution → channel norm → pointwise MLP (SiLU) →
/// per-channel layer scale, added to the input.
#[derive(Module, Debug)]
pub struct Block {
    /// Depthwise convolution over time.
    pub depthwise: Conv2d,
    /// Channel LayerNorm.
    pub norm: ChannelNorm,
    /// Pointwise expansion.
    pub up: Conv2d,
    /// Pointwise projection back.
    pub down: Conv2d,
    /// Layer scale, initialised small so each block starts near the identity.
    pub scale: Param<Tensor<1>>,
}

impl Block {
    fn new(config: &VocoderConfig, device: &Device) -> Self {
        let pad = config.kernel / 2;
        Self {
            depthwise: Conv2dConfig::new([config.dim, config.dim], [1, config.kernel])
                .with_groups(config.dim)
                .with_padding(PaddingConfig2d::Explicit(0, pad, 0, pad))
                .init(device),
            norm: ChannelNorm::new(config.dim, device),
            up: Conv2dConfig::new([config.dim, config.inner], [1, 1]).init(device),
            down: Conv2dConfig::new([config.inner, config.dim], [1, 1]).init(device),
            scale: Param::from_tensor(Tensor::full([config.dim], 0.1, device)),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let c = self.scale.dims()[0];
        let h = self.norm.forward(self.depthwise.forward(x.clone()));
        let h = self.down.forward(silu(self.up.forward(h)));
        x + h * self.scale.val().reshape([1, c, 1, 1])
    }
}

/// LayerNorm over the channels of each frame of `[B, C, 1, T]`, with `sum_dim` statistics.
#[derive(Module, Debug)]
pub struct ChannelNorm {
    /// Per-channel scale.
    pub gamma: Param<Tensor<1>>,
    /// Per-channel shift.
    pub beta: Param<Tensor<1>>,
}

impl ChannelNorm {
    fn new(channels: usize, device: &Device) -> Self {
        Self {
            gamma: Param::from_tensor(Tensor::ones([channels], device)),
            beta: Param::from_tensor(Tensor::zeros([channels], device)),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let c = self.gamma.dims()[0];
        let mean = x.clone().sum_dim(1).div_scalar(c as f64);
        let centred = x - mean;
        let var = (centred.clone() * centred.clone())
            .sum_dim(1)
            .div_scalar(c as f64);
        let normed = centred / var.add_scalar(1e-6).sqrt();
        normed * self.gamma.val().reshape([1, c, 1, 1]) + self.beta.val().reshape([1, c, 1, 1])
    }
}
