//! What a fine-tune needs of a network: the noise it predicts for a batch of latents and
//! Refrain's `temb`. The base family's UNet and imported diffusers UNets both fine-tune (and
//! are guarded) through this one method.
use burn::module::Module;
use burn::tensor::Tensor;

/// A noise predictor over `[B, C, H, W]` latents with a `[B, embedding]` timestep embedding.
pub trait NoisePredictor: Module {
    /// The predicted noise, shaped like `sample`.
    fn predict(&self, sample: Tensor<4>, temb: Tensor<2>) -> Tensor<4>;
}

impl NoisePredictor for crate::model::Unet {
    fn predict(&self, sample: Tensor<4>, temb: Tensor<2>) -> Tensor<4> {
        self.forward(sample, temb)
    }
}
