//! The neural vocoder: an ONNX network (trained by `refrain-trainer vocoder`) corrects the DSP
//! mel inversion's STFT magnitude from the mel, then Griffin-Lim iterations, from PGHI's phase
//! or from random phases as the spec says, find audio with that magnitude.
//!
//! It ships as a directory (`models/vocoder/`): `vocoder.json` ([`NeuralSpec`]: the mel format
//! it was trained for, the network's sha256, the phase settings, a training summary) and the
//! network it names. Loading checks all of it, so a missing, cut or foreign file is an error the
//! caller turns into the Griffin-Lim fallback ([`super::resolve`]).
use super::pghi::phase_and_invert;
use super::{Vocoder, VocoderError, NEURAL};
use crate::manifest::sha256_file;
use crate::runtime;
use crate::spectrogram::{griffin_lim, AudioConfig, GriffinLim, Mel, MelTransform};
use ort::session::Session;
use ort::value::Tensor;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The spec file of a neural vocoder directory.
pub const SPEC_FILE: &str = "vocoder.json";
/// Format of [`NeuralSpec`] this build reads.
pub const SPEC_FORMAT: u32 = 1;
/// The network's input name (`[1, 1, n_mels, frames]`, model-range mel).
pub const INPUT: &str = "mel";
/// The network's second input (`[1, 1, n_freqs, frames]`): ln of the DSP mel inversion's
/// magnitude, floored at the spec's `magnitude_floor`; the network returns a corrected one.
pub const BASE: &str = "base";
/// The network's output name (`[1, 2·n_freqs, frames]`): per bin a log-gain on the DSP
/// magnitude, then the log of a magnitude added to it.
pub const OUTPUT: &str = "heads";

/// Where an export starts the phase iterations by default. In `cargo xtask bench vocoder`
/// (2026-12-04, 80 windows) random phases and 24 fast Griffin-Lim iterations matched PGHI and 4
/// iterations in multi-resolution STFT distance (0.58× Griffin-Lim 32's either way) at the same
/// time, and kept onsets far better (spectral-flux correlation 0.940 vs 0.917; on the synth
/// loop's drums 0.947 vs 0.897): PGHI on a predicted magnitude smears transients.
pub const DEFAULT_PHASE_INIT: PhaseInit = PhaseInit::Random;
/// Griffin-Lim iterations an export writes by default: the fewest from random phases that were
/// worse than Griffin-Lim 32 on no clip family in that run (20 lost on the synth loop).
pub const DEFAULT_PHASE_ITERS: usize = 24;
/// Their momentum: the "fast" Griffin-Lim's (librosa's default).
pub const DEFAULT_PHASE_MOMENTUM: f32 = 0.99;

/// Where the Griffin-Lim iterations after the network start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PhaseInit {
    /// Phase-gradient heap integration on the predicted magnitude: consistent at once, so few
    /// iterations are needed, but it smears drum onsets when the magnitude is not exact. What a
    /// spec without `phase_init` (written before it existed) meant.
    #[default]
    Pghi,
    /// Random phases (seeded), as Griffin-Lim 32 starts: needs more iterations, keeps onsets.
    Random,
}

/// Model-range mel values at or below this are the floor (−80 dB below the window's maximum).
const SILENT_FLOOR: f32 = -1.0 + 1e-4;

/// What `vocoder.json` says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeuralSpec {
    /// Always [`SPEC_FORMAT`].
    pub format_version: u32,
    /// The mel format the network was trained on; only mels of exactly this format are rendered.
    pub audio: AudioConfig,
    /// The ONNX file, relative to the directory.
    pub network: String,
    /// Its lowercase hex sha256.
    pub sha256: String,
    /// Where the phase iterations start (absent in specs from before it existed: PGHI).
    #[serde(default)]
    pub phase_init: PhaseInit,
    /// Griffin-Lim iterations after the network (after PGHI, or from random phases).
    pub phase_iters: usize,
    /// Momentum of those iterations.
    pub phase_momentum: f32,
    /// Floor of the magnitudes before the log, relative to the loudest mel band.
    pub magnitude_floor: f32,
    /// NNLS steps of the DSP mel inversion the network was trained to correct (absent: the
    /// inversion's default, as before this field existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inverse_steps: Option<usize>,
    /// Free-form training summary (data, steps, held-out figures); not interpreted here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<serde_json::Value>,
}

