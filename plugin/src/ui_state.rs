//! What the controller shows the editor (behind a mutex neither of them holds for long; the
//! audio thread never touches it), and the commands the editor sends back.
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Editor → controller.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Arm a capture with the current length parameters.
    Arm,
    /// Cancel an armed or running capture.
    CancelCapture,
    /// Generate variations of the captured songs.
    Generate,
    /// Cancel every running and queued job.
    Cancel,
    /// Loop this clip through the output.
    Preview(u64),
    /// Stop the preview.
    StopPreview,
    /// Rate a clip: Accept/Reject, optionally with 1–5 stars.
    Rate {
        /// Clip key.
        key: u64,
        /// Accepted?
        accepted: bool,
        /// Stars 1–5.
        stars: Option<u8>,
    },
    /// Write the clip as a WAV into the export folder.
    Export(u64),
    /// Export the clip and drag the file out of the editor (the button is held).
    DragOut(u64),
    /// Generate with this version from now on (a key of [`UiState::versions`]; empty = follow
    /// the latest); it loads in the background.
    UseVersion(String),
    /// Read the installed versions again (after an import or a fine-tune).
    RefreshVersions,
    /// Render with this vocoder from now on (empty = the model version's own).
    UseVocoder(String),
}

/// One installed model version as the editor lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionView {
    /// What [`Command::UseVersion`] takes.
    pub key: String,
    /// "audio-diffusion-256 v2".
    pub label: String,
    /// "812 MB · license mit · ≈ 9.8 s per variation (25 steps, cpu)".
    pub detail: String,
    /// `models/current` names it (the latest the trainer published or rolled back to).
    pub is_current: bool,
    /// Why it cannot be used, if it cannot.
    pub problem: Option<String>,
}

/// A running job as the editor draws it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobView {
    /// 0..=1.
    pub fraction: f32,
    /// What it is doing.
    pub label: String,
    /// When the job began (for the time left).
    pub started: Instant,
}

impl JobView {
    /// A job that begins now.
    pub fn starting(label: impl Into<String>) -> Self {
        Self {
            fraction: 0.0,
            label: label.into(),
            started: Instant::now(),
        }
    }

    /// The time left, extrapolated from the progress so far; `None` until there is enough of it.
    pub fn time_left(&self, now: Instant) -> Option<Duration> {
        time_left(now.saturating_duration_since(self.started), self.fraction)
    }
}

/// Remaining time if the rest goes at the pace so far: elapsed × (1 − f) / f, once 5 % is done.
pub fn time_left(elapsed: Duration, fraction: f32) -> Option<Duration> {
    if !(0.05..1.0).contains(&fraction) {
        return None;
    }
    let fraction = f64::from(fraction);
    Some(elapsed.mul_f64((1.0 - fraction) / fraction))
}

/// One clip row.
#[derive(Debug, Clone)]
pub struct ClipView {
    /// Controller key (stable for the session).
    pub key: u64,
    /// "Clip 3".
    pub title: String,
    /// Strength, steps, eta, songs, model.
    pub settings: String,
    /// "4 bars · 120.0 BPM", or "5.9 s" for a clip that does not follow a host tempo.
    pub length: String,
    /// Bars in the clip (bar lines on the thumbnail); 0 when it follows no tempo.
    pub bars: u32,
    /// Peak per column for the waveform thumbnail (0..=1).
    pub thumbnail: Vec<f32>,
    /// Clip length in ms.
    pub clip_ms: u64,
    /// Frames heard so far (shared with the audio thread's counter).
    pub played: Arc<AtomicU64>,
    /// Host sample rate (for `played` → ms).
    pub sample_rate: u32,
    /// The last rating, as text ("Accepted 4/5 stars · stored").
    pub rating: Option<String>,
}

impl ClipView {
    /// Listening time measured from real playback.
    pub fn listen_ms(&self) -> u64 {
        self.played.load(Ordering::Relaxed) * 1000 / u64::from(self.sample_rate.max(1))
    }
}

/// Everything the editor draws that is not a parameter.
#[derive(Debug, Clone, Default)]
pub struct UiState {
    /// "refrain-base v0 · CPU", or why there is no model.
    pub model: String,
    /// Whether a model directory was found.
    pub model_found: bool,
    /// Installed versions, shipped base first.
    pub versions: Vec<VersionView>,
    /// The chosen version's key; empty = follow the latest.
    pub chosen: String,
    /// The chosen vocoder; empty = the model version's own.
    pub vocoder: String,
    /// The version being loaded in the background, while it loads.
    pub loading: Option<String>,
    /// Last informational message.
    pub status: String,
    /// Last error, for the producer's eyes.
    pub error: Option<String>,
    /// Where this session's captures, clips and ratings go when the data dir cannot be used
    /// (shown for the whole session, not replaced by later messages).
    pub data_note: Option<String>,
    /// The running job.
    pub job: Option<JobView>,
    /// Clips of this session, newest last.
    pub clips: Vec<ClipView>,
    /// Waveform thumbnails of the captured songs, by WAV path (empty: unreadable).
    pub song_peaks: Vec<(PathBuf, Vec<f32>)>,
    /// Where Export WAV writes.
    pub export_dir: PathBuf,
    /// The last exported file.
    pub last_export: Option<PathBuf>,
    /// Ratings stored / spooled this session (the test hook and the status line read these).
    pub ratings_stored: usize,
}

/// Peak of each of `columns` equal slices of `samples`, normalised to the clip's peak.
pub fn thumbnail(samples: &[f32], columns: usize) -> Vec<f32> {
    if samples.is_empty() || columns == 0 {
        return Vec::new();
    }
    let chunk = samples.len().div_ceil(columns);
    let peaks: Vec<f32> = samples
        .chunks(chunk)
        .map(|c| c.iter().fold(0.0f32, |m, s| m.max(s.abs())))
        .collect();
    let max = peaks.iter().copied().fold(0.0f32, f32::max);
    if max > 0.0 {
        peaks.iter().map(|p| p / max).collect()
    } else {
        peaks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnail_normalises_peaks_per_column() {
        let t = thumbnail(&[0.0, 0.5, -0.25, 0.1], 2);
        assert_eq!(t, vec![1.0, 0.5]);
        assert!(thumbnail(&[], 10).is_empty());
    }

    #[test]
    fn time_left_extrapolates_the_pace_and_waits_for_enough_progress() {
        let ten = Duration::from_secs(10);
        assert_eq!(time_left(ten, 0.25), Some(Duration::from_secs(30)));
        assert_eq!(time_left(ten, 0.5), Some(ten));
        assert_eq!(time_left(ten, 0.01), None, "too early to tell");
        assert_eq!(time_left(ten, 1.0), None, "done");
        assert_eq!(time_left(ten, f32::NAN), None);
    }
}
