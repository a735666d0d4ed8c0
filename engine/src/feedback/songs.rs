//! Captured conditioning songs: `add_song`, `song`, `songs`.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::clips;
use super::error::{FeedbackError, Result};
use super::rows::collect_rows;
use super::store::FeedbackStore;
use super::types::{blob_to_latent, check_latent, latent_to_blob, now_ms, SongId, Uid};

/// Where a new song's audio comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum SongAudio {
    /// Mono samples at [`NewSong::sample_rate`]; written as a 32-bit float WAV.
    Samples(Vec<f32>),
    /// An existing audio file, copied byte for byte into `clips/` (keeping its extension), so
    /// the store stays complete when the original is moved or deleted.
    File(PathBuf),
}

/// A song to add with [`FeedbackStore::add_song`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewSong {
    /// Where it came from, for people ("DAW track capture", a file name, ...).
    pub source: String,
    /// Sample rate of the audio in Hz.
    pub sample_rate: u32,
    /// Duration in seconds.
    pub duration_s: f64,
    /// The audio itself.
    pub wav: SongAudio,
    /// The encoder's latent for it.
    pub latent: Vec<f32>,
}

/// A stored song.
#[derive(Debug, Clone, PartialEq)]
pub struct Song {
    /// Row id in this store.
    pub id: SongId,
    /// Id shared by every store this song travels to.
    pub uid: Uid,
    /// When it was added (unix ms).
    pub created_ms: i64,
    /// See [`NewSong::source`].
    pub source: String,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Duration in seconds.
    pub duration_s: f64,
    /// Absolute path of its audio file under `clips/`.
    pub wav_path: PathBuf,
    /// Its latent.
    pub latent: Vec<f32>,
}

/// Columns of `songs` in the order [`song_from_row`] reads them.
pub(crate) const SONG_COLUMNS: &str =
    "id, uid, created_ms, source, sample_rate, duration_s, wav_path, latent";

/// A song row as stored, before its path is resolved (shared with archive ingest).
pub(crate) struct SongRow<'a> {
    pub uid: Uid,
    pub created_ms: i64,
    pub source: &'a str,
    pub sample_rate: u32,
    pub duration_s: f64,
    pub wav_rel: &'a str,
    pub latent: &'a [f32],
}

impl FeedbackStore {
    /// Stores a captured song: its audio under `clips/` (temp + rename) and its row, in one
    /// transaction. If the transaction fails the file is removed again.
    pub fn add_song(&mut self, song: NewSong) -> Result<SongId> {
        if song.sample_rate == 0 {
            return Err(FeedbackError::invalid("song.sample_rate", "must be > 0"));
        }
        if !song.duration_s.is_finite() || song.duration_s < 0.0 {
            return Err(FeedbackError::invalid(
                "song.duration_s",
                format!("{} is not a duration", song.duration_s),
            ));
        }
        check_latent("song.latent", &song.latent)?;
        let uid = Uid::random();
        let (name, path) = match &song.wav {
            SongAudio::Samples(samples) => {
                if samples.is_empty() {
                    return Err(FeedbackError::invalid("song.wav", "no samples"));
                }
                let name = format!("song-{uid}.wav");
                let path = clips::write_mono_wav(&self.data_dir, &name, samples, song.sample_rate)?;
                (name, path)
            }
            SongAudio::File(src) => {
                let ext = src
                    .extension()
                    .and_then(|e| e.to_str())
                    .filter(|e| e.chars().all(|c| c.is_ascii_alphanumeric()))
                    .unwrap_or("wav");
                let name = format!("song-{uid}.{ext}");
                let bytes = clips::read_bytes(src)?;
                let path = clips::write_bytes(&self.data_dir, &name, &bytes)?;
                (name, path)
            }
        };
        let rel = clips::rel_path(&name);
        let row = SongRow {
            uid,
            created_ms: now_ms(),
            source: &song.source,
            sample_rate: song.sample_rate,
            duration_s: song.duration_s,
            wav_rel: &rel,
            latent: &song.latent,
        };
        let id = self
            .write(|tx| insert_song(tx, &row))
            .inspect_err(|_| clips::discard(&path))?;
        tracing::debug!(song = %id, uid = %uid, "stored song");
        Ok(id)
    }

    /// One song by id.
    pub fn song(&self, id: SongId) -> Result<Song> {
        let dir = self.data_dir.clone();
        self.read(|c| song_by_id(c, id, &dir))
    }

    /// Every song, oldest first.
    pub fn songs(&self) -> Result<Vec<Song>> {
        let dir = self.data_dir.clone();
        self.read(|c| {
            let sql = format!("SELECT {SONG_COLUMNS} FROM songs ORDER BY id");
            collect_rows(c, &sql, [], |row| song_from_row(row, &dir))
        })
    }
}

/// Inserts a song row (the file must already be in place).
pub(crate) fn insert_song(c: &Connection, s: &SongRow<'_>) -> Result<SongId> {
    c.prepare_cached(
        "INSERT INTO songs (uid, created_ms, source, sample_rate, duration_s, wav_path, latent)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        s.uid,
        s.created_ms,
        s.source,
        s.sample_rate,
        s.duration_s,
        s.wav_rel,
        latent_to_blob(s.latent)
    ])?;
    Ok(SongId(c.last_insert_rowid()))
}

/// The row id of the song with `uid`, if this store has it.
pub(crate) fn song_by_uid(c: &Connection, uid: Uid) -> Result<Option<SongId>> {
    Ok(
        c.query_row("SELECT id FROM songs WHERE uid = ?1", [uid], |r| r.get(0))
            .optional()?,
    )
}

/// One song by id; [`FeedbackError::NotFound`] when the store has none.
pub(crate) fn song_by_id(c: &Connection, id: SongId, data_dir: &Path) -> Result<Song> {
    let sql = format!("SELECT {SONG_COLUMNS} FROM songs WHERE id = ?1");
    // The id is the primary key: at most one row.
    collect_rows(c, &sql, [id], |row| song_from_row(row, data_dir))?
        .pop()
        .ok_or(FeedbackError::NotFound {
            what: "song",
            id: id.0,
        })
}

/// Reads a row selected with [`SONG_COLUMNS`].
pub(crate) fn song_from_row(row: &Row<'_>, data_dir: &Path) -> Result<Song> {
    let id: i64 = row.get(0)?;
    let rel: String = row.get(6)?;
    let blob: Vec<u8> = row.get(7)?;
    Ok(Song {
        id: SongId(id),
        uid: row.get(1)?,
        created_ms: row.get(2)?,
        source: row.get(3)?,
        sample_rate: row.get(4)?,
        duration_s: row.get(5)?,
        wav_path: data_dir.join(rel),
        latent: blob_to_latent(&blob, "songs", "latent", id)?,
    })
}
