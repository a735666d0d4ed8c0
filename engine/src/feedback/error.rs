//! The one error type of [`crate::feedback`].

use std::path::PathBuf;

use rusqlite::ErrorCode;

/// Everything that can go wrong in the feedback store, its spool and its session archives.
///
/// Variants carry the file or the field at fault, so a message shown to a producer (the editor
/// shows these verbatim) or in a trainer log says where to look.
#[derive(Debug, thiserror::Error)]
pub enum FeedbackError {
    /// A file or directory operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What we were doing ("create directory", "write", "rename", ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// SQLite refused a statement.
    #[error("feedback store {}: {source}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// Another process holds the database locked for longer than the busy timeout.
    ///
    /// Nothing was changed; retrying later (or closing the other program) is the fix.
    #[error(
        "feedback store {} is locked by another process (waited {waited_ms} ms); \
         close other Refrain instances or the trainer and try again",
        path.display()
    )]
    Locked {
        /// The database file.
        path: PathBuf,
        /// How long SQLite waited before giving up.
        waited_ms: u64,
    },
    /// The database was written by a newer Refrain with a schema this build does not know.
    #[error(
        "feedback store {} has schema version {found}, this build supports up to {supported}; \
         update Refrain",
        path.display()
    )]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// `PRAGMA user_version` in the file.
        found: i64,
        /// The newest version this build can migrate to.
        supported: i64,
    },
    /// A value handed to the API breaks the contract of docs/ARCHITECTURE.md §4.3.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field, e.g. `rating.stars`.
        field: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// The database is damaged and could not be replaced by a clean one.
    #[error("feedback store {} is damaged: {reason}", path.display())]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What SQLite's integrity check said.
        reason: String,
    },
    /// A referenced row does not exist.
    #[error("unknown {what} id {id}")]
    NotFound {
        /// The kind of row ("song", "clip", "pool sample", "model version").
        what: &'static str,
        /// The id that was asked for.
        id: i64,
    },
    /// A row that already exists was inserted again where that is not allowed.
    #[error("{what} {id} already exists")]
    Duplicate {
        /// The kind of row.
        what: &'static str,
        /// Its id.
        id: i64,
    },
    /// A stored value cannot be decoded (e.g. a latent blob whose length is not a multiple of 4).
    #[error("corrupt {table}.{column} in row {id}: {reason}")]
    CorruptRow {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// The row id.
        id: i64,
        /// What is wrong with it.
        reason: String,
    },
    /// Writing a clip's WAV file failed.
    #[error(transparent)]
    Audio(#[from] crate::audio::AudioError),
    /// A spool line or archive header is not the JSON we wrote.
    #[error("cannot parse {}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// What serde said.
        source: serde_json::Error,
    },
    /// A session archive is truncated, has the wrong magic, or fails its checksums.
    #[error("session archive {}: {reason}", path.display())]
    Archive {
        /// The archive file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl FeedbackError {
    /// True when the error means "someone else holds the lock": the write may succeed later, so
    /// the [`super::RatingSink`] retries and then spools instead of failing.
    pub fn is_busy(&self) -> bool {
        match self {
            Self::Locked { .. } => true,
            Self::Sqlite { source, .. } => is_busy_code(source),
            _ => false,
        }
    }

    /// Builds [`FeedbackError::Invalid`].
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// Builds [`FeedbackError::Io`].
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// SQLITE_BUSY or SQLITE_LOCKED: another connection holds a conflicting lock.
pub(crate) fn is_busy_code(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// SQLITE_CORRUPT or SQLITE_NOTADB: the file is damaged (as opposed to locked or missing).
pub(crate) fn is_corrupt_code(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
    )
}

/// Shorthand for results in this module.
pub type Result<T, E = FeedbackError> = std::result::Result<T, E>;
