//! The neural vocoder (issue 13): a Vocos-style convolutional network that predicts each frame's
//! STFT magnitude from the model-range mel, trained on the corpus packages' audio and exported
//! to ONNX for the engine's `neural` vocoder.
//!
//! Why magnitude only: measured on this project's mels, phase is not where Griffin-Lim loses —
//! phase-gradient heap integration on *exact* magnitudes rebuilds a window to a spectral
//! convergence of 0.014, while every vocoder starting from the inverted mel stays near 0.08. The
//! error is the mel inversion's magnitude, so that is what the network learns; the engine then
//! takes the phase from PGHI on the predicted magnitude. Learning phase as well (Vocos' second
//! head) needs a differentiable inverse STFT and far more steps than two CPU cores give; the
//! README names it as the next step.
mod data;
mod export;
mod import;
mod model;
mod state;
mod train;

pub use data::{read_mono, Batch, Pairs, MAGNITUDE_FLOOR};
pub use export::{export_dir, PhaseSettings, VOCODER_IO};
pub use import::from_export;
pub use model::{VocoderConfig, VocoderNet};
pub use state::{latest_checkpoint, TrainingLeg, VocoderState, VOCODER_STATE};
pub use train::{
    dsp_baseline, eval_windows, heldout_figures, load_net, loss, train, VocoderReport,
    VocoderTrainOptions,
};

use crate::model::ModelError;
use crate::pretrain::PretrainError;

/// Why vocoder data, training or export failed.
#[derive(Debug, thiserror::Error)]
pub enum VocoderError {
    /// Audio could not be read, or the data or a checkpoint file is unusable.
    #[error("{0}")]
    Data(String),
    /// The engine's transforms refused the audio configuration.
    #[error(transparent)]
    Spectrogram(#[from] refrain_engine::spectrogram::SpectrogramError),
    /// The sizes cannot build a network.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Checkpoint records could not be written or read.
    #[error(transparent)]
    Checkpoint(#[from] PretrainError),
    /// ONNX export failed.
    #[error(transparent)]
    Export(#[from] crate::onnx::ExportFailure),
    /// The backend asked for is not in this build.
    #[error(transparent)]
    Backend(#[from] crate::training::NoCudaBackend),
}
