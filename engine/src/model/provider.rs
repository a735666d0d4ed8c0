//! Execution provider choice: CPU, CUDA, or CUDA when it works.
use super::ModelError;
use std::str::FromStr;

/// Which execution provider to ask ONNX Runtime for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Provider {
    /// CUDA when the loaded library has it and a device answers, else CPU (quietly noted).
    #[default]
    Auto,
    /// CPU only.
    Cpu,
    /// CUDA; falling back to CPU produces a visible warning.
    Cuda,
}

impl FromStr for Provider {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda),
            other => Err(ModelError::UnknownProvider(other.to_string())),
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
        })
    }
}
