//! Session archives (issue 7 item 8): a producer's ratings since a date, with their clips and
//! conditioning songs, as one file that another store ingests idempotently. The file format
//! is described in `archive_format.rs`.
//!
//! Rows are identified by uid, not row id, so ingest remaps ids and skips what it already has.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::archive_format::{
    hash_file, hex, read_header, verify_blobs, write_archive, ArchGeneration, ArchRating, ArchSong,
    BlobInfo, BlobSource, SessionHeader,
};
use super::clips;
use super::error::{FeedbackError, Result};
use super::generations::{generation_by_uid, insert_generation, Generation, NewGeneration};
use super::ratings::{insert_rating, query_ratings, NewRating};
use super::songs::{insert_song, song_by_id, song_by_uid, Song, SongRow};
use super::store::FeedbackStore;
use super::types::{blob_to_latent, latent_to_blob, now_ms, ClipId, Since, SongId, Uid};

/// What [`FeedbackStore::export_session`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportReport {
    /// Songs in the archive.
    pub songs: usize,
    /// Clips in the archive.
    pub generations: usize,
    /// Ratings in the archive.
    pub ratings: usize,
    /// Size of the file.
    pub bytes: u64,
}

/// What [`FeedbackStore::ingest`] added (rows already present by uid are not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Songs added.
    pub songs_added: usize,
    /// Clips added.
    pub generations_added: usize,
    /// Ratings added.
    pub ratings_added: usize,
    /// Ratings skipped because this store already had them.
    pub ratings_skipped: usize,
}

