//! Time per variation, measured the first time a version generates and kept in
//! `<data dir>/model-timings.json`, so the version list can say what choosing a version costs
//! on this machine before the producer waits for it.
//!
//! Entries are keyed by version directory and stamped with the manifest's `created`, so a
//! version folder that is replaced (a re-import under the same name) is measured afresh.
use crate::manifest::{rfc3339_utc, write_atomic, ManifestError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The file in the data dir.
pub const TIMINGS_FILE: &str = "model-timings.json";

/// One measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// The version's manifest `created` when it was measured.
    pub created: String,
    /// Execution provider it ran on ("CPU", "CUDA").
    pub provider: String,
    /// Wall time of the job divided by the clips it made, in seconds.
    pub seconds_per_variation: f64,
    /// DDIM steps each variation ran (strength × steps).
    pub unet_steps: usize,
    /// When (RFC 3339, UTC).
    pub measured: String,
}

impl Measured {
    /// "≈ 2.4 s per variation (25 steps, CPU)".
    pub fn describe(&self) -> String {
        format!(
            "≈ {:.1} s per variation ({} steps, {})",
            self.seconds_per_variation, self.unet_steps, self.provider
        )
    }
}

/// All measurements of this data dir.
#[derive(Debug, Clone, Default)]
pub struct TimingBook {
    path: PathBuf,
    entries: BTreeMap<String, Measured>,
}

impl TimingBook {
    /// Reads the book of `data_dir`. A missing or unreadable file is an empty book (estimates
    /// are a convenience; the next measurement rewrites it), with a warning for a corrupt one.
    pub fn open(data_dir: &Path) -> Self {
        let path = data_dir.join(TIMINGS_FILE);
        let entries = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(file = %path.display(), error = %e, "ignoring unreadable model timings");
                BTreeMap::new()
            }),
            Err(_) => BTreeMap::new(),
        };
        Self { path, entries }
    }

    /// The measurement of the version in `dir` whose manifest says `created`, if any.
    pub fn get(&self, dir: &Path, created: &str) -> Option<&Measured> {
        self.entries.get(&key(dir)).filter(|m| m.created == created)
    }

    /// Whether `dir` (as created) still needs its first measurement.
    pub fn needs(&self, dir: &Path, created: &str) -> bool {
        self.get(dir, created).is_none()
    }

    /// Records a job: `seconds` of wall time for `clips` variations of `unet_steps` steps each.
    /// Writes the file atomically; returns the entry.
    pub fn record(
        &mut self,
        dir: &Path,
        created: &str,
        provider: &str,
        seconds: f64,
        clips: usize,
        unet_steps: usize,
    ) -> Result<Measured, ManifestError> {
        let entry = Measured {
            created: created.to_string(),
            provider: provider.to_string(),
            seconds_per_variation: seconds / clips.max(1) as f64,
            unet_steps,
            measured: rfc3339_utc(SystemTime::now()),
        };
        self.entries.insert(key(dir), entry.clone());
        let json = serde_json::to_vec_pretty(&self.entries).map_err(|e| ManifestError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        })?;
        write_atomic(&self.path, &json)?;
        Ok(entry)
    }
}

fn key(dir: &Path) -> String {
    dir.to_string_lossy().into_owned()
}
