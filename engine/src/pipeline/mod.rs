//! From the producer's songs to new clips: window → mel → encode → merge → DDIM → decode (+ the
//! songs' fine [`detail`]) → vocoder → output rate. Every clip carries every parameter that
//! made it, so the same inputs and seed give the identical output.

mod continuation;
pub mod detail;
mod generate;
mod prepare;
mod request;
mod song_cache;
pub mod tempo;

pub use continuation::{fold_loop, join, SeamSteps};
pub use generate::{Pipeline, Progress};
pub use prepare::{prepare, PreparedSong, MAX_SONG_SECONDS};
pub use request::{Clip, ClipParams, GenerateRequest, SongInput, SongUse, Timings};

/// Why a generation could not be done.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The request itself is unusable (the message says which parameter).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A song could not be used (silent, too long, bad offset...).
    #[error("song `{song}`: {problem}")]
    Song {
        /// The song's name.
        song: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Resampling or other audio handling failed.
    #[error(transparent)]
    Audio(#[from] crate::audio::AudioError),
    /// The spectrogram could not be computed or inverted.
    #[error(transparent)]
    Spectrogram(#[from] crate::spectrogram::SpectrogramError),
    /// The vocoder could not render a mel.
    #[error(transparent)]
    Vocoder(#[from] crate::vocoder::VocoderError),
    /// The model failed.
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    /// Sampling failed or was cancelled.
    #[error(transparent)]
    Ddim(#[from] crate::ddim::DdimError),
    /// Merging song latents failed.
    #[error(transparent)]
    Latent(#[from] crate::latent::LatentError),
}

impl PipelineError {
    /// True when the job was cancelled rather than failed.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Self::Ddim(crate::ddim::DdimError::Cancelled))
    }
}
