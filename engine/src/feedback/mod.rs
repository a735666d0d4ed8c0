//! The feedback store of docs/ARCHITECTURE.md §4.3: producers' ratings, the clips and songs they rated, the
//! training pool and model versions, in one SQLite database plus clip files under a data dir.
//!
//! - [`FeedbackStore`] — open (WAL, busy timeout, migrations, integrity check, recovery from a
//!   corrupt file), typed writes (each one transaction) and the queries the trainer reads.
//! - [`RatingSink`] — what the plugin's worker records ratings through: retries a busy database
//!   and spools to `spool.jsonl` instead of dropping a rating; the spool is replayed at open.
//! - Session archives — [`FeedbackStore::export_session`] / [`FeedbackStore::ingest`] carry a
//!   session from a laptop to the machine that trains, idempotently.
//!
//! Layout under the data dir: `feedback.sqlite` (+ `-wal`, `-shm`), `clips/song-<uid>.*`,
//! `clips/gen-<uid>.wav` (32-bit float WAV), `spool.jsonl`, and after a recovery
//! `feedback.corrupt-<unix ms>.sqlite`. Timestamps are unix ms; latents are LE f32 blobs.

mod archive;
mod archive_format;
mod clips;
mod error;
mod generations;
mod maintenance;
mod pool;
mod ratings;
mod rows;
mod schema;
mod songs;
mod spool;
mod store;
mod types;
mod versions;

pub use archive::{ExportReport, IngestReport};
pub use error::{FeedbackError, Result};
pub use generations::{Generation, NewGeneration};
pub use pool::{NewPoolSample, PoolSample};
pub use ratings::{ConditioningSong, NewRating, RatedClip, Rating};
pub use schema::SCHEMA_VERSION;
pub use songs::{NewSong, Song, SongAudio};
pub use spool::{RatingSink, Recorded, ReplayReport, SinkOptions, REJECTED_FILE, SPOOL_FILE};
pub use store::{FeedbackStore, OpenOptions, Recovery, CLIPS_DIR, DB_FILE};
pub use types::{latent_to_blob, now_ms, ClipId, PoolId, RatingId, Since, SongId, Uid};
pub use versions::ModelVersion;
