//! The UNet denoiser call: one ONNX run predicting the noise in a batch of latents, as the DDIM
//! sampler's [`Denoiser`].
use super::session::Net;
use crate::ddim::{DdimError, Denoiser};

/// The UNet as the sampler's [`Denoiser`]: `sample` [B, C, H, W] + `temb` [B, E] → `noise`.
pub struct UnetDenoiser<'m> {
    pub(super) net: &'m mut Net,
    pub(super) latent_shape: [usize; 3],
    pub(super) embedding_dim: usize,
}

impl Denoiser for UnetDenoiser<'_> {
    fn predict(
        &mut self,
        sample: &[f32],
        temb: &[f32],
        batch: usize,
    ) -> Result<Vec<f32>, DdimError> {
        let [c, h, w] = self.latent_shape;
        let inputs = [
            ("sample", vec![batch, c, h, w], sample),
            ("temb", vec![batch, self.embedding_dim], temb),
        ];
        self.net
            .run(&inputs, "noise")
            .map_err(|e| DdimError::Denoiser(Box::new(e)))
    }
}
