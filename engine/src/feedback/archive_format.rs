//! The session archive container: header types, writing, and checked reading.
//!
//! Format (version 1), all integers little-endian:
//!
//! ```text
//! 16 bytes  magic "REFRAIN-SESSION\n"
//!  4 bytes  u32 format version (1)
//!  8 bytes  u64 header length H
//!  H bytes  UTF-8 JSON header (SessionHeader: songs, generations, ratings, blob table)
//!  blobs    back to back, in the order of `header.blobs`; each listed with its length and
//!           sha256. Audio blobs are the clip files byte for byte; latent blobs are LE f32s.
//! ```
//!
//! Rows are identified by uid, not row id, so ingest remaps ids and skips what it already has.
//! Floats travel as JSON f64 (every f32 converts to f64 exactly and back).
//! A single self-describing file rather than a zip, because the engine does not depend on
//! `zip`; the header is plain JSON, so the file is inspectable with `head -c`.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::clips;
use super::error::{FeedbackError, Result};
use super::types::Uid;

const MAGIC: &[u8; 16] = b"REFRAIN-SESSION\n";
const FORMAT: u32 = 1;
/// A header larger than this is not one we wrote; refuse before allocating it.
const MAX_HEADER: u64 = 256 << 20;

/// The JSON header: every row of the session, with blob indices for its binary parts.
#[derive(Serialize, Deserialize)]
pub(crate) struct SessionHeader {
    pub(crate) exported_at_ms: i64,
    pub(crate) since_ms: i64,
    pub(crate) blobs: Vec<BlobInfo>,
    pub(crate) songs: Vec<ArchSong>,
    pub(crate) generations: Vec<ArchGeneration>,
    pub(crate) ratings: Vec<ArchRating>,
}

/// Length and sha256 (lowercase hex) of one blob, checked before ingest writes anything.
#[derive(Serialize, Deserialize)]
pub(crate) struct BlobInfo {
    pub(crate) len: u64,
    pub(crate) sha256: String,
}

/// A song row; `file_ext` keeps the extension of a song copied from a non-WAV file.
#[derive(Serialize, Deserialize)]
pub(crate) struct ArchSong {
    pub(crate) uid: Uid,
    pub(crate) created_ms: i64,
    pub(crate) source: String,
    pub(crate) sample_rate: u32,
    pub(crate) duration_s: f64,
    pub(crate) file_ext: String,
    pub(crate) audio_blob: usize,
    pub(crate) latent_blob: usize,
}

/// A clip row; conditioning songs by uid, in merge order.
#[derive(Serialize, Deserialize)]
pub(crate) struct ArchGeneration {
    pub(crate) uid: Uid,
    pub(crate) created_ms: i64,
    pub(crate) song_uids: Vec<Uid>,
    pub(crate) weights: Vec<f64>,
    pub(crate) seed: u64,
    pub(crate) strength: f64,
    pub(crate) steps: u32,
    pub(crate) eta: f64,
    /// Absent in archives written before the store kept it: those clips had none.
    #[serde(default)]
    pub(crate) detail: f64,
    pub(crate) model_version: u32,
    pub(crate) is_baseline: bool,
    /// Absent in archives written before the store kept it: those clips have no request.
    #[serde(default)]
    pub(crate) request: Option<Uid>,
    pub(crate) sample_rate: u32,
    pub(crate) audio_blob: usize,
    pub(crate) latent_blob: usize,
}

/// A rating row; its clip by uid.
#[derive(Serialize, Deserialize)]
pub(crate) struct ArchRating {
    pub(crate) uid: Uid,
    pub(crate) clip_uid: Uid,
    pub(crate) accepted: bool,
    pub(crate) stars: Option<u8>,
    pub(crate) listen_ms: u64,
    pub(crate) clip_ms: u64,
    pub(crate) rated_at_ms: i64,
    pub(crate) rater_id: String,
}

/// A blob to write: a file copied as is, or bytes in memory (latents).
pub(crate) enum BlobSource {
    File(PathBuf),
    Bytes(Vec<u8>),
}

