//! A vocoder checkpoint's record (`vocoder.json`, the commit point of each checkpoint): the
//! sizes, the step, the held-out figures and the legs of data it was trained on.
use super::model::VocoderConfig;
use super::VocoderError;
use refrain_engine::spectrogram::AudioConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// File name of the vocoder checkpoint's state.
pub const VOCODER_STATE: &str = "vocoder.json";

/// A checkpoint's configuration and progress (`vocoder.json`, written last: the commit point).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VocoderState {
    /// Steps done.
    pub step: usize,
    /// Seed (with `step`, the whole RNG state).
    pub seed: u64,
    /// Network sizes.
    pub config: VocoderConfig,
    /// The audio configuration of the mels it was trained on.
    pub audio: AudioConfig,
    /// Training windows (5.94 s each).
    pub train_windows: usize,
    /// Held-out windows.
    pub heldout_windows: usize,
    /// What the windows came from (for the model card).
    pub sources: Vec<String>,
    /// Last logged training loss.
    pub train_loss: Option<f32>,
    /// Last held-out log-magnitude L1.
    pub heldout_l1: Option<f32>,
    /// Last held-out spectral convergence of the predicted magnitude.
    pub heldout_sc: Option<f32>,
    /// The DSP mel inversion's held-out log-magnitude L1 and spectral convergence on the same
    /// windows: the reference the network's figures are read against.
    #[serde(default)]
    pub dsp_reference: Option<[f32; 2]>,
    /// Each run on different data, in order (empty in checkpoints from before legs were kept).
    #[serde(default)]
    pub legs: Vec<TrainingLeg>,
    /// Step the optimizer's moments started at (0, or where a run continued from an export
    /// began with a fresh optimizer): the learning rate warms up again from there.
    #[serde(default)]
    pub optimizer_from: usize,
}

/// A stretch of training on one set of windows: the model card says what each leg learned from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingLeg {
    /// Step the leg started at.
    pub from_step: usize,
    /// Step the leg reached.
    pub to_step: usize,
    /// Training windows it drew from.
    pub train_windows: usize,
    /// What those windows came from.
    pub sources: Vec<String>,
    /// NNLS steps of the DSP base in this leg (`None`: the inversion's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inverse_steps: Option<usize>,
}

impl VocoderState {
    /// NNLS steps of the DSP inversion the network now corrects: its last leg's (`None`: the
    /// inversion's default).
    pub fn inverse_steps(&self) -> Option<usize> {
        self.legs.last().and_then(|l| l.inverse_steps)
    }

    /// Starts a leg at the current step unless `sources` and `train_windows` are the last
    /// leg's (a resume on the same data continues it); empty `sources` means "the same as
    /// before". `sources` becomes the union over every leg.
    pub fn begin_leg(
        &mut self,
        train_windows: usize,
        sources: Vec<String>,
        inverse_steps: Option<usize>,
    ) {
        if inverse_steps != self.inverse_steps() {
            // A different base: the DSP reference figures are measured again.
            self.dsp_reference = None;
        }
        if self.legs.is_empty() && self.step > 0 {
            // A checkpoint from before legs were recorded: what it recorded is its one leg.
            self.legs.push(TrainingLeg {
                from_step: 0,
                to_step: self.step,
                train_windows: self.train_windows,
                sources: self.sources.clone(),
                inverse_steps: None,
            });
        }
        let sources = match (sources.is_empty(), self.legs.last()) {
            (true, Some(last)) => last.sources.clone(),
            _ => sources,
        };
        let continues = self.legs.last().is_some_and(|l| {
            l.to_step == self.step
                && l.train_windows == train_windows
                && l.sources == sources
                && l.inverse_steps == inverse_steps
        });
        if !continues {
            self.legs.push(TrainingLeg {
                from_step: self.step,
                to_step: self.step,
                train_windows,
                sources: sources.clone(),
                inverse_steps,
            });
        }
        for source in sources {
            if !self.sources.contains(&source) {
                self.sources.push(source);
            }
        }
        self.train_windows = train_windows;
    }
    /// Reads `<dir>/vocoder.json`.
    pub fn load(dir: &Path) -> Result<Self, VocoderError> {
        let path = dir.join(VOCODER_STATE);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| VocoderError::Data(format!("{}: {e}", path.display())))?;
        serde_json::from_str(&text)
            .map_err(|e| VocoderError::Data(format!("{}: {e}", path.display())))
    }

    pub(super) fn save(&self, dir: &Path) -> Result<(), VocoderError> {
        let path = dir.join(VOCODER_STATE);
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| VocoderError::Data(format!("{}: {e}", path.display())))?;
        std::fs::write(&path, text)
            .map_err(|e| VocoderError::Data(format!("{}: {e}", path.display())))
    }
}

/// What an export records of its training (`vocoder.json`'s `training`): written by
/// `export_dir`, read back by `from_export`, so the two agree on every key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecord {
    /// Steps done.
    pub steps: usize,
    /// Network sizes.
    pub config: VocoderConfig,
    /// Training windows of the last leg.
    pub train_windows: usize,
    /// Held-out windows.
    pub heldout_windows: usize,
    /// What the windows came from.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Each leg of training (absent in exports from before they were recorded).
    #[serde(default)]
    pub legs: Vec<TrainingLeg>,
    /// Last held-out log-magnitude L1.
    #[serde(default)]
    pub heldout_log_magnitude_l1: Option<f32>,
    /// Last held-out spectral convergence.
    #[serde(default)]
    pub heldout_spectral_convergence: Option<f32>,
}

impl From<&VocoderState> for TrainingRecord {
    fn from(state: &VocoderState) -> Self {
        Self {
            steps: state.step,
            config: state.config.clone(),
            train_windows: state.train_windows,
            heldout_windows: state.heldout_windows,
            sources: state.sources.clone(),
            legs: state.legs.clone(),
            heldout_log_magnitude_l1: state.heldout_l1,
            heldout_spectral_convergence: state.heldout_sc,
        }
    }
}

/// Where the latest committed checkpoint of `out` is, with its state.
pub fn latest_checkpoint(out: &Path) -> Option<(PathBuf, VocoderState)> {
    ["checkpoint", "checkpoint.old"]
        .iter()
        .map(|d| out.join(d))
        .find_map(|d| VocoderState::load(&d).ok().map(|s| (d, s)))
}
