//! The one error type of [`crate::audio`].

use std::path::PathBuf;

/// Everything that can go wrong reading, writing or converting audio.
///
/// File-related variants carry the path, so a message shown to a producer (or in a CLI log)
/// always says which file was at fault.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file does not exist.
    #[error("audio file not found: {}", path.display())]
    NotFound {
        /// The path that was asked for.
        path: PathBuf,
    },
    /// The file exists but could not be opened or read.
    #[error("cannot read audio file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The container or codec is not one we decode, or the bytes are not audio at all.
    #[error("unsupported or corrupt audio file {}: {reason}", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
    /// The container holds no audio track (e.g. a video-only or metadata-only file).
    #[error("no audio track in {}", path.display())]
    NoAudioTrack {
        /// The file.
        path: PathBuf,
    },
    /// Decoding failed in a way that cannot be skipped over.
    #[error("cannot decode {}: {reason}", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The file decoded to zero samples.
    #[error("audio file {} contains no samples", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// Writing a WAV file failed.
    #[error("cannot write WAV file {}: {source}", path.display())]
    WavWrite {
        /// The file.
        path: PathBuf,
        /// The error from the WAV writer.
        source: hound::Error,
    },
    /// A sample rate of 0 (or one that does not fit the target format).
    #[error("invalid sample rate {rate} Hz")]
    InvalidSampleRate {
        /// The rejected rate.
        rate: u32,
    },
    /// An [`crate::audio::Audio`] that breaks its invariants (no channels, ragged channels).
    #[error("invalid audio: {0}")]
    InvalidAudio(String),
    /// The resampler refused its configuration or its buffers.
    #[error("resampling {from} Hz -> {to} Hz failed: {reason}")]
    Resample {
        /// Input rate.
        from: u32,
        /// Output rate.
        to: u32,
        /// What the resampler said.
        reason: String,
    },
}
