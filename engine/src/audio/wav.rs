//! WAV writing with hound. Reading goes through [`super::read_file`], which handles WAV too.

use std::path::Path;

use hound::{SampleFormat, WavSpec, WavWriter};

use super::{Audio, AudioError};

/// Writes `audio` as a 32-bit float WAV: lossless for anything the engine produces, so
/// intermediate and generated clips keep their exact values (including peaks above 0 dBFS).
pub fn write_wav(path: &Path, audio: &Audio) -> Result<(), AudioError> {
    let spec = spec_for(audio, 32, SampleFormat::Float)?;
    write_with(path, audio, spec, |w, s| w.write_sample(s))
}

/// Writes `audio` as 16-bit PCM WAV, clipping to [-1, 1] and rounding with [`quantize_i16`].
///
/// Half the size of [`write_wav`]; meant for small files committed to the repository (the
/// bundled example loop) and for previews handed to other tools.
pub fn write_wav_i16(path: &Path, audio: &Audio) -> Result<(), AudioError> {
    let spec = spec_for(audio, 16, SampleFormat::Int)?;
    write_with(path, audio, spec, |w, s| w.write_sample(quantize_i16(s)))
}

/// Writes a clip for DAWs and other tools: 24-bit integer PCM, which every DAW and sox read
/// without a warning (hound writes WAVE_FORMAT_EXTENSIBLE above 16 bits, with the PCM
/// sub-format; its 32-bit float files make sox warn about the fmt chunk). Samples are clipped
/// to [-1, 1]: generated clips are peak-limited below 0 dBFS, other callers scale first.
pub fn write_wav_pcm24(path: &Path, audio: &Audio) -> Result<(), AudioError> {
    let spec = spec_for(audio, 24, SampleFormat::Int)?;
    write_with(path, audio, spec, |w, s| w.write_sample(quantize_i24(s)))
}

/// The 24-bit value [`write_wav_pcm24`] stores for a sample: clipped to [-1, 1], scaled by
/// 8 388 607 and rounded to nearest; NaN becomes 0.
pub fn quantize_i24(sample: f32) -> i32 {
    if sample.is_nan() {
        return 0;
    }
    (f64::from(sample.clamp(-1.0, 1.0)) * 8_388_607.0).round() as i32
}

/// The 16-bit value [`write_wav_i16`] stores for a sample: clipped to [-1, 1], scaled by 32767
/// and rounded to nearest; NaN becomes 0.
///
/// Scaling by 32767 (not 32768) keeps +1.0 and -1.0 symmetric and representable.
pub fn quantize_i16(sample: f32) -> i16 {
    if sample.is_nan() {
        return 0;
    }
    // After the clamp the product lies in [-32767, 32767], so the cast cannot saturate.
    (sample.clamp(-1.0, 1.0) * 32767.0).round() as i16
}

fn spec_for(
    audio: &Audio,
    bits_per_sample: u16,
    sample_format: SampleFormat,
) -> Result<WavSpec, AudioError> {
    if audio.sample_rate == 0 {
        return Err(AudioError::InvalidSampleRate { rate: 0 });
    }
    let frames = audio.frames();
    if audio.channels.is_empty() || audio.channels.iter().any(|c| c.len() != frames) {
        return Err(AudioError::InvalidAudio(format!(
            "cannot write {} channel(s) of unequal or zero count as WAV",
            audio.channels.len()
        )));
    }
    let channels = u16::try_from(audio.channels.len()).map_err(|_| {
        AudioError::InvalidAudio(format!(
            "{} channels do not fit a WAV file",
            audio.channels.len()
        ))
    })?;
    Ok(WavSpec {
        channels,
        sample_rate: audio.sample_rate,
        bits_per_sample,
        sample_format,
    })
}

/// Interleaves frame by frame into the writer and finalizes (hound only fixes the header sizes
/// in `finalize`, so a file that was not finalized would claim zero length).
fn write_with<F>(path: &Path, audio: &Audio, spec: WavSpec, mut put: F) -> Result<(), AudioError>
where
    F: FnMut(&mut WavWriter<std::io::BufWriter<std::fs::File>>, f32) -> hound::Result<()>,
{
    let err = |source| AudioError::WavWrite {
        path: path.to_path_buf(),
        source,
    };
    let mut writer = WavWriter::create(path, spec).map_err(err)?;
    for i in 0..audio.frames() {
        for ch in &audio.channels {
            put(&mut writer, ch[i]).map_err(err)?;
        }
    }
    writer.finalize().map_err(err)?;
    tracing::debug!(
        path = %path.display(),
        frames = audio.frames(),
        channels = audio.channels.len(),
        bits = spec.bits_per_sample,
        "wrote WAV"
    );
    Ok(())
}
