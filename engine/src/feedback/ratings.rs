//! Ratings: `add_rating` and the queries the trainer reads (docs/ARCHITECTURE.md §4.4).

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

use super::error::{FeedbackError, Result};
use super::generations::{generation_by_id, Generation};
use super::rows::require_row;
use super::store::FeedbackStore;
use super::types::{blob_to_latent, ms_to_sql, now_ms, ClipId, RatingId, Since, SongId, Uid};

/// A rating to add with [`FeedbackStore::add_rating`] or [`super::RatingSink::record`].
///
/// Serialisable because the sink spools it as one JSON line when the database is busy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRating {
    /// Made by the client when the producer rates, so a retry, a spool replay or an archive
    /// ingest of the same rating is recognised and adds nothing.
    pub uid: Uid,
    /// The rated clip.
    pub clip_id: ClipId,
    /// Accept (true) or Reject (false).
    pub accepted: bool,
    /// 1–5 stars, or none.
    pub stars: Option<u8>,
    /// How long the producer actually listened (from real playback).
    pub listen_ms: u64,
    /// The clip's length; must be > 0 (the listening fraction divides by it).
    pub clip_ms: u64,
    /// Who rated (per-rater normalisation in docs/ARCHITECTURE.md §4.4 groups by this).
    pub rater_id: String,
    /// When it was rated (unix ms); `None` = now, at insert. The sink fills it before spooling
    /// so a replayed rating keeps its real time.
    pub rated_at_ms: Option<i64>,
}

impl NewRating {
    /// A rating made now, with a fresh [`Uid`].
    pub fn new(
        clip_id: ClipId,
        accepted: bool,
        stars: Option<u8>,
        listen_ms: u64,
        clip_ms: u64,
        rater_id: impl Into<String>,
    ) -> Self {
        Self {
            uid: Uid::random(),
            clip_id,
            accepted,
            stars,
            listen_ms,
            clip_ms,
            rater_id: rater_id.into(),
            rated_at_ms: None,
        }
    }

    /// Checks the contract of docs/ARCHITECTURE.md §4.3 (stars 1–5, clip length > 0, a rater id).
    pub fn validate(&self) -> Result<()> {
        if let Some(s) = self.stars {
            if !(1..=5).contains(&s) {
                return Err(FeedbackError::invalid(
                    "rating.stars",
                    format!("{s} is outside 1..=5"),
                ));
            }
        }
        if self.clip_ms == 0 {
            return Err(FeedbackError::invalid("rating.clip_ms", "must be > 0"));
        }
        ms_to_sql("rating.listen_ms", self.listen_ms)?;
        ms_to_sql("rating.clip_ms", self.clip_ms)?;
        if self.rater_id.trim().is_empty() {
            return Err(FeedbackError::invalid("rating.rater_id", "is empty"));
        }
        Ok(())
    }
}

/// A stored rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    /// Row id in this store.
    pub id: RatingId,
    /// See [`NewRating::uid`].
    pub uid: Uid,
    /// The rated clip.
    pub clip_id: ClipId,
    /// Accept (true) or Reject (false).
    pub accepted: bool,
    /// 1–5 stars, or none.
    pub stars: Option<u8>,
    /// Listening time in ms.
    pub listen_ms: u64,
    /// Clip length in ms.
    pub clip_ms: u64,
    /// When it was rated (unix ms).
    pub rated_at_ms: i64,
    /// Who rated.
    pub rater_id: String,
}

/// A conditioning song of a rated clip, as the trainer needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditioningSong {
    /// The song.
    pub song_id: SongId,
    /// Its merge weight.
    pub weight: f32,
    /// Its latent.
    pub latent: Vec<f32>,
}

/// A rating with everything the trainer needs about its clip, without the plugin.
#[derive(Debug, Clone, PartialEq)]
pub struct RatedClip {
    /// The rating.
    pub rating: Rating,
    /// The rated clip: latent, wav path, model version, `is_baseline`, settings.
    pub clip: Generation,
    /// The clip's conditioning songs with their latents and weights, in merge order.
    pub conditioning: Vec<ConditioningSong>,
}

const RATING_COLUMNS: &str =
    "id, uid, clip_id, accepted, stars, listen_ms, clip_ms, rated_at_ms, rater_id";

impl FeedbackStore {
    /// Stores a rating in one transaction and returns its id.
    ///
    /// Idempotent by [`NewRating::uid`]: adding the same uid again returns the existing id.
    /// Fails with [`FeedbackError::Invalid`] naming the field (e.g. stars outside 1–5) or
    /// [`FeedbackError::NotFound`] when the clip is unknown.
    pub fn add_rating(&mut self, rating: &NewRating) -> Result<RatingId> {
        rating.validate()?;
        let at = rating.rated_at_ms.unwrap_or_else(now_ms);
        let (id, inserted) = self.write(|tx| insert_rating(tx, rating, at))?;
        if inserted {
            tracing::debug!(rating = %id, clip = %rating.clip_id, "stored rating");
        } else {
            tracing::debug!(rating = %id, uid = %rating.uid, "rating already stored");
        }
        Ok(id)
    }

