//! Waveform thumbnails of the captured songs, for the editor's song list.
use super::State;
use crate::ui_state::thumbnail;

/// Columns in a song's thumbnail.
const SONG_COLUMNS: usize = 60;

impl State {
    /// Gives every song in the list a thumbnail (read from its WAV once, including songs a
    /// reopened project restored) and forgets those of removed songs.
    pub(super) fn sync_song_peaks(&mut self) {
        let wavs: Vec<_> = match self.params.songs.try_lock() {
            Ok(songs) => songs.iter().map(|s| s.wav.clone()).collect(),
            Err(_) => return, // the editor is renaming a song: next round
        };
        let missing: Vec<_> = {
            let mut ui = self.ui();
            ui.song_peaks.retain(|(wav, _)| wavs.contains(wav));
            wavs.into_iter()
                .filter(|wav| !ui.song_peaks.iter().any(|(w, _)| w == wav))
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
