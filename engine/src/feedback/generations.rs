//! Generated clips: `add_generation`, `generation`, `generations`.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::clips;
use super::error::{FeedbackError, Result};
use super::rows::{collect_rows, require_row};
use super::store::FeedbackStore;
use super::types::{
    blob_to_latent, check_latent, latent_to_blob, now_ms, seed_from_sql, seed_to_sql, ClipId,
    SongId, Uid,
};

/// A generated clip to add with [`FeedbackStore::add_generation`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewGeneration {
    /// The conditioning songs, in merge order (may be empty for an unconditional clip).
    pub song_ids: Vec<SongId>,
    /// One SLERP merge weight per song.
    pub weights: Vec<f32>,
    /// The DDIM noise seed.
    pub seed: u64,
    /// How far the merged latent was noised (0..=1).
    pub strength: f32,
    /// DDIM steps.
    pub steps: u32,
    /// DDIM eta.
    pub eta: f32,
    /// Source detail added back when it was rendered (0..=1; `pipeline::detail`).
    pub detail: f32,
    /// The model version that made it (0 = shipped base).
    pub model_version: u32,
    /// True for a blind baseline clip made by the parent version (docs/ARCHITECTURE.md §4.4); never shown
    /// to the producer as such.
    pub is_baseline: bool,
    /// The clip's mono audio, written as a 32-bit float WAV.
    pub audio: Vec<f32>,
    /// Sample rate of `audio` in Hz.
    pub sample_rate: u32,
    /// The final (denoised) latent.
    pub latent: Vec<f32>,
    /// The request it was made for: one uid for every clip of one Generate, blind twins
    /// included (`None`: not known, e.g. a clip from before the store kept it).
    pub request: Option<Uid>,
}

/// A stored generated clip.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// Row id in this store (what ratings and pool samples point at).
    pub id: ClipId,
    /// Id shared by every store this clip travels to.
    pub uid: Uid,
    /// When it was stored (unix ms).
    pub created_ms: i64,
    /// Conditioning songs in merge order.
    pub song_ids: Vec<SongId>,
    /// Their merge weights.
    pub weights: Vec<f32>,
    /// See [`NewGeneration::seed`].
    pub seed: u64,
    /// See [`NewGeneration::strength`].
    pub strength: f32,
    /// See [`NewGeneration::steps`].
    pub steps: u32,
    /// See [`NewGeneration::eta`].
    pub eta: f32,
    /// See [`NewGeneration::detail`].
    pub detail: f32,
    /// See [`NewGeneration::model_version`].
    pub model_version: u32,
    /// See [`NewGeneration::is_baseline`].
    pub is_baseline: bool,
    /// Sample rate of the WAV in Hz.
    pub sample_rate: u32,
    /// Absolute path of the clip's WAV under `clips/`.
    pub wav_path: PathBuf,
    /// The final latent.
    pub latent: Vec<f32>,
    /// See [`NewGeneration::request`].
    pub request: Option<Uid>,
}

/// Columns of `generations` in the order [`generation_from_row`] reads them.
pub(crate) const GENERATION_COLUMNS: &str = "g.id, g.uid, g.created_ms, g.seed, g.strength, \
     g.steps, g.eta, g.model_version, g.is_baseline, g.sample_rate, g.wav_path, g.latent, g.detail, g.request_uid";

impl FeedbackStore {
    /// Stores a generated clip: its WAV under `clips/` (temp + rename), its row and its
    /// conditioning, in one transaction. Fails with [`FeedbackError::NotFound`] naming the song
    /// when a conditioning song is not in the store.
    pub fn add_generation(&mut self, g: NewGeneration) -> Result<ClipId> {
        validate(&g)?;
        let uid = Uid::random();
        let name = format!("gen-{uid}.wav");
        let path = clips::write_mono_wav(&self.data_dir, &name, &g.audio, g.sample_rate)?;
        let rel = clips::rel_path(&name);
        let created = now_ms();
        let id = self
            .write(|tx| {
                for &s in &g.song_ids {
                    require_row(tx, "songs", "song", s.0)?;
                }
                insert_generation(tx, uid, created, &g, &rel)
            })
            .inspect_err(|_| clips::discard(&path))?;
        tracing::debug!(clip = %id, uid = %uid, "stored generation");
        Ok(id)
    }

    /// One clip by id.
    pub fn generation(&self, id: ClipId) -> Result<Generation> {
        let dir = self.data_dir.clone();
        self.read(|c| {
            generation_by_id(c, id, &dir)?.ok_or(FeedbackError::NotFound {
                what: "clip",
                id: id.0,
            })
        })
    }

    /// Every clip, oldest first.
    pub fn generations(&self) -> Result<Vec<Generation>> {
        let dir = self.data_dir.clone();
        self.read(|c| {
            let sql = format!("SELECT {GENERATION_COLUMNS} FROM generations g ORDER BY g.id");
            collect_rows(c, &sql, [], |row| generation_from_row(c, row, &dir))
        })
    }
}

