//! Decoding song files (WAV, FLAC, MP3, OGG Vorbis) to planar `f32` with symphonia.

use std::fs::File;
use std::io::ErrorKind;
use std::path::Path;

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use super::{sanitize, Audio, AudioError};

/// How many consecutive undecodable packets we tolerate before calling the file corrupt.
///
/// Skipping a few bad packets keeps a mostly-good song usable (a glitch in one MP3 frame should
/// not lose the whole song), but a file where nothing decodes must fail rather than loop or
/// return noise.
const MAX_CONSECUTIVE_BAD_PACKETS: usize = 64;

/// Decodes a whole audio file (WAV, FLAC, MP3 or OGG Vorbis) into planar `f32` [`Audio`] at the
/// file's own sample rate and channel count.
///
/// The format is probed from the content, with the file extension as a hint. Packets that fail to
/// decode are skipped with a warning (so one damaged frame does not lose a song); NaN/∞ samples
/// are replaced by silence (see [`sanitize`]).
///
/// Errors: [`AudioError::NotFound`] when the file is missing, [`AudioError::Unsupported`] for an
/// unknown or corrupt format or codec, [`AudioError::NoAudioTrack`], [`AudioError::Decode`] when
/// too many packets in a row fail, and [`AudioError::Empty`] when nothing decodes.
pub fn read_file(path: &Path) -> Result<Audio, AudioError> {
    let file = File::open(path).map_err(|source| match source.kind() {
        ErrorKind::NotFound => AudioError::NotFound {
            path: path.to_path_buf(),
        },
        _ => AudioError::Io {
            path: path.to_path_buf(),
            source,
        },
    })?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let unsupported = |e: SymError| AudioError::Unsupported {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let failed = |reason: String| AudioError::Decode {
        path: path.to_path_buf(),
        reason,
    };
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(unsupported)?;

    let no_track = || AudioError::NoAudioTrack {
        path: path.to_path_buf(),
    };
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(no_track)?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(no_track)?
        .clone();
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(unsupported)?;

    let mut channels: Vec<Vec<f32>> = Vec::new();
    let mut sample_rate = params.sample_rate.unwrap_or(0);
    let mut interleaved: Vec<f32> = Vec::new();
    let (mut skipped, mut bad_in_a_row) = (0usize, 0usize);
    loop {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            // A chained OGG stream starts a new track list; the first song is what we want.
            Err(SymError::ResetRequired) => {
                tracing::warn!(path = %path.display(), "stream changed mid-file; keeping the first part");
                break;
            }
            // Some readers report a truncated last packet as an unexpected EOF: treat it as the
            // end of the file rather than an error, as players do.
            Err(SymError::IoError(e)) if e.kind() == ErrorKind::UnexpectedEof => break,
            Err(e) if channels.first().is_some_and(|c| !c.is_empty()) => {
                tracing::warn!(path = %path.display(), error = %e, "demuxing stopped early; keeping what decoded");
                break;
            }
            Err(e) => return Err(failed(e.to_string())),
        };
        if packet.track_id != track_id {
            continue;
        }
        let buf = match decoder.decode(&packet) {
            Ok(buf) => buf,
            Err(SymError::DecodeError(_) | SymError::IoError(_)) => {
                skipped += 1;
                bad_in_a_row += 1;
                tracing::warn!(path = %path.display(), pts = ?packet.pts, "skipping undecodable packet");
                if bad_in_a_row > MAX_CONSECUTIVE_BAD_PACKETS {
                    return Err(failed(format!(
                        "{bad_in_a_row} packets in a row failed to decode"
                    )));
                }
                continue;
            }
            Err(e) => return Err(failed(e.to_string())),
        };
        bad_in_a_row = 0;
        let count = buf.spec().channels().count();
        if count == 0 || buf.frames() == 0 {
            continue;
        }
        if channels.is_empty() {
            channels = vec![Vec::new(); count];
            sample_rate = buf.spec().rate();
        } else if count != channels.len() {
            // Keeping the planar invariant matters more than a packet whose layout changed.
            skipped += 1;
            tracing::warn!(path = %path.display(), count, "skipping packet with a different channel count");
            continue;
        }
        buf.copy_to_vec_interleaved(&mut interleaved);
        for (c, ch) in channels.iter_mut().enumerate() {
            ch.extend(interleaved.iter().skip(c).step_by(count));
        }
    }

    if channels.first().is_none_or(Vec::is_empty) {
        return Err(AudioError::Empty {
            path: path.to_path_buf(),
        });
    }
    if sample_rate == 0 {
        return Err(failed("the stream does not state its sample rate".into()));
    }
    let replaced: usize = channels.iter_mut().map(|c| sanitize(c)).sum();
    if replaced > 0 {
        tracing::warn!(path = %path.display(), replaced, "replaced non-finite samples with silence");
    }
    let audio = Audio {
        sample_rate,
        channels,
    };
    tracing::debug!(
        path = %path.display(),
        rate = audio.sample_rate,
        channels = audio.channels.len(),
        secs = audio.duration_secs(),
        skipped,
        "decoded audio file"
    );
    Ok(audio)
}