impl NeuralSpec {
    /// Reads and checks `<dir>/vocoder.json` and the hash of the network it names.
    pub fn load(dir: &Path) -> Result<Self, VocoderError> {
        let path = dir.join(SPEC_FILE);
        let fail = |reason: String| VocoderError::Neural {
            dir: dir.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| fail(format!("cannot read {SPEC_FILE}: {e}")))?;
        let spec: Self = serde_json::from_str(&text)
            .map_err(|e| fail(format!("{SPEC_FILE} is not a vocoder spec: {e}")))?;
        if spec.format_version != SPEC_FORMAT {
            return Err(fail(format!(
                "{SPEC_FILE} has format {} (this build reads {SPEC_FORMAT})",
                spec.format_version
            )));
        }
        let network = spec.network_path(dir);
        let actual = sha256_file(&network).map_err(|e| fail(e.to_string()))?;
        if !actual.eq_ignore_ascii_case(&spec.sha256) {
            return Err(fail(format!(
                "{} is damaged or replaced (sha256 {actual}, expected {})",
                spec.network, spec.sha256
            )));
        }
        Ok(spec)
    }

    /// The network file of a spec in `dir`.
    pub fn network_path(&self, dir: &Path) -> PathBuf {
        dir.join(&self.network)
    }
}

/// Mel → predicted magnitude (ONNX) → PGHI phase → a few Griffin-Lim iterations.
pub struct NeuralVocoder {
    session: Session,
    spec: NeuralSpec,
    transform: MelTransform,
    dir: PathBuf,
}

impl NeuralVocoder {
    /// Loads the vocoder in `dir` for mels of `config`; refuses a spec trained on another format.
    pub fn load(dir: &Path, config: &AudioConfig) -> Result<Self, VocoderError> {
        let spec = NeuralSpec::load(dir)?;
        let fail = |reason: String| VocoderError::Neural {
            dir: dir.to_path_buf(),
            reason,
        };
        if spec.audio != *config {
            return Err(fail(format!(
                "trained on {} mels × {} frames at {} Hz, the model makes {} × {} at {} Hz",
                spec.audio.n_mels,
                spec.audio.frames,
                spec.audio.sample_rate,
                config.n_mels,
                config.frames,
                config.sample_rate
            )));
        }
        let session = runtime::session_from_file(spec.network_path(dir), 0)
            .map_err(|e| fail(e.to_string()))?;
        let names = |outlets: &[ort::value::Outlet]| -> Vec<String> {
            outlets.iter().map(|o| o.name().to_string()).collect()
        };
        let (inputs, outputs) = (names(session.inputs()), names(session.outputs()));
        if inputs != [INPUT, BASE] || outputs != [OUTPUT] {
            return Err(fail(format!(
                "network has inputs {inputs:?} and outputs {outputs:?}, expected [{INPUT:?}, {BASE:?}] and [{OUTPUT:?}]"
            )));
        }
        Ok(Self {
            session,
            transform: MelTransform::with_inverse_steps(config, spec.inverse_steps)?,
            spec,
            dir: dir.to_path_buf(),
        })
    }

    /// Renders with these phase settings instead of the spec's (the benchmark compares
    /// settings with it).
    pub fn set_phase(&mut self, init: PhaseInit, iters: usize, momentum: f32) {
        self.spec.phase_init = init;
        self.spec.phase_iters = iters;
        self.spec.phase_momentum = momentum;
    }

    /// The spec it was loaded from.
    pub fn spec(&self) -> &NeuralSpec {
        &self.spec
    }