fn validate(g: &NewGeneration) -> Result<()> {
    if g.song_ids.len() != g.weights.len() {
        return Err(FeedbackError::invalid(
            "generation.weights",
            format!("{} weights for {} songs", g.weights.len(), g.song_ids.len()),
        ));
    }
    if let Some(w) = g.weights.iter().find(|w| !w.is_finite()) {
        return Err(FeedbackError::invalid(
            "generation.weights",
            format!("{w} is not finite"),
        ));
    }
    if !(0.0..=1.0).contains(&g.strength) {
        return Err(FeedbackError::invalid(
            "generation.strength",
            format!("{} is outside 0..=1", g.strength),
        ));
    }
    if g.steps == 0 {
        return Err(FeedbackError::invalid("generation.steps", "must be > 0"));
    }
    if !g.eta.is_finite() || g.eta < 0.0 {
        return Err(FeedbackError::invalid(
            "generation.eta",
            format!("{} is not a non-negative number", g.eta),
        ));
    }
    if !(0.0..=1.0).contains(&g.detail) {
        return Err(FeedbackError::invalid(
            "generation.detail",
            format!("{} is outside 0..=1", g.detail),
        ));
    }
    if g.sample_rate == 0 {
        return Err(FeedbackError::invalid(
            "generation.sample_rate",
            "must be > 0",
        ));
    }
    if g.audio.is_empty() {
        return Err(FeedbackError::invalid("generation.audio", "no samples"));
    }
    check_latent("generation.latent", &g.latent)
}

/// Inserts a generation row and its conditioning (the WAV must already be in place).
pub(crate) fn insert_generation(
    c: &Connection,
    uid: Uid,
    created_ms: i64,
    g: &NewGeneration,
    wav_rel: &str,
) -> Result<ClipId> {
    c.prepare_cached(
        "INSERT INTO generations (uid, created_ms, seed, strength, steps, eta, model_version,
                                  is_baseline, sample_rate, wav_path, latent, detail, request_uid)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        uid,
        created_ms,
        seed_to_sql(g.seed),
        f64::from(g.strength),
        g.steps,
        f64::from(g.eta),
        g.model_version,
        g.is_baseline,
        g.sample_rate,
        wav_rel,
        latent_to_blob(&g.latent),
        f64::from(g.detail),
        g.request
    ])?;
    let id = ClipId(c.last_insert_rowid());
    let mut stmt = c.prepare_cached(
        "INSERT INTO generation_songs (generation_id, position, song_id, weight)
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (pos, (song, w)) in g.song_ids.iter().zip(&g.weights).enumerate() {
        stmt.execute(params![id, pos as i64, song, f64::from(*w)])?;
    }
    Ok(id)
}

/// The row id of the clip with `uid`, if this store has it.
pub(crate) fn generation_by_uid(c: &Connection, uid: Uid) -> Result<Option<ClipId>> {
    Ok(
        c.query_row("SELECT id FROM generations WHERE uid = ?1", [uid], |r| {
            r.get(0)
        })
        .optional()?,
    )
}

/// One clip with its conditioning, or `None`.
pub(crate) fn generation_by_id(
    c: &Connection,
    id: ClipId,
    data_dir: &Path,
) -> Result<Option<Generation>> {
    let sql = format!("SELECT {GENERATION_COLUMNS} FROM generations g WHERE g.id = ?1");
    // The id is the primary key: at most one row.
    Ok(collect_rows(c, &sql, [id], |row| generation_from_row(c, row, data_dir))?.pop())
}

/// Reads a row selected with [`GENERATION_COLUMNS`] and loads its conditioning.
pub(crate) fn generation_from_row(
    c: &Connection,
    row: &Row<'_>,
    data_dir: &Path,
) -> Result<Generation> {
    let id: i64 = row.get(0)?;
    let rel: String = row.get(10)?;
    let blob: Vec<u8> = row.get(11)?;
    let (song_ids, weights) = conditioning(c, ClipId(id))?;
    Ok(Generation {
        id: ClipId(id),
        uid: row.get(1)?,
        created_ms: row.get(2)?,
        song_ids,
        weights,
        seed: seed_from_sql(row.get(3)?),
        strength: row.get::<_, f64>(4)? as f32,
        steps: row.get(5)?,
        eta: row.get::<_, f64>(6)? as f32,
        detail: row.get::<_, f64>(12)? as f32,
        model_version: row.get(7)?,
        is_baseline: row.get(8)?,
        sample_rate: row.get(9)?,
        wav_path: data_dir.join(rel),
        latent: blob_to_latent(&blob, "generations", "latent", id)?,
        request: row.get(13)?,
    })
}

/// A clip's conditioning songs and weights, in merge order.
fn conditioning(c: &Connection, id: ClipId) -> Result<(Vec<SongId>, Vec<f32>)> {
    let mut stmt = c.prepare_cached(
        "SELECT song_id, weight FROM generation_songs WHERE generation_id = ?1 ORDER BY position",
    )?;
    let rows = stmt.query_map([id], |r| Ok((r.get(0)?, r.get::<_, f64>(1)? as f32)))?;
    let mut songs = Vec::new();
    let mut weights = Vec::new();
    for row in rows {
        let (s, w) = row?;
        songs.push(s);
        weights.push(w);
    }
    Ok((songs, weights))
}
