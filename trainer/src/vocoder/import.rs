//! A training run's starting point read back from an exported vocoder directory
//! (`models/vocoder`): the weights from its ONNX initializers (through `vocoder.names.json`) and
//! the training record from `vocoder.json`. Checkpoints live outside git, so this is what lets a
//! fresh clone (or a machine that lost its cache) train the shipped network further.
use super::state::{TrainingLeg, TrainingRecord, VocoderState};
use super::{VocoderError, VocoderNet};
use crate::onnx::{load_from_onnx, NameMap};
use burn::tensor::Device;
use refrain_engine::vocoder::neural::NeuralSpec;
use std::path::Path;

/// The network and a state to continue training from, read from the exported `dir`; `seed`
/// seeds the continued run's crops. A damaged network (its sha256 is checked), a spec without a
/// training record or weights that do not fit the recorded sizes are refused.
pub fn from_export(
    dir: &Path,
    seed: u64,
    device: &Device,
) -> Result<(VocoderNet, VocoderState), VocoderError> {
    let fail = |what: String| VocoderError::Data(format!("{}: {what}", dir.display()));
    // Its message already names the directory.
    let spec = NeuralSpec::load(dir).map_err(|e| VocoderError::Data(e.to_string()))?;
    let record = spec
        .training
        .clone()
        .ok_or_else(|| fail("vocoder.json has no training record to continue from".into()))?;
    let training: TrainingRecord = serde_json::from_value(record)
        .map_err(|e| fail(format!("vocoder.json's training record: {e}")))?;
    let names_path = dir.join("vocoder.names.json");
    let names_text = std::fs::read_to_string(&names_path)
        .map_err(|e| fail(format!("cannot read vocoder.names.json: {e}")))?;
    let names: NameMap =
        serde_json::from_str(&names_text).map_err(|e| fail(format!("vocoder.names.json: {e}")))?;
    let onnx = std::fs::read(spec.network_path(dir))
        .map_err(|e| fail(format!("cannot read {}: {e}", spec.network)))?;
    let net = load_from_onnx(&onnx, training.config.init(device)?, &names)
        .map_err(|e| fail(e.to_string()))?;
    // An export from before legs were recorded is one leg over everything it learned from.
    let legs = if training.legs.is_empty() {
        vec![TrainingLeg {
            from_step: 0,
            to_step: training.steps,
            train_windows: training.train_windows,
            sources: training.sources.clone(),
            inverse_steps: spec.inverse_steps,
        }]
    } else {
        training.legs
    };
    let state = VocoderState {
        step: training.steps,
        seed,
        config: training.config,
        audio: spec.audio,
        train_windows: training.train_windows,
        heldout_windows: training.heldout_windows,
        sources: training.sources,
        train_loss: None,
        heldout_l1: training.heldout_log_magnitude_l1,
        heldout_sc: training.heldout_spectral_convergence,
        dsp_reference: None,
        legs,
        optimizer_from: training.steps,
    };
    Ok((net, state))
}