    /// The predicted linear magnitude of `mel`, frame-major (`frames × n_freqs`).
    pub fn magnitude(&mut self, mel: &Mel) -> Result<Vec<f32>, VocoderError> {
        let audio = &self.spec.audio;
        let fail = |reason: String| VocoderError::Neural {
            dir: self.dir.clone(),
            reason,
        };
        if mel.n_mels != audio.n_mels || mel.frames != audio.frames {
            return Err(fail(format!(
                "mel is {} × {}, the vocoder renders {} × {}",
                mel.n_mels, mel.frames, audio.n_mels, audio.frames
            )));
        }
        // A NaN from upstream would poison every bin through the convolutions: render it as
        // the quietest value instead, as the other vocoders' inverse mel does.
        let clean = Mel {
            data: mel
                .data
                .iter()
                .map(|v| {
                    if v.is_finite() {
                        v.clamp(-1.0, 1.0)
                    } else {
                        -1.0
                    }
                })
                .collect(),
            ..mel.clone()
        };
        let (n_freqs, frames) = (audio.n_freqs(), audio.frames);
        let inverted = self.transform.magnitude_from_model(&clean)?;
        let floor = self.spec.magnitude_floor.max(f32::MIN_POSITIVE);
        let mut base = vec![0.0f32; n_freqs * frames];
        log_bin_major(&inverted, n_freqs, frames, floor, &mut base);
        let mel_tensor =
            Tensor::from_array((vec![1usize, 1, mel.n_mels, frames], clean.data.clone()))
                .map_err(|e| fail(format!("input: {e}")))?;
        let base_tensor = Tensor::from_array((vec![1usize, 1, n_freqs, frames], base.clone()))
            .map_err(|e| fail(format!("base: {e}")))?;
        let outputs = self
            .session
            .run(ort::inputs![INPUT => mel_tensor, BASE => base_tensor])
            .map_err(|e| fail(format!("inference: {e}")))?;
        let (_, data) = outputs[OUTPUT]
            .try_extract_tensor::<f32>()
            .map_err(|e| fail(format!("output: {e}")))?;
        if data.len() != 2 * n_freqs * frames {
            return Err(fail(format!(
                "output has {} values, expected 2 × {n_freqs} × {frames}",
                data.len()
            )));
        }
        // Clamped: exp of a runaway logit must not become inf, nor NaN anything downstream.
        let exp = |v: f32| {
            if v.is_finite() {
                v.clamp(-30.0, 30.0).exp()
            } else {
                0.0
            }
        };
        let (gain, fill) = data.split_at(n_freqs * frames);
        // A frame whose every band sits at the mel's floor carries nothing but "quiet": it stays
        // silent (training never saw one, since every window has its own loudest band at 0 dB,
        // and the fill would otherwise paint its average level into it).
        let silent: Vec<bool> = (0..frames)
            .map(|t| (0..mel.n_mels).all(|m| clean.data[m * frames + t] <= SILENT_FLOOR))
            .collect();
        let mut magnitude = vec![0.0f32; n_freqs * frames];
        for k in 0..n_freqs {
            for t in (0..frames).filter(|&t| !silent[t]) {
                let i = k * frames + t;
                magnitude[t * n_freqs + k] = exp(base[i] + gain[i]) + exp(fill[i]);
            }
        }
        Ok(magnitude)
    }
}

impl Vocoder for NeuralVocoder {
    fn name(&self) -> &'static str {
        NEURAL
    }

    fn render(&mut self, mel: &Mel, seed: u64) -> Result<Vec<f32>, VocoderError> {
        let magnitude = self.magnitude(mel)?;
        let settings = GriffinLim {
            iters: self.spec.phase_iters,
            momentum: self.spec.phase_momentum,
            seed,
        };
        Ok(match self.spec.phase_init {
            PhaseInit::Pghi => {
                phase_and_invert(&mut self.transform, &magnitude, mel.frames, settings)
            }
            PhaseInit::Random => {
                let length = (mel.frames * self.spec.audio.hop_length).saturating_sub(1);
                griffin_lim(self.transform.stft(), &magnitude, length, settings)
            }
        })
    }
}

/// The DSP base the network reads: `ln(max(m, floor))` of a frame-major magnitude, written
/// bin-major into `out`. One function for inference and training, which must agree.
pub fn log_bin_major(
    magnitude: &[f32],
    n_freqs: usize,
    frames: usize,
    floor: f32,
    out: &mut [f32],
) {
    for (t, row) in magnitude.chunks_exact(n_freqs).take(frames).enumerate() {
        for (k, &m) in row.iter().enumerate() {
            out[k * frames + t] = m.max(floor).ln();
        }
    }
}
