//! Opening the store: directories, pragmas, migrations, the integrity check, and recovery from a
//! corrupt file. Also the transaction helpers every other file of this module writes through.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::error::{is_busy_code, is_corrupt_code, FeedbackError, Result};
use super::schema::{MIGRATIONS, SCHEMA_VERSION};
use super::types::now_ms;

/// The database file name inside the data dir (docs/ARCHITECTURE.md §4.2).
pub const DB_FILE: &str = "feedback.sqlite";
/// The clip directory name inside the data dir (docs/ARCHITECTURE.md §4.2).
pub const CLIPS_DIR: &str = "clips";

/// How to open a [`FeedbackStore`].
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// How long one statement waits for another connection's lock before failing with
    /// [`FeedbackError::Locked`]. Short enough that the plugin's worker never appears hung,
    /// long enough to ride out the trainer's own short write transactions.
    pub busy_timeout: Duration,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            busy_timeout: Duration::from_secs(2),
        }
    }
}

/// What happened when [`FeedbackStore::open`] found a damaged database and started a clean one.
///
/// The GUI shows this to the producer: their old ratings are not gone, they are in `backup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Where the damaged file was moved (`feedback.corrupt-<unix ms>.sqlite`, with its `-wal`
    /// and `-shm` beside it when they existed).
    pub backup: PathBuf,
    /// What the integrity check or SQLite said.
    pub reason: String,
    /// When the recovery happened (unix ms).
    pub at_ms: i64,
}

/// The feedback store of docs/ARCHITECTURE.md §4.3: one SQLite database plus clip files under a data dir.
///
/// Every write is one transaction. Writes take `&mut self`; share a store between threads by
/// giving each thread its own (SQLite coordinates them through WAL and the busy timeout).
#[derive(Debug)]
pub struct FeedbackStore {
    pub(crate) conn: Connection,
    pub(crate) data_dir: PathBuf,
    pub(crate) db_path: PathBuf,
    pub(crate) busy_timeout: Duration,
    recovery: Option<Recovery>,
}

/// Why a first attempt to open failed: damage is recoverable by starting clean, anything else
/// (locked, permissions, too new) must leave the file alone.
enum OpenFailure {
    Corrupt(String),
    Other(FeedbackError),
}

impl FeedbackStore {
    /// Opens (creating if needed) `data_dir/feedback.sqlite` and `data_dir/clips/` with
    /// [`OpenOptions::default`].
    pub fn open(data_dir: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(data_dir, &OpenOptions::default())
    }

    /// Opens the store: WAL journal, busy timeout, foreign keys, `synchronous = FULL`,
    /// migrations, then `PRAGMA quick_check`.
    ///
    /// A damaged database is moved aside as a backup and a clean one started; the store then
    /// reports it through [`FeedbackStore::recovery`]. A database locked by another process
    /// beyond the busy timeout yields [`FeedbackError::Locked`] and is not touched.
    pub fn open_with(data_dir: impl AsRef<Path>, options: &OpenOptions) -> Result<Self> {
        let data_dir = data_dir.as_ref().to_path_buf();
        let clips = data_dir.join(CLIPS_DIR);
        fs::create_dir_all(&clips).map_err(|e| FeedbackError::io("create directory", &clips, e))?;
        let db_path = data_dir.join(DB_FILE);

        let (conn, recovery) = match try_open(&db_path, options) {
            Ok(conn) => (conn, None),
            Err(OpenFailure::Other(e)) => return Err(e),
            Err(OpenFailure::Corrupt(reason)) => {
                let at_ms = now_ms();
                let backup = move_aside(&data_dir, &db_path, at_ms)?;
                tracing::error!(
                    db = %db_path.display(),
                    backup = %backup.display(),
                    %reason,
                    "feedback store was corrupt; moved it aside and started a clean store"
                );
                let conn = match try_open(&db_path, options) {
                    Ok(conn) => conn,
                    Err(OpenFailure::Other(e)) => return Err(e),
                    Err(OpenFailure::Corrupt(again)) => {
                        return Err(FeedbackError::Corrupt {
                            path: db_path.clone(),
                            reason: format!("a freshly created database is damaged too: {again}"),
                        })
                    }
                };
                (
                    conn,
                    Some(Recovery {
                        backup,
                        reason,
                        at_ms,
                    }),
                )
            }
        };
        tracing::debug!(db = %db_path.display(), "opened feedback store");
        Ok(Self {
            conn,
            data_dir,
            db_path,
            busy_timeout: options.busy_timeout,
            recovery,
        })
    }

    /// `Some` when this open found a corrupt database and started a clean one (the GUI shows
    /// it, with the backup path).
    pub fn recovery(&self) -> Option<&Recovery> {
        self.recovery.as_ref()
    }

