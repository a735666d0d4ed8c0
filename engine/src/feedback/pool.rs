//! The training pool of docs/ARCHITECTURE.md §4.4: samples the genetic selection admitted, with their
//! history (replaced and purged samples stay, marked, for the per-version report).

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::error::{FeedbackError, Result};
use super::rows::{collect_rows, require_row};
use super::store::FeedbackStore;
use super::types::{blob_to_latent, check_latent, latent_to_blob, ClipId, PoolId};

/// A sample to admit to the pool.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPoolSample {
    /// The clip's conditioning latent (the merged latent the neighbourhood search compares).
    pub condition_latent: Vec<f32>,
    /// The admitted clip.
    pub clip_id: ClipId,
    /// Its score `r` (docs/ARCHITECTURE.md §4.4).
    pub score: f32,
    /// The model version whose selection round admitted it.
    pub added_in_version: u32,
}

/// A pool sample as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolSample {
    /// Row id.
    pub id: PoolId,
    /// See [`NewPoolSample::condition_latent`].
    pub condition_latent: Vec<f32>,
    /// The clip.
    pub clip_id: ClipId,
    /// Current score (a rating on a blind baseline clip updates it).
    pub score: f32,
    /// The version whose selection admitted it.
    pub added_in_version: u32,
    /// The sample that replaced it (within the merge radius and better), if any.
    pub replaced_by: Option<PoolId>,
    /// The version in which it was replaced or purged; `None` while it is in the pool.
    pub removed_in_version: Option<u32>,
    /// The last version whose fine-tune selected it (the purge drops samples not selected in
    /// the last K versions).
    pub last_selected_version: Option<u32>,
}

const POOL_COLUMNS: &str = "id, condition_latent, clip_id, score, added_in_version, replaced_by, \
     removed_in_version, last_selected_version";

impl FeedbackStore {
    /// Adds a sample to the pool (the candidate beat its neighbourhood, or it was empty).
    pub fn add_pool_sample(&mut self, sample: &NewPoolSample) -> Result<PoolId> {
        validate(sample)?;
        self.write(|tx| insert(tx, sample))
    }

    /// Replaces `old` by `sample` in one transaction: inserts the new sample, and marks `old`
    /// `replaced_by` it and removed in `sample.added_in_version`. Fails if `old` is unknown or
    /// no longer in the pool.
    pub fn replace_pool_sample(&mut self, old: PoolId, sample: &NewPoolSample) -> Result<PoolId> {
        validate(sample)?;
        self.write(|tx| {
            require_active(tx, old)?;
            let new = insert(tx, sample)?;
            tx.execute(
                "UPDATE training_pool SET replaced_by = ?1, removed_in_version = ?2 WHERE id = ?3",
                params![new, sample.added_in_version, old],
            )?;
            Ok(new)
        })
    }

    /// Sets a sample's score (a new rating of its clip, e.g. a blind baseline clip).
    pub fn set_pool_score(&mut self, id: PoolId, score: f32) -> Result<()> {
        if !score.is_finite() {
            return Err(FeedbackError::invalid(
                "pool.score",
                format!("{score} is not finite"),
            ));
        }
        self.write(|tx| {
            require_active(tx, id)?;
            tx.execute(
                "UPDATE training_pool SET score = ?1 WHERE id = ?2",
                params![f64::from(score), id],
            )?;
            Ok(())
        })
    }

    /// Purge: removes `ids` from the pool in `version` (kept as history), in one transaction.
    pub fn remove_pool_samples(&mut self, ids: &[PoolId], version: u32) -> Result<()> {
        self.set_version_of_active(
            "UPDATE training_pool SET removed_in_version = ?1 WHERE id = ?2",
            ids,
            version,
        )
    }

    /// Records that `version`'s fine-tune used `ids`, in one transaction.
    pub fn mark_pool_selected(&mut self, ids: &[PoolId], version: u32) -> Result<()> {
        self.set_version_of_active(
            "UPDATE training_pool SET last_selected_version = ?1 WHERE id = ?2",
            ids,
            version,
        )
    }

    /// Runs `update` (`?1` = version, `?2` = id) for each of `ids`, all of which must still be
    /// in the pool, in one transaction: one unknown or removed id changes nothing.
    fn set_version_of_active(&mut self, update: &str, ids: &[PoolId], version: u32) -> Result<()> {
        self.write(|tx| {
            for &id in ids {
                require_active(tx, id)?;
                tx.execute(update, params![version, id])?;
            }
            Ok(())
        })
    }

    /// The samples currently in the pool (not replaced or purged), oldest first.
    pub fn pool_samples(&self) -> Result<Vec<PoolSample>> {
        self.read(|c| query(c, "WHERE removed_in_version IS NULL"))
    }

    /// Every sample ever admitted, including replaced and purged ones, oldest first.
    pub fn pool_history(&self) -> Result<Vec<PoolSample>> {
        self.read(|c| query(c, ""))
    }
}

fn validate(s: &NewPoolSample) -> Result<()> {
    check_latent("pool.condition_latent", &s.condition_latent)?;
    if !s.score.is_finite() {
        return Err(FeedbackError::invalid(
            "pool.score",
            format!("{} is not finite", s.score),
        ));
    }
    Ok(())
}

fn insert(c: &Connection, s: &NewPoolSample) -> Result<PoolId> {
    require_row(c, "generations", "clip", s.clip_id.0)?;
    c.execute(
        "INSERT INTO training_pool (condition_latent, clip_id, score, added_in_version)
         VALUES (?1, ?2, ?3, ?4)",
        params![
            latent_to_blob(&s.condition_latent),
            s.clip_id,
            f64::from(s.score),
            s.added_in_version
        ],
    )?;
    Ok(PoolId(c.last_insert_rowid()))
}

fn require_active(c: &Connection, id: PoolId) -> Result<()> {
    let removed: Option<Option<u32>> = c
        .query_row(
            "SELECT removed_in_version FROM training_pool WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    match removed {
        None => Err(FeedbackError::NotFound {
            what: "pool sample",
            id: id.0,
        }),
        Some(Some(v)) => Err(FeedbackError::invalid(
            "pool sample",
            format!("{id} was already removed in version {v}"),
        )),
        Some(None) => Ok(()),
    }
}

fn query(c: &Connection, filter: &str) -> Result<Vec<PoolSample>> {
    let sql = format!("SELECT {POOL_COLUMNS} FROM training_pool {filter} ORDER BY id");
    collect_rows(c, &sql, [], from_row)
}

fn from_row(row: &Row<'_>) -> Result<PoolSample> {
    let id: i64 = row.get(0)?;
    let blob: Vec<u8> = row.get(1)?;
    Ok(PoolSample {
        id: PoolId(id),
        condition_latent: blob_to_latent(&blob, "training_pool", "condition_latent", id)?,
        clip_id: row.get(2)?,
        score: row.get::<_, f64>(3)? as f32,
        added_in_version: row.get(4)?,
        replaced_by: row.get(5)?,
        removed_in_version: row.get(6)?,
        last_selected_version: row.get(7)?,
    })
}