/// Writes the container to `out` crash-safely (temp file, fsync, rename); returns its size.
pub(crate) fn write_archive(
    out: &Path,
    header: &SessionHeader,
    blobs: &[BlobSource],
) -> Result<u64> {
    let json = serde_json::to_vec(header).map_err(|e| FeedbackError::Json {
        path: out.to_path_buf(),
        source: e,
    })?;
    clips::write_atomic(out, |tmp| {
        let io = |e| FeedbackError::io("write session archive", tmp, e);
        let mut w = BufWriter::new(File::create(tmp).map_err(io)?);
        w.write_all(MAGIC).map_err(io)?;
        w.write_all(&FORMAT.to_le_bytes()).map_err(io)?;
        w.write_all(&(json.len() as u64).to_le_bytes())
            .map_err(io)?;
        w.write_all(&json).map_err(io)?;
        for b in blobs {
            match b {
                BlobSource::Bytes(v) => w.write_all(v).map_err(io)?,
                BlobSource::File(p) => {
                    let mut src =
                        File::open(p).map_err(|e| FeedbackError::io("read clip", p, e))?;
                    std::io::copy(&mut src, &mut w).map_err(io)?;
                }
            }
        }
        let file = w.into_inner().map_err(|e| io(e.into_error()))?;
        file.metadata().map(|m| m.len()).map_err(io)
    })
}

/// Reads and checks magic, format version and the JSON header; returns it and where blobs start.
pub(crate) fn read_header(f: &mut BufReader<File>, path: &Path) -> Result<(SessionHeader, u64)> {
    let bad = |reason: &str| FeedbackError::Archive {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let mut fixed = [0u8; 28];
    f.read_exact(&mut fixed)
        .map_err(|_| bad("too short to be a session archive"))?;
    if &fixed[..16] != MAGIC {
        return Err(bad("not a Refrain session archive (wrong magic)"));
    }
    let version = u32::from_le_bytes([fixed[16], fixed[17], fixed[18], fixed[19]]);
    if version != FORMAT {
        return Err(bad(&format!(
            "format version {version}, this build reads {FORMAT}"
        )));
    }
    let mut len8 = [0u8; 8];
    len8.copy_from_slice(&fixed[20..28]);
    let len = u64::from_le_bytes(len8);
    if len > MAX_HEADER {
        return Err(bad(&format!("header of {len} bytes is implausibly large")));
    }
    let mut json = vec![0u8; len as usize];
    f.read_exact(&mut json)
        .map_err(|_| bad("truncated header"))?;
    let header = serde_json::from_slice(&json).map_err(|e| FeedbackError::Json {
        path: path.to_path_buf(),
        source: e,
    })?;
    Ok((header, 28 + len))
}

/// Checks every blob's length and sha256 and that nothing trails them; returns (offset, len).
pub(crate) fn verify_blobs(
    f: &mut BufReader<File>,
    blobs: &[BlobInfo],
    start: u64,
    path: &Path,
) -> Result<Vec<(u64, u64)>> {
    let bad = |reason: String| FeedbackError::Archive {
        path: path.to_path_buf(),
        reason,
    };
    let mut offsets = Vec::with_capacity(blobs.len());
    let mut off = start;
    for (i, b) in blobs.iter().enumerate() {
        let mut hasher = Sha256::new();
        let n = std::io::copy(&mut f.by_ref().take(b.len), &mut HashWriter(&mut hasher))
            .map_err(|e| FeedbackError::io("read session archive", path, e))?;
        if n != b.len {
            return Err(bad(format!(
                "truncated: blob {i} has {n} of {} bytes",
                b.len
            )));
        }
        if hex(&hasher.finalize()) != b.sha256 {
            return Err(bad(format!("blob {i} fails its sha256 check")));
        }
        offsets.push((off, b.len));
        off += b.len;
    }
    let mut extra = [0u8; 1];
    if f.read(&mut extra)
        .map_err(|e| FeedbackError::io("read session archive", path, e))?
        != 0
    {
        return Err(bad("unexpected bytes after the last blob".into()));
    }
    Ok(offsets)
}

/// Length and sha256 of a clip file, streamed.
pub(crate) fn hash_file(path: &Path) -> Result<BlobInfo> {
    let mut hasher = Sha256::new();
    let mut f = File::open(path).map_err(|e| FeedbackError::io("read clip", path, e))?;
    let len = std::io::copy(&mut f, &mut HashWriter(&mut hasher))
        .map_err(|e| FeedbackError::io("read clip", path, e))?;
    Ok(BlobInfo {
        len,
        sha256: hex(&hasher.finalize()),
    })
}

/// Lets `std::io::copy` feed a hasher.
struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Lowercase hex of a digest.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clip_from_an_archive_written_before_detail_and_request_reads_as_none() {
        let old = r#"{"uid":"0123456789abcdef0123456789abcdef","created_ms":1,"song_uids":[],
            "weights":[],"seed":3,"strength":0.5,"steps":25,"eta":0.0,"model_version":0,
            "is_baseline":false,"sample_rate":44100,"audio_blob":0,"latent_blob":1}"#;
        let g: ArchGeneration = serde_json::from_str(old).unwrap();
        assert_eq!((g.detail, g.steps, g.request), (0.0, 25, None));
    }
}