    /// The data dir this store lives in.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The database file.
    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// The schema version of the open database (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<i64> {
        self.read(|c| Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?))
    }

    /// Runs the full `PRAGMA integrity_check` (slower than the `quick_check` done at open) and
    /// returns SQLite's messages; `["ok"]` means healthy.
    pub fn integrity_check(&self) -> Result<Vec<String>> {
        self.read(|c| {
            let mut stmt = c.prepare("PRAGMA integrity_check")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction and commits it.
    ///
    /// IMMEDIATE takes the write lock up front, so a conflict shows up at BEGIN (where the busy
    /// timeout applies) rather than as an unresolvable deadlock when a read upgrades to a write.
    pub(crate) fn write<T>(&mut self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let (path, busy) = (self.db_path.clone(), self.busy_timeout);
        let run = |conn: &mut Connection| -> Result<T> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        };
        run(&mut self.conn).map_err(|e| e.at(&path, busy))
    }

    /// Runs `f` in one read transaction, so multi-query reads see one consistent snapshot.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let run = || -> Result<T> {
            let tx = self.conn.unchecked_transaction()?;
            let out = f(&tx)?;
            tx.finish()?;
            Ok(out)
        };
        run().map_err(|e| e.at(&self.db_path, self.busy_timeout))
    }
}

impl From<rusqlite::Error> for FeedbackError {
    /// Inside the store, `?` on a SQLite error leaves the path empty; [`FeedbackError::at`]
    /// fills it in at the public boundary.
    fn from(source: rusqlite::Error) -> Self {
        Self::Sqlite {
            path: PathBuf::new(),
            source,
        }
    }
}

impl FeedbackError {
    /// Names the database in SQLite errors that lack it, and turns "busy" into
    /// [`FeedbackError::Locked`] so callers get one clear message for lock contention.
    pub(crate) fn at(self, path: &Path, busy: Duration) -> Self {
        match self {
            Self::Sqlite { source, .. } if is_busy_code(&source) => Self::Locked {
                path: path.to_path_buf(),
                waited_ms: u64::try_from(busy.as_millis()).unwrap_or(u64::MAX),
            },
            Self::Sqlite { path: p, source } if p.as_os_str().is_empty() => Self::Sqlite {
                path: path.to_path_buf(),
                source,
            },
            other => other,
        }
    }
}

fn try_open(path: &Path, options: &OpenOptions) -> std::result::Result<Connection, OpenFailure> {
    let classify = |e: rusqlite::Error| {
        if is_corrupt_code(&e) {
            OpenFailure::Corrupt(e.to_string())
        } else {
            OpenFailure::Other(FeedbackError::from(e).at(path, options.busy_timeout))
        }
    };
    let mut conn = Connection::open(path).map_err(classify)?;
    conn.busy_timeout(options.busy_timeout).map_err(classify)?;
    // The first statement that reads the header: garbage in the file surfaces here as NOTADB.
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(classify)?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(db = %path.display(), %mode, "feedback store is not in WAL mode");
    }
    // FULL: a committed rating survives power loss too, not just a crash of the process.
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")
        .map_err(classify)?;
    let check: Vec<String> = (|| {
        let mut stmt = conn.prepare("PRAGMA quick_check")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
    })()
    .map_err(classify)?;
    if check != ["ok"] {
        return Err(OpenFailure::Corrupt(check.join("; ")));
    }
    migrate(&mut conn, path).map_err(|e| match e {
        FeedbackError::Sqlite { source, .. } if is_corrupt_code(&source) => {
            OpenFailure::Corrupt(source.to_string())
        }
        other => OpenFailure::Other(other.at(path, options.busy_timeout)),
    })?;
    Ok(conn)
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(FeedbackError::SchemaTooNew {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (from, sql) in MIGRATIONS.iter().enumerate() {
        let to = i64::try_from(from + 1).unwrap_or(i64::MAX);
        if to <= found {
            continue;
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Re-read under the write lock: another process may have migrated since we looked.
        let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if current >= to {
            continue;
        }
        tx.execute_batch(sql)?;
        // user_version lives in the header page, so setting it commits with the tables.
        tx.pragma_update(None, "user_version", to)?;
        tx.commit()?;
        tracing::info!(db = %path.display(), version = to, "migrated feedback store");
    }
    Ok(())
}

/// Renames the damaged database (and its `-wal`/`-shm`) to `feedback.corrupt-<at_ms>.sqlite*`.
fn move_aside(data_dir: &Path, db_path: &Path, at_ms: i64) -> Result<PathBuf> {
    let backup = data_dir.join(format!("feedback.corrupt-{at_ms}.sqlite"));
    for suffix in ["", "-wal", "-shm"] {
        let from = with_suffix(db_path, suffix);
        let to = with_suffix(&backup, suffix);
        match fs::rename(&from, &to) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(FeedbackError::io("move aside corrupt database", &from, e)),
        }
    }
    Ok(backup)
}

/// `path` with `suffix` appended to its file name (`x.sqlite` → `x.sqlite-wal`), without a
/// lossy round trip through `Display`.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}