impl FeedbackStore {
    /// Writes the ratings made at or after `since_ms` (unix ms), their clips (with audio) and
    /// the clips' conditioning songs to `out` (temp + fsync + rename, so `out` is complete or
    /// absent).
    pub fn export_session(&self, since_ms: i64, out: &Path) -> Result<ExportReport> {
        let (songs, gens, ratings) = self.session_rows(since_ms)?;
        let mut blobs: Vec<BlobSource> = Vec::new();
        let mut push = |b: BlobSource| {
            blobs.push(b);
            blobs.len() - 1
        };
        let song_uid: HashMap<SongId, Uid> = songs.iter().map(|s| (s.id, s.uid)).collect();
        let clip_uid: HashMap<ClipId, Uid> = gens.iter().map(|g| (g.id, g.uid)).collect();
        let mut header = SessionHeader {
            exported_at_ms: now_ms(),
            since_ms,
            blobs: Vec::new(),
            songs: Vec::new(),
            generations: Vec::new(),
            ratings: Vec::new(),
        };
        for s in &songs {
            header.songs.push(ArchSong {
                uid: s.uid,
                created_ms: s.created_ms,
                source: s.source.clone(),
                sample_rate: s.sample_rate,
                duration_s: s.duration_s,
                file_ext: s
                    .wav_path
                    .extension()
                    .and_then(|e| e.to_str())
                    .unwrap_or("wav")
                    .to_string(),
                audio_blob: push(BlobSource::File(s.wav_path.clone())),
                latent_blob: push(BlobSource::Bytes(latent_to_blob(&s.latent))),
            });
        }
        for g in &gens {
            let song_uids = g
                .song_ids
                .iter()
                .map(|id| {
                    song_uid.get(id).copied().ok_or(FeedbackError::NotFound {
                        what: "song",
                        id: id.0,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            header.generations.push(ArchGeneration {
                uid: g.uid,
                created_ms: g.created_ms,
                song_uids,
                weights: g.weights.iter().map(|&w| f64::from(w)).collect(),
                seed: g.seed,
                strength: f64::from(g.strength),
                steps: g.steps,
                eta: f64::from(g.eta),
                detail: f64::from(g.detail),
                model_version: g.model_version,
                is_baseline: g.is_baseline,
                request: g.request,
                sample_rate: g.sample_rate,
                audio_blob: push(BlobSource::File(g.wav_path.clone())),
                latent_blob: push(BlobSource::Bytes(latent_to_blob(&g.latent))),
            });
        }
        for r in &ratings {
            header.ratings.push(ArchRating {
                uid: r.uid,
                clip_uid: clip_uid
                    .get(&r.clip_id)
                    .copied()
                    .ok_or(FeedbackError::NotFound {
                        what: "clip",
                        id: r.clip_id.0,
                    })?,
                accepted: r.accepted,
                stars: r.stars,
                listen_ms: r.listen_ms,
                clip_ms: r.clip_ms,
                rated_at_ms: r.rated_at_ms,
                rater_id: r.rater_id.clone(),
            });
        }
        // First pass: lengths and checksums (clip files are streamed, never all in memory).
        for b in &blobs {
            header.blobs.push(match b {
                BlobSource::Bytes(v) => BlobInfo {
                    len: v.len() as u64,
                    sha256: hex(&Sha256::digest(v)),
                },
                BlobSource::File(p) => hash_file(p)?,
            });
        }
        let bytes = write_archive(out, &header, &blobs)?;
        let report = ExportReport {
            songs: songs.len(),
            generations: gens.len(),
            ratings: ratings.len(),
            bytes,
        };
        tracing::info!(file = %out.display(), ?report, "exported rating session");
        Ok(report)
    }

    /// Merges a session archive into this store in one transaction, idempotently: rows whose
    /// uid is already here are skipped (ingesting twice adds nothing), row ids are remapped.
    /// The whole file is checked (magic, lengths, sha256) before anything is written.
    pub fn ingest(&mut self, file: &Path) -> Result<IngestReport> {
        let bad = |reason: String| FeedbackError::Archive {
            path: file.to_path_buf(),
            reason,
        };
        let io = |e| FeedbackError::io("read session archive", file, e);
        let mut f = BufReader::new(File::open(file).map_err(io)?);
        let (header, start) = read_header(&mut f, file)?;
        let offsets = verify_blobs(&mut f, &header.blobs, start, file)?;
        let mut read_blob = |i: usize| -> Result<Vec<u8>> {
            let (off, len) = *offsets
                .get(i)
                .ok_or_else(|| bad(format!("blob {i} is not listed")))?;
            f.seek(SeekFrom::Start(off)).map_err(io)?;
            let mut buf = vec![0; usize::try_from(len).map_err(|_| bad("blob too large".into()))?];
            f.read_exact(&mut buf).map_err(io)?;
            Ok(buf)
        };
        let data_dir = self.data_dir.clone();
        let mut written: Vec<PathBuf> = Vec::new();
        let result = self.write(|tx| {
            let mut report = IngestReport::default();
            let mut songs: HashMap<Uid, SongId> = HashMap::new();
            for s in &header.songs {
                if let Some(id) = song_by_uid(tx, s.uid)? {
                    songs.insert(s.uid, id);
                    continue;
                }
                let ext: String = s.file_ext.chars().filter(char::is_ascii_alphanumeric).collect();
                let name = format!("song-{}.{}", s.uid, if ext.is_empty() { "wav" } else { &ext });
                written.push(clips::write_bytes(&data_dir, &name, &read_blob(s.audio_blob)?)?);
                let latent = blob_to_latent(&read_blob(s.latent_blob)?, "archive songs", "latent", 0)?;
                let rel = clips::rel_path(&name);
                let id = insert_song(tx, &SongRow {
                    uid: s.uid,
                    created_ms: s.created_ms,
                    source: &s.source,
                    sample_rate: s.sample_rate,
                    duration_s: s.duration_s,
                    wav_rel: &rel,
                    latent: &latent,
                })?;
                songs.insert(s.uid, id);
                report.songs_added += 1;
            }
            let mut clips_by_uid: HashMap<Uid, ClipId> = HashMap::new();
            for g in &header.generations {
                if let Some(id) = generation_by_uid(tx, g.uid)? {
                    clips_by_uid.insert(g.uid, id);
                    continue;
                }
                let mut song_ids = Vec::with_capacity(g.song_uids.len());
                for u in &g.song_uids {
                    let id = match songs.get(u) {
                        Some(&id) => id,
                        None => song_by_uid(tx, *u)?
                            .ok_or_else(|| bad(format!("clip {} needs song {u}, which is neither in the archive nor in the store", g.uid)))?,
                    };
                    song_ids.push(id);
                }
                let name = format!("gen-{}.wav", g.uid);
                written.push(clips::write_bytes(&data_dir, &name, &read_blob(g.audio_blob)?)?);
                let new = NewGeneration {
                    song_ids,
                    weights: g.weights.iter().map(|&w| w as f32).collect(),
                    seed: g.seed,
                    strength: g.strength as f32,
                    steps: g.steps,
                    eta: g.eta as f32,
                    detail: g.detail as f32,
                    model_version: g.model_version,
                    is_baseline: g.is_baseline,
                    audio: Vec::new(),
                    sample_rate: g.sample_rate,
                    latent: blob_to_latent(&read_blob(g.latent_blob)?, "archive generations", "latent", 0)?,
                    request: g.request,
                };
                let id = insert_generation(tx, g.uid, g.created_ms, &new, &clips::rel_path(&name))?;
                clips_by_uid.insert(g.uid, id);
                report.generations_added += 1;
            }
            for r in &header.ratings {
                let clip_id = match clips_by_uid.get(&r.clip_uid) {
                    Some(&id) => id,
                    None => generation_by_uid(tx, r.clip_uid)?
                        .ok_or_else(|| bad(format!("rating {} is for clip {}, which is neither in the archive nor in the store", r.uid, r.clip_uid)))?,
                };
                let rating = NewRating {
                    uid: r.uid,
                    clip_id,
                    accepted: r.accepted,
                    stars: r.stars,
                    listen_ms: r.listen_ms,
                    clip_ms: r.clip_ms,
                    rater_id: r.rater_id.clone(),
                    rated_at_ms: Some(r.rated_at_ms),
                };
                rating.validate()?;
                match insert_rating(tx, &rating, r.rated_at_ms)? {
                    (_, true) => report.ratings_added += 1,
                    (_, false) => report.ratings_skipped += 1,
                }
            }
            Ok(report)
        });
        match result {
            Ok(report) => {
                tracing::info!(file = %file.display(), ?report, "ingested rating session");
                Ok(report)
            }
            Err(e) => {
                // The rows were rolled back; the files written for them would be orphans.
                for p in &written {
                    clips::discard(p);
                }
                Err(e)
            }
        }
    }

    /// Ratings since `since_ms` with their clips and those clips' songs, from one snapshot.
    fn session_rows(
        &self,
        since_ms: i64,
    ) -> Result<(Vec<Song>, Vec<Generation>, Vec<super::Rating>)> {
        let dir = self.data_dir.clone();
        self.read(|c| {
            let ratings = query_ratings(c, Since::Time(since_ms))?;
            let mut gens: BTreeMap<ClipId, Generation> = BTreeMap::new();
            for r in &ratings {
                if !gens.contains_key(&r.clip_id) {
                    let g = super::generations::generation_by_id(c, r.clip_id, &dir)?.ok_or(
                        FeedbackError::NotFound {
                            what: "clip",
                            id: r.clip_id.0,
                        },
                    )?;
                    gens.insert(g.id, g);
                }
            }
            let mut song_ids: Vec<SongId> = gens
                .values()
                .flat_map(|g| g.song_ids.iter().copied())
                .collect();
            song_ids.sort();
            song_ids.dedup();
            let songs = song_ids
                .into_iter()
                .map(|id| song_by_id(c, id, &dir))
                .collect::<Result<Vec<_>>>()?;
            Ok((songs, gens.into_values().collect(), ratings))
        })
    }
}
