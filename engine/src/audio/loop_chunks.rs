//! Loop points and tempo in a clip's WAV file, appended after hound wrote it: `smpl` (the
//! sampler chunk: one forward loop over the whole clip, which samplers and DAWs read as loop
//! points) and `acid` (tempo, beats and metre: Ableton Live, FL Studio, Bitwig and Acid read it
//! to place a loop at the project tempo). Readers that know neither skip them: they come after
//! the audio, and RIFF readers step over chunks they do not know.
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::AudioError;

/// What a looping clip tells a DAW.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoopInfo {
    /// Frames in the clip (the loop ends at its last frame).
    pub frames: u32,
    /// The file's sample rate.
    pub sample_rate: u32,
    /// Tempo in quarter-note beats per minute.
    pub bpm: f32,
    /// Quarter-note beats in the clip.
    pub beats: u32,
    /// Time signature, e.g. (4, 4), (3, 4), (7, 8).
    pub meter: (u16, u16),
}

/// The time signature whose bar holds `quarter_notes` quarter notes: n/4 when whole, n/8 when
/// halves (3.5 → 7/8), else 4/4.
pub fn meter_for(quarter_notes: f64) -> (u16, u16) {
    let whole = |v: f64| (v - v.round()).abs() < 1e-6 && (1.0..=64.0).contains(&v);
    if whole(quarter_notes) {
        (quarter_notes.round() as u16, 4)
    } else if whole(quarter_notes * 2.0) {
        ((quarter_notes * 2.0).round() as u16, 8)
    } else {
        (4, 4)
    }
}

/// Appends `smpl` and `acid` chunks to the RIFF/WAVE file at `path` and fixes its RIFF size.
pub fn append_loop_chunks(path: &Path, info: &LoopInfo) -> Result<(), AudioError> {
    let io = |source| AudioError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io)?;
    let mut header = [0u8; 12];
    file.read_exact(&mut header).map_err(io)?;
    if &header[0..4] != b"RIFF" || &header[8..12] != b"WAVE" {
        return Err(AudioError::InvalidAudio(format!(
            "{} is not a RIFF/WAVE file",
            path.display()
        )));
    }
    let mut end = file.seek(SeekFrom::End(0)).map_err(io)?;
    // RIFF chunks start on even offsets: an odd-length data chunk is followed by a pad byte.
    if end % 2 == 1 {
        file.write_all(&[0]).map_err(io)?;
        end += 1;
    }
    let mut chunks = Vec::with_capacity(8 + 60 + 8 + 24);
    chunks.extend_from_slice(b"smpl");
    chunks.extend_from_slice(&60u32.to_le_bytes());
    let period_ns = (1e9 / f64::from(info.sample_rate.max(1))).round() as u32;
    for value in [0, 0, period_ns, 60, 0, 0, 0, 1, 0] {
        // manufacturer, product, sample period, MIDI unity note, pitch fraction, SMPTE format
        // and offset, one loop, no sampler data
        chunks.extend_from_slice(&u32::to_le_bytes(value));
    }
    for value in [0, 0, 0, info.frames.saturating_sub(1), 0, 0] {
        // cue id, forward loop, start, end (inclusive), fraction, play forever
        chunks.extend_from_slice(&u32::to_le_bytes(value));
    }
    chunks.extend_from_slice(b"acid");
    chunks.extend_from_slice(&24u32.to_le_bytes());
    // Flags: root note set (0x02) + stretch (0x04); no one-shot bit, so it is a loop.
    chunks.extend_from_slice(&0x06u32.to_le_bytes());
    chunks.extend_from_slice(&60u16.to_le_bytes());
    chunks.extend_from_slice(&0x8000u16.to_le_bytes());
    chunks.extend_from_slice(&0f32.to_le_bytes());
    chunks.extend_from_slice(&info.beats.to_le_bytes());
    chunks.extend_from_slice(&info.meter.1.to_le_bytes());
    chunks.extend_from_slice(&info.meter.0.to_le_bytes());
    chunks.extend_from_slice(&info.bpm.to_le_bytes());
    file.write_all(&chunks).map_err(io)?;
    let riff_size = u32::try_from(end + chunks.len() as u64 - 8).map_err(|_| {
        AudioError::InvalidAudio(format!("{} is too large for RIFF", path.display()))
    })?;
    file.seek(SeekFrom::Start(4)).map_err(io)?;
    file.write_all(&riff_size.to_le_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

/// What a file's `smpl` and `acid` chunks say (the sample rate from `smpl`'s period in ns, so
/// to within rounding), for tests and tools; `None` when either is missing.
pub fn read_loop_chunks(bytes: &[u8]) -> Option<LoopInfo> {
    let (mut smpl, mut acid) = (None, None);
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().ok()?) as usize;
        let body = bytes.get(at + 8..at + 8 + size)?;
        match id {
            b"smpl" => smpl = Some(body),
            b"acid" => acid = Some(body),
            _ => {}
        }
        at += 8 + size + size % 2;
    }
    let (smpl, acid) = (smpl?, acid?);
    let word = |b: &[u8], i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap_or([0; 4]));
    let half = |b: &[u8], i: usize| u16::from_le_bytes(b[i..i + 2].try_into().unwrap_or([0; 2]));
    if smpl.len() < 60 || acid.len() < 24 {
        return None;
    }
    Some(LoopInfo {
        frames: word(smpl, 36 + 12) + 1,
        sample_rate: (1e9 / f64::from(word(smpl, 8).max(1))).round() as u32,
        bpm: f32::from_bits(word(acid, 20)),
        beats: word(acid, 12),
        meter: (half(acid, 18), half(acid, 16)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meters_from_quarter_notes() {
        assert_eq!(meter_for(4.0), (4, 4));
        assert_eq!(meter_for(3.0), (3, 4));
        assert_eq!(meter_for(3.5), (7, 8));
        assert_eq!(meter_for(1.3), (4, 4));
    }
}
