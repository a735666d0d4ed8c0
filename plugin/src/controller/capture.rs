//! Capture (controller side): arm the audio thread with the capture length, then turn each
//! finished capture buffer into a song — a WAV under `<data dir>/captures` added to the song
//! list — and recycle the buffer so the next capture allocates nothing.
use std::sync::atomic::Ordering;

use refrain_engine::audio::{write_wav, Audio};
use refrain_engine::feedback::now_ms;

use super::State;
use crate::audio_thread::CaptureBuffer;
use crate::params::{SongRef, MAX_SONGS};

impl State {
    /// Arms a capture with the parameters' length, or `seconds` when given (test hook).
    pub(super) fn arm(&mut self, seconds: Option<f32>) {
        use crate::params::LengthUnit;
        self.allocate_capture_buffers();
        let (length, bars) = match seconds {
            Some(s) => (s, false),
            None => (
                self.params.capture_length.value(),
                self.params.capture_unit.value() == LengthUnit::Bars,
            ),
        };
        self.shared
            .capture_length
            .store(length.to_bits(), Ordering::Relaxed);
        self.shared.length_in_bars.store(bars, Ordering::Relaxed);
        self.shared.arm.store(true, Ordering::Relaxed);
        self.status("Capture armed: it starts at the next bar (now, without a transport)");
    }

    /// A finished capture: written as a WAV under `<data dir>/captures`, added to the songs.
    pub(super) fn captured(&mut self, mut buf: Box<CaptureBuffer>) {
        // The store is the data dir's write probe: one that cannot be written moves the
        // session to a temporary dir before the capture is written.
        self.ensure_store();
        let result = self.save_capture(&buf);
        buf.len = 0;
        // Recycle the buffer: the next capture needs no allocation.
        if self.spare.is_none() {
            self.spare = Some(buf);
        }
        match result {
            Ok(song) => {
                let name = song.name.clone();
                let mut songs = self.params.songs.lock().unwrap_or_else(|e| e.into_inner());
                if songs.len() >= MAX_SONGS {
                    drop(songs);
                    self.error(format!(
                        "{name} was captured, but {MAX_SONGS} songs are the most: remove one first"
                    ));
                    return;
                }
                songs.push(song);
                drop(songs);
                self.status(format!("Captured {name}"));
                if let Some(hook) = self.hook.as_mut() {
                    hook.captured = true;
                }
            }
            Err(e) => self.error(e),
        }
        self.shared.capture_done.store(0, Ordering::Relaxed);
    }

    fn save_capture(&self, buf: &CaptureBuffer) -> Result<SongRef, String> {
        let Some(dir) = &self.data_dir else {
            return Err("Capture not saved: no data folder".into());
        };
        if buf.len == 0 {
            return Err("The capture was empty".into());
        }
        let captures = dir.join("captures");
        std::fs::create_dir_all(&captures)
            .map_err(|e| format!("Could not create {}: {e}", captures.display()))?;
        let audio = Audio::new(
            buf.sample_rate,
            vec![buf.left[..buf.len].to_vec(), buf.right[..buf.len].to_vec()],
        )
        .map_err(|e| format!("Capture not saved: {e}"))?;
        let path = captures.join(format!("capture-{}.wav", now_ms()));
        write_wav(&path, &audio).map_err(|e| format!("Could not write {}: {e}", path.display()))?;
        let count = self.params.songs.lock().map(|s| s.len()).unwrap_or(0);
        Ok(SongRef {
            name: format!("Capture {}", count + 1),
            weight: 1.0,
            wav: path,
            duration_s: audio.duration_secs(),
            stored: None,
        })
    }
}
