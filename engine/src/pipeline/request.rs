//! What a generation asks for and what it returns.
use super::tempo::BarFit;
use super::PipelineError;
use crate::audio::Audio;
use serde::{Deserialize, Serialize};

/// One conditioning song as given by the caller.
#[derive(Debug, Clone)]
pub struct SongInput {
    /// A name for messages and sidecars (file name, capture name).
    pub name: String,
    /// The audio, any rate and channel count.
    pub audio: Audio,
    /// Start of the window in seconds; `None` picks the loudest window.
    pub offset_s: Option<f64>,
    /// Merge weight (≥ 0; they need not sum to 1).
    pub weight: f32,
}

/// A generation request. Empty `songs` = unconditional sampling.
#[derive(Debug, Clone)]
pub struct GenerateRequest {
    /// Conditioning songs (merged by weighted SLERP).
    pub songs: Vec<SongInput>,
    /// s ∈ (0, 1]: how far from the songs the variations may go.
    pub strength: f64,
    /// DDIM steps over the full schedule.
    pub steps: usize,
    /// DDIM η (0 = deterministic).
    pub eta: f64,
    /// How much of what the autoencoder smears away from the songs is added back, in [0, 1]:
    /// 0 = none, 1 = the songs' share of the start step (see [`super::detail`]).
    pub detail: f64,
    /// One clip per seed.
    pub seeds: Vec<u64>,
    /// Sample rate of the returned clips.
    pub output_rate: u32,
    /// The vocoder to render with (one of [`crate::vocoder::NAMES`]); `None` = the version's
    /// own (its manifest's, else [`crate::vocoder::DEFAULT`]).
    pub vocoder: Option<String>,
    /// Bars at the host's tempo: the songs' bars are stretched into the model's window and the
    /// clips rendered to exactly this many bars, continued window by window and looping
    /// seamlessly ([`super::tempo`]). `None` = one model window at the model's own time.
    pub fit: Option<BarFit>,
}

impl GenerateRequest {
    /// Refuses a request no generation can serve, naming the parameter.
    pub fn validate(&self) -> Result<(), PipelineError> {
        let invalid = |m: String| Err(PipelineError::InvalidRequest(m));
        if self.seeds.is_empty() {
            return invalid("at least one seed (variation) is needed".into());
        }
        let strength_ok = self.strength > 0.0 && self.strength <= 1.0;
        if !self.songs.is_empty() && !strength_ok {
            return invalid(format!("strength must be in (0, 1], got {}", self.strength));
        }
        if !(0.0..=1.0).contains(&self.detail) {
            return invalid(format!("detail must be in [0, 1], got {}", self.detail));
        }
        if self.steps == 0 || self.steps > 1000 {
            return invalid(format!("steps must be in 1..=1000, got {}", self.steps));
        }
        if let Some(problem) = self.fit.as_ref().and_then(|f| f.problem()) {
            return invalid(problem);
        }
        if self.output_rate < 8000 || self.output_rate > 384_000 {
            return invalid(format!(
                "output rate must be 8–384 kHz, got {} Hz",
                self.output_rate
            ));
        }
        Ok(())
    }
}

/// How one song was used (the window actually chosen), recorded in each clip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SongUse {
    /// The song's name.
    pub name: String,
    /// Merge weight.
    pub weight: f32,
    /// Window start in seconds.
    pub offset_s: f64,
    /// Non-finite samples replaced with silence.
    pub replaced_samples: usize,
}

/// Every parameter that made a clip (written as the clip's JSON sidecar).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipParams {
    /// The songs and windows used (empty = unconditional).
    pub songs: Vec<SongUse>,
    /// Strength (1.0 for unconditional).
    pub strength: f64,
    /// DDIM steps.
    pub steps: usize,
    /// DDIM η.
    pub eta: f64,
    /// Source detail added back (0 when off or unconditional; absent in older sidecars).
    #[serde(default)]
    pub detail: f64,
    /// The seed (noise and Griffin-Lim phases).
    pub seed: u64,
    /// Model name and version.
    pub model: String,
    /// Model version number.
    pub model_version: u32,
    /// Execution provider used.
    pub provider: String,
    /// Output sample rate.
    pub sample_rate: u32,
    /// Griffin-Lim iterations.
    pub griffin_lim_iters: usize,
    /// Made by the parent version for the blind A/B (stored, never shown to the producer).
    #[serde(default)]
    pub is_baseline: bool,
    /// The vocoder that rendered it (older sidecars: Griffin-Lim, the only one then).
    #[serde(default = "griffin_lim")]
    pub vocoder: String,
    /// Why it was not rendered with the vocoder asked for, when it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vocoder_warning: Option<String>,
    /// The bars and tempo the clip was fitted to (absent: one model window, older sidecars).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit: Option<BarFit>,
}

fn griffin_lim() -> String {
    crate::vocoder::GRIFFIN_LIM.to_string()
}

/// A generated clip.
#[derive(Debug, Clone)]
pub struct Clip {
    /// Mono audio at `params.sample_rate`.
    pub audio: Vec<f32>,
    /// The generated latent (what the trainer learns from).
    pub latent: Vec<f32>,
    /// The merged conditioning latent (empty when unconditional).
    pub condition: Vec<f32>,
    /// Each song's own latent, in request order (what the feedback store keeps per song, so a
    /// song reused in another merge conditions correctly).
    pub song_latents: Vec<Vec<f32>>,
    /// Everything that made it.
    pub params: ClipParams,
}

/// Wall time per stage of one request, in seconds (for the benchmark's breakdown).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Timings {
    /// Resampling the song windows to the model rate.
    pub resample_in: f64,
    /// Mel spectrograms.
    pub mel: f64,
    /// Encoder.
    pub encode: f64,
    /// The DDIM loop (UNet calls).
    pub unet: f64,
    /// Decoder.
    pub decode: f64,
    /// The vocoder (mel inversion + Griffin-Lim today).
    pub vocoder: f64,
    /// Resampling clips to the output rate.
    pub resample_out: f64,
}

impl Timings {
    /// Sum of all stages.
    pub fn total(&self) -> f64 {
        self.resample_in
            + self.mel
            + self.encode
            + self.unet
            + self.decode
            + self.vocoder
            + self.resample_out
    }
}

/// Stage by stage, so a job split over two versions (blind baseline) reports one breakdown.
impl std::ops::Add for Timings {
    type Output = Self;

    fn add(mut self, other: Self) -> Self {
        self += other;
        self
    }
}

/// Stage by stage, as [`Add`](std::ops::Add).
impl std::ops::AddAssign for Timings {
    fn add_assign(&mut self, other: Self) {
        self.resample_in += other.resample_in;
        self.mel += other.mel;
        self.encode += other.encode;
        self.unet += other.unet;
        self.decode += other.decode;
        self.vocoder += other.vocoder;
        self.resample_out += other.resample_out;
    }
}
