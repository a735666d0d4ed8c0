//! `refrain info`: what this engine would run with.
use anyhow::Result;
use refrain_engine::{runtime, spectrogram::AudioConfig};

/// Prints the default audio config and the ONNX Runtime library and its providers.
pub fn run() -> Result<()> {
    println!("refrain-engine {}", refrain_engine::VERSION);
    let config = AudioConfig::default();
    println!(
        "audio: {} Hz mono, n_fft {}, hop {}, {} mels × {} frames ({:.2} s windows), top_db {}",
        config.sample_rate,
        config.n_fft,
        config.hop_length,
        config.n_mels,
        config.frames,
        config.window_secs(),
        config.top_db
    );
    match runtime::init() {
        Ok(info) => {
            println!(
                "onnx runtime: {} ({})",
                info.version,
                info.library.display()
            );
            println!("providers available: {}", info.providers.join(", "));
        }
        Err(e) => println!("onnx runtime: not available: {e}"),
    }
    println!("model: none shipped yet (see README, Status)");
    Ok(())
}
