//! Songs' encodings kept across requests: a producer generates again and again from the same
//! captured songs, and with a large VAE the song's encode (and, with Detail, its own round-trip
//! decode) costs as much as the rest of a variation. Keyed by the exact window samples and
//! whether Detail's residual was computed, so a different offset, song or model (a new
//! `Pipeline`) never reuses an entry.
use std::collections::hash_map::DefaultHasher;
use std::collections::VecDeque;
use std::hash::{Hash, Hasher};

/// Songs kept: a session rarely merges more than a few; each entry is one latent plus, with
/// Detail, one mel (256 KB at 256×256).
const CAPACITY: usize = 8;

/// What encoding one song window gives.
#[derive(Debug, Clone)]
pub(super) struct Encoded {
    /// The scaled latent.
    pub latent: Vec<f32>,
    /// What the autoencoder loses of the window (only when Detail asked for it).
    pub residual: Option<Vec<f32>>,
}

/// The most recently used song encodings, oldest first.
#[derive(Debug, Default)]
pub(super) struct SongCache {
    entries: VecDeque<(u64, Encoded)>,
}

impl SongCache {
    /// The key of a window and whether its residual is wanted.
    pub fn key(window: &[f32], with_residual: bool) -> u64 {
        let mut h = DefaultHasher::new();
        window.len().hash(&mut h);
        for v in window {
            v.to_bits().hash(&mut h);
        }
        with_residual.hash(&mut h);
        h.finish()
    }

    /// A copy of the entry for `key`, refreshed as most recently used.
    pub fn get(&mut self, key: u64) -> Option<Encoded> {
        let at = self.entries.iter().position(|(k, _)| *k == key)?;
        let entry = self.entries.remove(at)?;
        let found = entry.1.clone();
        self.entries.push_back(entry);
        Some(found)
    }

    /// Keeps `encoded` under `key`, dropping the least recently used entry when full.
    pub fn insert(&mut self, key: u64, encoded: Encoded) {
        self.entries.retain(|(k, _)| *k != key);
        if self.entries.len() == CAPACITY {
            self.entries.pop_front();
        }
        self.entries.push_back((key, encoded));
    }

    /// Forgets every song (benchmarks time the uncached path with it).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}
