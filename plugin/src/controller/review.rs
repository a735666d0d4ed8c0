//! Review: what the producer does with a clip — preview it (looped on the audio thread), rate it
//! (Accept/Reject, stars, with the listening time the audio thread counted) and export it as a
//! WAV file.
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use refrain_engine::audio::{append_loop_chunks, write_wav_pcm24, Audio};
use refrain_engine::feedback::{NewRating, Recorded};

use super::State;
use crate::audio_thread::{PreviewClip, ToAudio};

/// The rater id written with every rating from this plugin (one producer per machine).
pub const RATER_ID: &str = "local";

impl State {
    pub(super) fn preview(&mut self, key: u64) {
        let Some(entry) = self.clips.iter().find(|c| c.key == key) else {
            return;
        };
        let clip = Box::new(PreviewClip {
            key,
            samples: entry.audio.clone(),
            played: Arc::clone(&entry.played),
        });
        if self.ends.to_audio.push(ToAudio::Play(clip)).is_err() {
            self.error("The audio thread is not taking commands (is the host processing?)");
        }
    }

    pub(super) fn rate(&mut self, key: u64, accepted: bool, stars: Option<u8>) {
        let Some(entry) = self.clips.iter().find(|c| c.key == key) else {
            return;
        };
        let rate = u64::from(entry.params.sample_rate.max(1));
        let listen_ms = entry.played.load(Ordering::Relaxed) * 1000 / rate;
        let clip_ms = (entry.audio.len() as u64 * 1000 / rate).max(1);
        let Some(clip_id) = entry.clip_id else {
            self.error("This clip was not saved, so its rating cannot be stored");
            return;
        };
        self.ensure_store();
        let Some(sink) = self.sink.as_mut() else {
            self.error("The feedback store is not open; rating not saved");
            return;
        };
        let rating = NewRating::new(clip_id, accepted, stars, listen_ms, clip_ms, RATER_ID);
        let stored = match sink.record(rating) {
            Ok(Recorded::Stored(_)) => "stored",
            Ok(Recorded::Spooled) => "spooled (database busy)",
            Err(e) => {
                self.error(format!("Rating not saved: {e}"));
                return;
            }
        };
        let text = format!(
            "{}{} · {stored}",
            if accepted { "Accepted" } else { "Rejected" },
            stars.map(|s| format!(" {s}/5 stars")).unwrap_or_default()
        );
        let mut ui = self.ui();
        ui.ratings_stored += 1;
        if let Some(view) = ui.clips.iter_mut().find(|c| c.key == key) {
            view.rating = Some(text);
        }
    }

    /// Writes the clip into the export folder; the path when it worked.
    pub(super) fn export(&mut self, key: u64) -> Option<PathBuf> {
        let entry = self.clips.iter().find(|c| c.key == key)?;
        let dir = self.ui().export_dir.clone();
        let p = &entry.params;
        let name = match p.fit {
            Some(fit) => format!(
                "refrain-clip{key}-{}bar-{:.0}bpm-seed{}.wav",
                fit.bars, fit.bpm, p.seed
            ),
            None => format!("refrain-clip{key}-seed{}.wav", p.seed),
        };
        let path = dir.join(name);
        // As many channels as the track (the model makes mono: a stereo track gets it twice).
        let channels = self
            .shared
            .track_channels
            .load(Ordering::Relaxed)
            .clamp(1, 2) as usize;
        let audio = Audio::new(p.sample_rate, vec![entry.audio.clone(); channels]);
        let loop_info = p
            .fit
            .map(|fit| fit.loop_info(entry.audio.len(), p.sample_rate));
        let result = std::fs::create_dir_all(&dir)
            .map_err(|e| e.to_string())
            .and_then(|()| audio.map_err(|e| e.to_string()))
            .and_then(|audio| write_wav_pcm24(&path, &audio).map_err(|e| e.to_string()))
            .and_then(|()| match loop_info {
                Some(info) => append_loop_chunks(&path, &info).map_err(|e| e.to_string()),
                None => Ok(()),
            });
        match result {
            Ok(()) => {
                self.status(format!("Exported {}", path.display()));
                self.ui().last_export = Some(path.clone());
                Some(path)
            }
            Err(e) => {
                self.error(format!("Export to {} failed: {e}", path.display()));
                None
            }
        }
    }
}