    /// The ratings selected by `since`, oldest first.
    pub fn ratings_since(&self, since: Since) -> Result<Vec<Rating>> {
        self.read(|c| query_ratings(c, since))
    }

    /// Number of ratings in the store.
    pub fn rating_count(&self) -> Result<u64> {
        self.read(|c| {
            let n: i64 = c.query_row("SELECT COUNT(*) FROM ratings", [], |r| r.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    /// The ratings selected by `since`, each joined with its clip (latent, wav path, model
    /// version, `is_baseline`) and its conditioning songs' latents and weights: everything the
    /// trainer's selection and fine-tune read.
    pub fn ratings_with_clips(&self, since: Since) -> Result<Vec<RatedClip>> {
        let dir = self.data_dir.clone();
        self.read(|c| {
            let ratings = query_ratings(c, since)?;
            let mut clips: HashMap<ClipId, Generation> = HashMap::new();
            let mut songs: HashMap<SongId, Vec<f32>> = HashMap::new();
            let mut out = Vec::with_capacity(ratings.len());
            for rating in ratings {
                let clip = match clips.get(&rating.clip_id) {
                    Some(g) => g.clone(),
                    None => {
                        let g = generation_by_id(c, rating.clip_id, &dir)?.ok_or(
                            FeedbackError::NotFound {
                                what: "clip",
                                id: rating.clip_id.0,
                            },
                        )?;
                        clips.insert(g.id, g.clone());
                        g
                    }
                };
                let mut conditioning = Vec::with_capacity(clip.song_ids.len());
                for (&song_id, &weight) in clip.song_ids.iter().zip(&clip.weights) {
                    let latent = match songs.get(&song_id) {
                        Some(l) => l.clone(),
                        None => {
                            let l = song_latent(c, song_id)?;
                            songs.insert(song_id, l.clone());
                            l
                        }
                    };
                    conditioning.push(ConditioningSong {
                        song_id,
                        weight,
                        latent,
                    });
                }
                out.push(RatedClip {
                    rating,
                    clip,
                    conditioning,
                });
            }
            Ok(out)
        })
    }
}

/// Inserts a rating unless its uid is already stored; returns the id and whether it was new.
pub(crate) fn insert_rating(
    c: &Connection,
    r: &NewRating,
    rated_at_ms: i64,
) -> Result<(RatingId, bool)> {
    require_row(c, "generations", "clip", r.clip_id.0)?;
    let changed = c
        .prepare_cached(
            "INSERT INTO ratings (uid, clip_id, accepted, stars, listen_ms, clip_ms, rated_at_ms,
                                  rater_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (uid) DO NOTHING",
        )?
        .execute(params![
            r.uid,
            r.clip_id,
            r.accepted,
            r.stars,
            ms_to_sql("rating.listen_ms", r.listen_ms)?,
            ms_to_sql("rating.clip_ms", r.clip_ms)?,
            rated_at_ms,
            r.rater_id
        ])?;
    let id: RatingId = c.query_row("SELECT id FROM ratings WHERE uid = ?1", [r.uid], |x| {
        x.get(0)
    })?;
    Ok((id, changed == 1))
}

/// `rated_at_ms` lower bound (inclusive) for `since`.
pub(crate) fn since_ms(c: &Connection, since: Since) -> Result<i64> {
    match since {
        Since::All => Ok(i64::MIN),
        Since::Time(ms) => Ok(ms),
        Since::Version(v) => {
            let created: Option<i64> = c
                .query_row(
                    "SELECT created_ms FROM model_versions WHERE version = ?1",
                    [v],
                    |r| r.get(0),
                )
                .optional()?;
            created
                .map(|ms| ms.saturating_add(1))
                .ok_or(FeedbackError::NotFound {
                    what: "model version",
                    id: i64::from(v),
                })
        }
    }
}

/// Ratings from `since`, oldest first.
pub(crate) fn query_ratings(c: &Connection, since: Since) -> Result<Vec<Rating>> {
    let from = since_ms(c, since)?;
    let sql = format!(
        "SELECT {RATING_COLUMNS} FROM ratings WHERE rated_at_ms >= ?1 ORDER BY rated_at_ms, id"
    );
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map([from], rating_from_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

fn rating_from_row(row: &Row<'_>) -> rusqlite::Result<Rating> {
    Ok(Rating {
        id: row.get(0)?,
        uid: row.get(1)?,
        clip_id: row.get(2)?,
        accepted: row.get(3)?,
        stars: row.get(4)?,
        // CHECK constraints keep these >= 0, so the conversion cannot fail on our own rows.
        listen_ms: u64::try_from(row.get::<_, i64>(5)?).unwrap_or(0),
        clip_ms: u64::try_from(row.get::<_, i64>(6)?).unwrap_or(0),
        rated_at_ms: row.get(7)?,
        rater_id: row.get(8)?,
    })
}

fn song_latent(c: &Connection, id: SongId) -> Result<Vec<f32>> {
    let blob: Vec<u8> = c
        .query_row("SELECT latent FROM songs WHERE id = ?1", [id], |r| r.get(0))
        .optional()?
        .ok_or(FeedbackError::NotFound {
            what: "song",
            id: id.0,
        })?;
    blob_to_latent(&blob, "songs", "latent", id.0)
}
