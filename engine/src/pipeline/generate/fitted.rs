//! The bar-fitted part of [`Pipeline::generate`]: continuation windows by masked outpainting,
//! rendered, joined, stretched back to the host's bars and folded into a loop
//! (docs/ARCHITECTURE.md §4.5).
use super::{timed, Pipeline};
use crate::audio;
use crate::ddim::{Ddim, DdimParams, Known, Start};
use crate::pipeline::continuation::{fold_loop, join};
use crate::pipeline::tempo::{loop_tail_secs, Layout};
use crate::pipeline::{PipelineError, Timings};
use std::ops::ControlFlow;

/// The noise seed of window `index` of the clip with `seed` (window 0 uses `seed` itself, so a
/// one-window clip draws what an unfitted one draws).
fn window_seed(seed: u64, index: usize) -> u64 {
    seed.wrapping_add((index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

impl Pipeline {
    /// Denoiser calls one window takes for one seed.
    pub(super) fn steps_per_window(
        &self,
        start: &Start<'_>,
        params: &DdimParams,
    ) -> Result<usize, PipelineError> {
        let ddim = Ddim::new(self.sampler.schedule(), params.steps)?;
        Ok(match start {
            Start::Noise { .. } => ddim.timesteps().len(),
            Start::Latent { strength, .. } => ddim.img2img_timesteps(*strength)?.len(),
        })
    }

    /// `first` and the windows that continue it, `layout.windows` in all: each keeps the last
    /// `layout.overlap_columns` columns of the one before as its known start. `progress` gets
    /// the window's index (from 1) and the step within it.
    pub(super) fn continue_windows(
        &mut self,
        first: Vec<f32>,
        condition: Option<(&[f32], f64)>,
        seed: u64,
        layout: &Layout,
        params: &DdimParams,
        progress: &mut dyn FnMut(usize, usize) -> ControlFlow<()>,
    ) -> Result<Vec<Vec<f32>>, PipelineError> {
        let width = layout.latent_width;
        let keep = layout.overlap_columns;
        let mut windows = vec![first];
        for index in 1..layout.windows {
            let Some(before) = windows.last() else { break };
            // The end of the window before, moved to the start of this one.
            let mut shifted = vec![0.0f32; before.len()];
            for (from, into) in before
                .chunks_exact(width)
                .zip(shifted.chunks_exact_mut(width))
            {
                into[..keep].copy_from_slice(&from[width - keep..]);
            }
            let known = Known {
                latent: &shifted,
                columns: keep,
                width,
            };
            let mut denoiser = self.model.denoiser();
            let mut report = |step: usize, _total: usize| progress(index, step);
            let next = self.sampler.outpaint(
                condition,
                known,
                window_seed(seed, index),
                params,
                &mut denoiser,
                &mut report,
            )?;
            windows.push(next);
        }
        Ok(windows)
    }

    /// Renders each window, joins them, stretches model time back to the host's tempo and
    /// returns exactly the layout's bars at `output_rate`, folded so they loop.
    pub(super) fn render_fitted(
        &mut self,
        windows: &[Vec<f32>],
        seed: u64,
        detail: Option<(&[f32], f32)>,
        layout: &Layout,
        output_rate: u32,
        timings: &mut Timings,
    ) -> Result<Vec<f32>, PipelineError> {
        let mut rendered = Vec::with_capacity(windows.len());
        for (index, latent) in windows.iter().enumerate() {
            let audio =
                self.render_latent_with_detail(latent, window_seed(seed, index), detail, timings)?;
            rendered.push(audio::fit_length(&audio, layout.window_samples));
        }
        // Crossfade over half the overlap, centred in it.
        let crossfade = (layout.window_samples - layout.shift_samples) / 2;
        let joined = join(&rendered, layout.shift_samples, crossfade);
        let needed = audio::fit_length(&joined, layout.needed_samples);
        let model_rate = layout.model_rate;
        let fit = layout.fit;
        timed(&mut timings.resample_out, || {
            let real_len = (needed.len() as f64 / layout.stretch()).round() as usize;
            let real = audio::stretch_to(&needed, real_len, model_rate)?;
            let out = audio::resample(&real, model_rate, output_rate)?;
            let len = fit.clip_samples(output_rate);
            let tail = (loop_tail_secs(&fit) * f64::from(output_rate)).round() as usize;
            Ok(fold_loop(&out, len, tail))
        })
    }
}
