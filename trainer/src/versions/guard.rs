//! The forgetting guard's file in a version directory: held-out corpus latents written once by
//! the version export and read by every fine-tune of that lineage.
use std::path::Path;

/// Held-out corpus latents (scaled, f32 little-endian, one after another) shipped with a
/// version so a fine-tune on a producer's machine can check it is not forgetting the corpus.
pub const GUARD_FILE: &str = "guard.latents";

/// Writes `latents` as a [`GUARD_FILE`] into `dir`.
pub fn write_guard(dir: &Path, latents: &[Vec<f32>]) -> std::io::Result<()> {
    let bytes: Vec<u8> = latents
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    std::fs::write(dir.join(GUARD_FILE), bytes)
}
