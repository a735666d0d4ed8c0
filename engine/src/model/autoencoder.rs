//! Encode and decode: the autoencoder's two networks between a model-range mel and a scaled
//! latent (the manifest's `latent.scale` is applied here, so the rest of the engine only sees
//! scaled latents).
use super::{Model, ModelError};
use crate::spectrogram::Mel;

impl Model {
    /// Encodes one model-range mel to a latent, multiplied by the manifest's latent scale.
    pub fn encode(&mut self, mel: &Mel) -> Result<Vec<f32>, ModelError> {
        let a = &self.manifest.audio;
        if mel.n_mels != a.n_mels || mel.frames != a.frames || mel.data.len() != a.n_mels * a.frames
        {
            return Err(ModelError::Io {
                file: self.encoder.file.clone(),
                field: "input `mel`".into(),
                problem: format!(
                    "expected {}×{}, got {}×{}",
                    a.n_mels, a.frames, mel.n_mels, mel.frames
                ),
            });
        }
        let shape = vec![1, 1, a.n_mels, a.frames];
        let scale = self.manifest.latent.scale;
        let latent = self.encoder.run(&[("mel", shape, &mel.data)], "latent")?;
        Ok(latent.into_iter().map(|v| v * scale).collect())
    }

    /// Decodes one (scaled) latent back to a model-range mel.
    pub fn decode(&mut self, latent: &[f32]) -> Result<Mel, ModelError> {
        let l = self.manifest.latent;
        if latent.len() != l.len() {
            return Err(ModelError::Io {
                file: self.decoder.file.clone(),
                field: "input `latent`".into(),
                problem: format!("expected {} values, got {}", l.len(), latent.len()),
            });
        }
        let unscaled: Vec<f32> = latent.iter().map(|v| v / l.scale).collect();
        let shape = vec![1, l.channels, l.height, l.width];
        let data = self.decoder.run(&[("latent", shape, &unscaled)], "mel")?;
        let a = &self.manifest.audio;
        Ok(Mel {
            n_mels: a.n_mels,
            frames: a.frames,
            data,
        })
    }
}
