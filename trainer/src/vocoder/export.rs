//! Export of a trained vocoder as the directory the engine loads (`models/vocoder/`): the ONNX
//! network, `vocoder.json` (the engine's `NeuralSpec`) and a model card.
use super::state::{TrainingRecord, VocoderState};
use super::{VocoderError, VocoderNet, MAGNITUDE_FLOOR};
use crate::onnx::export::export_ranked;
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use refrain_engine::manifest::sha256_file;
use refrain_engine::vocoder::neural::{NeuralSpec, BASE, INPUT, OUTPUT, SPEC_FILE, SPEC_FORMAT};
use refrain_engine::vocoder::{
    PhaseInit, DEFAULT_PHASE_INIT, DEFAULT_PHASE_ITERS, DEFAULT_PHASE_MOMENTUM,
};
use std::path::Path;

/// Contract names of the vocoder network's input and output.
pub const VOCODER_IO: (&[&str], &[&str]) = (&[INPUT, BASE], &[OUTPUT]);
/// The network's file name in the directory.
const NETWORK: &str = "vocoder.onnx";

/// How the engine finds the phase after the network (written into `vocoder.json`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhaseSettings {
    /// Where the Griffin-Lim iterations start.
    pub init: PhaseInit,
    /// Griffin-Lim iterations.
    pub iters: usize,
    /// Their momentum.
    pub momentum: f32,
}

impl Default for PhaseSettings {
    fn default() -> Self {
        Self {
            init: DEFAULT_PHASE_INIT,
            iters: DEFAULT_PHASE_ITERS,
            momentum: DEFAULT_PHASE_MOMENTUM,
        }
    }
}

/// Writes `dir/{vocoder.onnx, vocoder.names.json, vocoder.json, MODEL_CARD.md}` for `net`
/// (trained as `state` says); `card` is the model card's text. The spec is written last, so a
/// directory cut short by a kill has no spec and is refused (and fallen back from) as a whole.
pub fn export_dir(
    net: &VocoderNet,
    state: &VocoderState,
    phase: PhaseSettings,
    card: &str,
    dir: &Path,
) -> Result<NeuralSpec, VocoderError> {
    let io = |e: std::io::Error| VocoderError::Data(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    let _ = std::fs::remove_file(dir.join(SPEC_FILE));
    let net = net.valid();
    let device = Device::default();
    let audio = state.audio.clone();
    let n_freqs = audio.n_freqs();
    let input = |b: usize| {
        (
            Tensor::<4>::zeros([b, 1, audio.n_mels, audio.frames], &device),
            Tensor::<4>::zeros([b, 1, n_freqs, audio.frames], &device),
        )
    };
    let exported = export_ranked(
        "vocoder",
        &net,
        VOCODER_IO,
        &[4, 4],
        1,
        input,
        |m: &VocoderNet, (x, base)| m.heads(x, base),
    )?;
    exported.save(dir, "vocoder")?;
    std::fs::write(dir.join("MODEL_CARD.md"), card).map_err(io)?;
    let sha256 = sha256_file(&dir.join(NETWORK)).map_err(|e| VocoderError::Data(e.to_string()))?;
    let spec = NeuralSpec {
        format_version: SPEC_FORMAT,
        audio,
        network: NETWORK.into(),
        sha256,
        phase_init: phase.init,
        phase_iters: phase.iters,
        phase_momentum: phase.momentum,
        magnitude_floor: MAGNITUDE_FLOOR,
        inverse_steps: state.inverse_steps(),
        training: Some(
            serde_json::to_value(TrainingRecord::from(state))
                .map_err(|e| VocoderError::Data(format!("{SPEC_FILE}: {e}")))?,
        ),
    };
    let text = serde_json::to_vec_pretty(&spec)
        .map_err(|e| VocoderError::Data(format!("{SPEC_FILE}: {e}")))?;
    std::fs::write(dir.join(SPEC_FILE), text).map_err(io)?;
    Ok(spec)
}
