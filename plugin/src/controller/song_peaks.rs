//! Waveform thumbnails of the captured songs, for the editor's song list.
use std::path::{Path, PathBuf};

use super::State;
use crate::ui_state::thumbnail;

/// Columns in a song's thumbnail.
const SONG_COLUMNS: usize = 60;

impl State {
    /// Gives every song in the list a thumbnail (read from its WAV once, including songs a
    /// reopened project restored) and forgets those of removed songs.
    pub(super) fn sync_song_peaks(&mut self) {
        // Runs every poll: when every song already has its thumbnail, it allocates nothing.
        let missing: Vec<PathBuf> = {
            let Ok(songs) = self.params.songs.try_lock() else {
                return; // the editor is renaming a song: next round
            };
            let mut ui = self.ui();
            let has =
                |peaks: &[(PathBuf, Vec<f32>)], wav: &Path| peaks.iter().any(|(w, _)| w == wav);
            if ui.song_peaks.len() == songs.len()
                && songs.iter().all(|s| has(&ui.song_peaks, &s.wav))
            {
                return;
            }
            ui.song_peaks
                .retain(|(wav, _)| songs.iter().any(|s| s.wav == *wav));
            songs
                .iter()
                .filter(|s| !has(&ui.song_peaks, &s.wav))
                .map(|s| s.wav.clone())
                .collect()
        };
        for wav in missing {
            // An unreadable WAV gets an empty thumbnail (drawn as a flat line), not a retry
            // every poll; generating from it reports the real error.
            let peaks = match refrain_engine::audio::read_file(&wav) {
                Ok(audio) => thumbnail(&audio.mono(), SONG_COLUMNS),
                Err(e) => {
                    tracing::warn!("song thumbnail for {}: {e}", wav.display());
                    Vec::new()
                }
            };
            self.ui().song_peaks.push((wav, peaks));
        }
    }
}
