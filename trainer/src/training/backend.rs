//! Where the tensors live: the backend a training run asks for, as a command-line choice.
use burn::tensor::Device;

/// CUDA was asked for in a build without the `cuda` feature.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("this build has no CUDA backend: rebuild with `--features cuda`")]
pub struct NoCudaBackend;

/// Where the tensors live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Backend {
    /// burn's flex CPU backend.
    #[default]
    Cpu,
    /// burn's CUDA backend (only in builds with the `cuda` feature).
    Cuda,
}

impl Backend {
    /// The (non-autodiff) device for this backend.
    pub fn device(self) -> Result<Device, NoCudaBackend> {
        match self {
            Backend::Cpu => Ok(Device::flex()),
            #[cfg(feature = "cuda")]
            Backend::Cuda => Ok(Device::cuda(0)),
            #[cfg(not(feature = "cuda"))]
            Backend::Cuda => Err(NoCudaBackend),
        }
    }
}
