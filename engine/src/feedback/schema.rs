//! The store's schema as an ordered list of migrations, applied by `PRAGMA user_version`.
//!
//! Migration `i` (0-based) takes the database from `user_version == i` to `i + 1`. Never edit a
//! migration that has shipped: add a new one, so every existing store upgrades the same way.

/// The migrations, oldest first. `MIGRATIONS.len()` is the schema version this build writes.
pub(crate) const MIGRATIONS: &[&str] = &[V1, V2, V3];

/// The newest schema version this build understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// v3: the request each clip was made for (a client-made uid shared by the clips of one
/// Generate, its blind baseline twins included), so the trainer can pair clips rated
/// differently for the same conditioning (the DPO objective). Clips stored before it have none
/// and are never paired.
const V3: &str = "
ALTER TABLE generations ADD COLUMN request_uid TEXT;
CREATE INDEX generations_request ON generations (request_uid) WHERE request_uid IS NOT NULL;
";

/// v2: how much of the songs' own detail was added back to each clip when it was rendered
/// (`pipeline::detail`); clips stored before it had none.
const V2: &str = "
ALTER TABLE generations ADD COLUMN detail REAL NOT NULL DEFAULT 0 CHECK (detail BETWEEN 0 AND 1);
";

/// v1: the tables of docs/ARCHITECTURE.md §4.3.
///
/// - Wav paths are relative to the data dir (`clips/...`), so a data dir can be moved or copied.
/// - Latents are little-endian f32 blobs.
/// - `uid` columns hold client-made 128-bit ids (32 hex digits); `UNIQUE(uid)` is what makes
///   spool replay and archive ingest idempotent.
/// - A generation's conditioning songs and their merge weights live in `generation_songs`, in
///   merge order, so foreign keys protect them.
/// - `generations.model_version` is not a foreign key: the shipped base (version 0) and versions
///   trained on another machine are not necessarily registered in `model_versions`.
/// - `training_pool` keeps replaced and purged samples (with `replaced_by` /
///   `removed_in_version`) so the per-version report can show how the pool evolved.
const V1: &str = "
CREATE TABLE songs (
    id          INTEGER PRIMARY KEY,
    uid         TEXT    NOT NULL UNIQUE,
    created_ms  INTEGER NOT NULL,
    source      TEXT    NOT NULL,
    sample_rate INTEGER NOT NULL CHECK (sample_rate > 0),
    duration_s  REAL    NOT NULL CHECK (duration_s >= 0),
    wav_path    TEXT    NOT NULL,
    latent      BLOB    NOT NULL
);

CREATE TABLE generations (
    id            INTEGER PRIMARY KEY,
    uid           TEXT    NOT NULL UNIQUE,
    created_ms    INTEGER NOT NULL,
    seed          INTEGER NOT NULL,
    strength      REAL    NOT NULL,
    steps         INTEGER NOT NULL CHECK (steps > 0),
    eta           REAL    NOT NULL,
    model_version INTEGER NOT NULL CHECK (model_version >= 0),
    is_baseline   INTEGER NOT NULL CHECK (is_baseline IN (0, 1)),
    sample_rate   INTEGER NOT NULL CHECK (sample_rate > 0),
    wav_path      TEXT    NOT NULL,
    latent        BLOB    NOT NULL
);
CREATE INDEX generations_model_version ON generations (model_version);

CREATE TABLE generation_songs (
    generation_id INTEGER NOT NULL REFERENCES generations (id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    song_id       INTEGER NOT NULL REFERENCES songs (id),
    weight        REAL    NOT NULL,
    PRIMARY KEY (generation_id, position)
) WITHOUT ROWID;
CREATE INDEX generation_songs_song ON generation_songs (song_id);

CREATE TABLE ratings (
    id          INTEGER PRIMARY KEY,
    uid         TEXT    NOT NULL UNIQUE,
    clip_id     INTEGER NOT NULL REFERENCES generations (id),
    accepted    INTEGER NOT NULL CHECK (accepted IN (0, 1)),
    stars       INTEGER CHECK (stars IS NULL OR stars BETWEEN 1 AND 5),
    listen_ms   INTEGER NOT NULL CHECK (listen_ms >= 0),
    clip_ms     INTEGER NOT NULL CHECK (clip_ms > 0),
    rated_at_ms INTEGER NOT NULL,
    rater_id    TEXT    NOT NULL
);
CREATE INDEX ratings_rated_at ON ratings (rated_at_ms);
CREATE INDEX ratings_clip ON ratings (clip_id);
CREATE INDEX ratings_rater ON ratings (rater_id);

CREATE TABLE training_pool (
    id                    INTEGER PRIMARY KEY,
    condition_latent      BLOB    NOT NULL,
    clip_id               INTEGER NOT NULL REFERENCES generations (id),
    score                 REAL    NOT NULL,
    added_in_version      INTEGER NOT NULL CHECK (added_in_version >= 0),
    replaced_by           INTEGER REFERENCES training_pool (id),
    removed_in_version    INTEGER,
    last_selected_version INTEGER
);
CREATE INDEX training_pool_clip ON training_pool (clip_id);
CREATE INDEX training_pool_active ON training_pool (id) WHERE removed_in_version IS NULL;

CREATE TABLE model_versions (
    version    INTEGER PRIMARY KEY CHECK (version >= 0),
    parent     INTEGER,
    created_ms INTEGER NOT NULL,
    metrics    TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(metrics))
);
";
