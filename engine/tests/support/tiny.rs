//! The tiny fixture model (scripts/make_tiny_model.py) and the inputs the generation tests give it.
use std::path::{Path, PathBuf};

use refrain_engine::audio::Audio;
use refrain_engine::manifest::{MANIFEST_FILE, REQUIRED_FILES};
use refrain_engine::model::{Model, ModelOptions, Provider};
use refrain_engine::pipeline::SongInput;

/// The tiny model's version directory.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tiny_model")
}

/// CPU, one thread, no warm-up: the cheapest options on a shared test machine.
pub fn cpu() -> ModelOptions {
    ModelOptions {
        provider: Provider::Cpu,
        intra_threads: 1,
        warm_up: false,
    }
}

/// The tiny model loaded with [`cpu`] options.
pub fn model() -> Model {
    Model::load(&dir(), cpu()).unwrap_or_else(|e| panic!("{e}"))
}

/// Copies the tiny model's files into `dest` (created if missing).
pub fn copy_to(dest: &Path) {
    std::fs::create_dir_all(dest).unwrap();
    for name in REQUIRED_FILES.iter().chain([&MANIFEST_FILE]) {
        std::fs::copy(dir().join(name), dest.join(name)).unwrap();
    }
}

/// A conditioning song with weight 1 and the loudest window.
pub fn song(name: &str, audio: Audio) -> SongInput {
    SongInput {
        name: name.into(),
        audio,
        offset_s: None,
        weight: 1.0,
    }
}
