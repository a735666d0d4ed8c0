//! Reading a song file into a pipeline input the same way for every command.
use anyhow::Result;
use refrain_engine::audio;
use refrain_engine::pipeline::SongInput;
use std::path::Path;

/// Decodes `path` into a [`SongInput`] named after its file name (what messages and sidecars show).
pub fn load(path: &Path, offset_s: Option<f64>, weight: f32) -> Result<SongInput> {
    let audio = audio::read_file(path)?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok(SongInput {
        name,
        audio,
        offset_s,
        weight,
    })
}
