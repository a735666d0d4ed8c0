//! Captured songs → rows in the feedback store's `songs` table, one row per capture.
//!
//! The store copies a song's audio into its own `clips/` folder under a new name, so the
//! capture's WAV path cannot find the row again once the controller that added it is gone
//! (project reopened, or the host changed the sample rate). The row's id and uid therefore
//! travel in the persisted [`SongRef`]; without them every reopening added the same capture
//! to the store again.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use refrain_engine::feedback::{FeedbackError, FeedbackStore, NewSong};

use crate::params::{SongRef, StoredSong};

/// The rows this controller already resolved, by capture WAV path.
#[derive(Debug, Default)]
pub(super) struct SongRows {
    by_wav: HashMap<PathBuf, StoredSong>,
}

impl SongRows {
    /// The store row for `song`: cached, else the one its persisted [`StoredSong`] names (when
    /// that row still exists with the same uid), else a new row made from `new_song()`.
    pub(super) fn resolve(
        &mut self,
        store: &mut FeedbackStore,
        song: &SongRef,
        new_song: impl FnOnce() -> NewSong,
    ) -> Result<StoredSong, FeedbackError> {
        if let Some(stored) = self.by_wav.get(&song.wav) {
            return Ok(*stored);
        }
        if let Some(remembered) = song.stored {
            if let Some(found) = find(store, remembered)? {
                self.by_wav.insert(song.wav.clone(), found);
                return Ok(found);
            }
            tracing::info!(
                song = %song.name,
                "its feedback-store row is not in this store (data dir replaced?); adding it again"
            );
        }
        let id = store.add_song(new_song())?;
        let stored = StoredSong {
            id,
            uid: store.song(id)?.uid,
        };
        self.by_wav.insert(song.wav.clone(), stored);
        Ok(stored)
    }
}

/// The row `remembered` names, if this store has it: by id when the uid there matches, else by
/// uid (an ingested archive gives the same song another row id). Errors other than "no such
/// row" are returned, so a busy store never leads to a second row.
fn find(
    store: &FeedbackStore,
    remembered: StoredSong,
) -> Result<Option<StoredSong>, FeedbackError> {
    match store.song(remembered.id) {
        Ok(row) if row.uid == remembered.uid => return Ok(Some(remembered)),
        Ok(_) | Err(FeedbackError::NotFound { .. }) => {}
        Err(e) => return Err(e),
    }
    Ok(store
        .songs()?
        .into_iter()
        .find(|row| row.uid == remembered.uid)
        .map(|row| StoredSong {
            id: row.id,
            uid: row.uid,
        }))
}

/// Records `stored` in every song of the persisted list whose capture is `wav`, so the next
/// state save carries it.
pub(super) fn remember(songs: &mut [SongRef], wav: &Path, stored: StoredSong) {
    for song in songs.iter_mut().filter(|s| s.wav == wav) {
        song.stored = Some(stored);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use refrain_engine::audio::{write_wav, Audio};
    use refrain_engine::feedback::SongAudio;

    fn capture(dir: &Path, name: &str) -> SongRef {
        let wav = dir.join(format!("{name}.wav"));
        write_wav(&wav, &Audio::from_mono(48_000, vec![0.1; 4800])).unwrap();
        SongRef {
            name: name.into(),
            weight: 1.0,
            wav,
            duration_s: 0.1,
            stored: None,
        }
    }

    fn new_song(song: &SongRef) -> impl FnOnce() -> NewSong + '_ {
        || NewSong {
            source: format!("DAW track capture: {}", song.name),
            sample_rate: 48_000,
            duration_s: song.duration_s,
            wav: SongAudio::File(song.wav.clone()),
            latent: vec![0.25; 16],
        }
    }

    /// What the controller does for a clip: resolve the row, write it back into the list.
    fn save(rows: &mut SongRows, store: &mut FeedbackStore, songs: &mut [SongRef]) -> StoredSong {
        let song = songs[0].clone();
        let stored = rows.resolve(store, &song, new_song(&song)).unwrap();
        remember(songs, &song.wav, stored);
        stored
    }

    /// The plugin state as nice-plug persists it (serde_json) and restores it.
    fn reopen(songs: &[SongRef]) -> Vec<SongRef> {
        serde_json::from_str(&serde_json::to_string(songs).unwrap()).unwrap()
    }

    #[test]
    fn a_restored_capture_reuses_its_store_row_instead_of_adding_it_again() {
        let home = tempfile::tempdir().unwrap();
        let mut store = FeedbackStore::open(home.path()).unwrap();
        let mut songs = vec![capture(home.path(), "Capture 1")];

        let first = save(&mut SongRows::default(), &mut store, &mut songs);
        // Same session: the cache answers.
        let mut rows = SongRows::default();
        assert_eq!(save(&mut rows, &mut store, &mut songs), first);
        assert_eq!(save(&mut rows, &mut store, &mut songs), first);

        // Project closed and reopened: a new controller with an empty cache, the restored list.
        let mut restored = reopen(&songs);
        let again = save(&mut SongRows::default(), &mut store, &mut restored);
        assert_eq!(again, first);
        assert_eq!(store.songs().unwrap().len(), 1, "one capture, one song row");
    }

    #[test]
    fn a_row_from_another_store_is_not_trusted() {
        let home = tempfile::tempdir().unwrap();
        let other_home = tempfile::tempdir().unwrap();
        let mut other = FeedbackStore::open(other_home.path()).unwrap();
        let mut songs = vec![capture(home.path(), "Capture 1")];
        let foreign = save(&mut SongRows::default(), &mut other, &mut songs);

        // The data dir changed (REFRAIN_HOME, a fresh store): row 1 there is another song.
        let mut store = FeedbackStore::open(home.path()).unwrap();
        let unrelated = capture(home.path(), "Unrelated");
        let unrelated_row = SongRows::default()
            .resolve(&mut store, &unrelated, new_song(&unrelated))
            .unwrap();
        assert_eq!(unrelated_row.id, foreign.id, "same row id, different song");

        let mut restored = reopen(&songs);
        let here = save(&mut SongRows::default(), &mut store, &mut restored);
        assert_ne!(here, unrelated_row);
        assert_ne!(here.uid, foreign.uid);
        assert_eq!(restored[0].stored, Some(here), "the new row is remembered");
        assert_eq!(store.songs().unwrap().len(), 2);
    }

    #[test]
    fn a_row_whose_id_moved_is_found_by_its_uid() {
        let home = tempfile::tempdir().unwrap();
        let mut store = FeedbackStore::open(home.path()).unwrap();
        let other = capture(home.path(), "Other");
        let mut songs = vec![capture(home.path(), "Capture 1")];
        let first_row = SongRows::default()
            .resolve(&mut store, &other, new_song(&other))
            .unwrap();
        let real = save(&mut SongRows::default(), &mut store, &mut songs);

        // As after a session archive ingest: same uid, another row id.
        let mut restored = reopen(&songs);
        restored[0].stored = Some(StoredSong {
            id: first_row.id,
            uid: real.uid,
        });
        assert_eq!(
            save(&mut SongRows::default(), &mut store, &mut restored),
            real
        );
        assert_eq!(store.songs().unwrap().len(), 2);
    }

    #[test]
    fn state_saved_before_rows_were_remembered_still_loads() {
        let old =
            r#"[{"name":"Capture 1","weight":0.5,"wav":"/x/capture-1.wav","duration_s":2.0}]"#;
        let songs: Vec<SongRef> = serde_json::from_str(old).unwrap();
        assert_eq!(songs[0].stored, None);
        assert_eq!(songs[0].weight, 0.5);
    }
}
