//! Small value types shared by the store, the spool and the archive: row ids, client-made
//! unique ids, the `since` filter, latent blobs and timestamps.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{Deserialize, Serialize};

use super::error::{FeedbackError, Result};

macro_rules! row_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// A SQLite rowid: only meaningful inside the store that issued it (a session archive
        /// carries [`Uid`]s instead, and ingest issues new row ids).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                self.0.to_sql()
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                i64::column_result(value).map(Self)
            }
        }
    };
}

row_id!(
    /// A captured conditioning song (`songs.id`).
    SongId
);
row_id!(
    /// A generated clip (`generations.id`); ratings and pool samples point at it.
    ClipId
);
row_id!(
    /// A rating (`ratings.id`).
    RatingId
);
row_id!(
    /// A training-pool sample (`training_pool.id`).
    PoolId
);

/// A globally unique id made where a row is first created (random 128 bits, written as 32 hex
/// digits).
///
/// Row ids differ between stores; the uid does not, so a spooled rating replayed twice, or a
/// session archive ingested twice, is recognised by `UNIQUE(uid)` and adds nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uid(pub u128);

impl Uid {
    /// A fresh random uid (from the OS-seeded thread RNG; 128 bits make collisions irrelevant).
    pub fn random() -> Self {
        Self(rand::random())
    }
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl FromStr for Uid {
    type Err = FeedbackError;

    fn from_str(s: &str) -> Result<Self> {
        if s.len() != 32 {
            return Err(FeedbackError::invalid(
                "uid",
                format!("{s:?} is not 32 hex digits"),
            ));
        }
        u128::from_str_radix(s, 16)
            .map(Self)
            .map_err(|e| FeedbackError::invalid("uid", format!("{s:?}: {e}")))
    }
}

impl Serialize for Uid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Uid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl ToSql for Uid {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.to_string()))
    }
}

impl FromSql for Uid {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = value.as_str()?;
        s.parse().map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

/// Which ratings a query returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// Every rating in the store.
    All,
    /// Ratings with `rated_at_ms >= ms` (unix milliseconds).
    Time(i64),
    /// Ratings made after model version `v` was registered with
    /// [`super::FeedbackStore::add_model_version`] (`rated_at_ms > created_ms` of `v`): the
    /// "new ratings since the last fine-tune" the trainer waits for.
    Version(u32),
}

/// Milliseconds since the Unix epoch, the store's one time unit.
///
/// A clock before 1970 (a broken RTC) yields 0 rather than an error: a rating must still be
/// stored, and its order among others is kept by the row id.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Encodes a latent as the blob layout of docs/ARCHITECTURE.md §4.3: little-endian `f32`s, no header.
pub fn latent_to_blob(latent: &[f32]) -> Vec<u8> {
    latent.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Decodes [`latent_to_blob`]'s layout; `table`/`column`/`id` name the row in the error.
pub(crate) fn blob_to_latent(
    blob: &[u8],
    table: &'static str,
    column: &'static str,
    id: i64,
) -> Result<Vec<f32>> {
    if !blob.len().is_multiple_of(4) {
        return Err(FeedbackError::CorruptRow {
            table,
            column,
            id,
            reason: format!("blob of {} bytes is not a whole number of f32s", blob.len()),
        });
    }
    Ok(blob
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// Rejects an empty latent or one holding NaN/inf: either would poison a fine-tune silently.
pub(crate) fn check_latent(field: &'static str, latent: &[f32]) -> Result<()> {
    if latent.is_empty() {
        return Err(FeedbackError::invalid(field, "latent is empty"));
    }
    if let Some(i) = latent.iter().position(|v| !v.is_finite()) {
        return Err(FeedbackError::invalid(
            field,
            format!("value {} at index {i} is not finite", latent[i]),
        ));
    }
    Ok(())
}

/// Seeds are `u64` but SQLite integers are `i64`: store the same 64 bits (so `u64::MAX`
/// round-trips) rather than failing on large seeds.
pub(crate) fn seed_to_sql(seed: u64) -> i64 {
    i64::from_ne_bytes(seed.to_ne_bytes())
}

/// Inverse of [`seed_to_sql`].
pub(crate) fn seed_from_sql(v: i64) -> u64 {
    u64::from_ne_bytes(v.to_ne_bytes())
}

/// Durations and lengths in ms arrive as `u64`; SQLite stores `i64`. Anything above `i64::MAX`
/// ms (292 million years) is a caller bug, reported with the field name.
pub(crate) fn ms_to_sql(field: &'static str, ms: u64) -> Result<i64> {
    i64::try_from(ms).map_err(|_| FeedbackError::invalid(field, format!("{ms} ms is too large")))
}
