//! Loading a model version directory into ready-to-run sessions.
use super::session::{Dim, Net, Placement};
use super::{ModelError, Provider, UnetDenoiser};
use crate::manifest::Manifest;
use crate::spectrogram::Mel;
use std::path::{Path, PathBuf};

/// How to load a model.
#[derive(Debug, Clone, Copy)]
pub struct ModelOptions {
    /// Execution provider to ask for.
    pub provider: Provider,
    /// Intra-op threads per session (0 = ONNX Runtime's choice).
    pub intra_threads: usize,
    /// Run each network once at load: the first run is much slower than the rest.
    pub warm_up: bool,
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self {
            provider: Provider::Auto,
            intra_threads: 0,
            warm_up: true,
        }
    }
}

/// A model version with its three sessions, ready to encode, denoise and decode.
pub struct Model {
    pub(super) dir: PathBuf,
    pub(super) manifest: Manifest,
    pub(super) encoder: Net,
    pub(super) decoder: Net,
    pub(super) unet: Net,
    pub(super) provider: &'static str,
    pub(super) warnings: Vec<String>,
}

impl Model {
    /// Loads and validates `dir` (manifest, sha256s, every graph's I/O names and shapes).
    pub fn load(dir: &Path, options: ModelOptions) -> Result<Self, ModelError> {
        let manifest = Manifest::load(dir)?;
        let (a, l) = (&manifest.audio, &manifest.latent);
        let (mels, frames) = (Dim::Exact(a.n_mels), Dim::Exact(a.frames));
        let latent = [
            Dim::Batch,
            Dim::Exact(l.channels),
            Dim::Exact(l.height),
            Dim::Exact(l.width),
        ];
        let mel = [Dim::Batch, Dim::Exact(1), mels, frames];
        let temb = [Dim::Batch, Dim::Exact(manifest.unet.embedding_dim)];

        let mut warnings = Vec::new();
        let mut placed = Vec::new();
        let mut open = |name: &str| -> Result<Net, ModelError> {
            let (net, Placement { provider, warning }) =
                Net::open(&dir.join(name), options.provider, options.intra_threads)?;
            warnings.extend(warning);
            placed.push(provider);
            tracing::info!("{name}: {provider}");
            Ok(net)
        };
        let encoder = open("encoder.onnx")?;
        encoder.check_io(&[("mel", &mel)], &[("latent", &latent)])?;
        let decoder = open("decoder.onnx")?;
        decoder.check_io(&[("latent", &latent)], &[("mel", &mel)])?;
        let unet = open("unet.onnx")?;
        unet.check_io(
            &[("sample", &latent), ("temb", &temb)],
            &[("noise", &latent)],
        )?;
        warnings.dedup();
        for warning in &warnings {
            tracing::warn!("{warning}");
        }
        // Report CUDA only when every network got it: one CPU network sets the pace.
        let provider = if placed.iter().all(|p| *p == "cuda") {
            "cuda"
        } else {
            "cpu"
        };
        let mut model = Self {
            dir: dir.to_path_buf(),
            manifest,
            encoder,
            decoder,
            unet,
            provider,
            warnings,
        };
        if options.warm_up {
            model.warm_up()?;
        }
        Ok(model)
    }

    fn warm_up(&mut self) -> Result<(), ModelError> {
        let (a, n) = (&self.manifest.audio, self.manifest.latent.len());
        let mel = Mel {
            n_mels: a.n_mels,
            frames: a.frames,
            data: vec![-1.0; a.n_mels * a.frames],
        };
        self.encode(&mel)?;
        self.decode(&vec![0.0; n])?;
        let temb = vec![0.0; self.manifest.unet.embedding_dim];
        use crate::ddim::Denoiser;
        self.denoiser()
            .predict(&vec![0.0; n], &temb, 1)
            .map_err(|e| ModelError::Inference {
                file: self.dir.join("unet.onnx"),
                message: e.to_string(),
            })?;
        Ok(())
    }

    /// The version directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The validated manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The execution provider in use: `cpu` or `cuda`.
    pub fn provider(&self) -> &'static str {
        self.provider
    }

    /// Warnings from loading (for example CUDA requested but CPU used), for the GUI/CLI to show.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Whether one UNet call can take `k` latents.
    pub fn supports_batch(&self, k: usize) -> bool {
        self.manifest.supports_batch(k) && self.unet.fixed_batch.is_none_or(|b| b == k)
    }

    /// The UNet as a DDIM denoiser.
    pub fn denoiser(&mut self) -> UnetDenoiser<'_> {
        let l = self.manifest.latent;
        UnetDenoiser {
            net: &mut self.unet,
            latent_shape: [l.channels, l.height, l.width],
            embedding_dim: self.manifest.unet.embedding_dim,
        }
    }
}
