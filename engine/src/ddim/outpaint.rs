//! Masked DDIM outpainting: a window whose first latent columns are already decided (the end of
//! the window before) and whose rest the model continues, as the paper's code and teticio's
//! audio-diffusion pipeline extend clips. After every step the known columns are put back,
//! noised to the timestep the sample has reached, so the model denoises the new columns in the
//! context of the old ones; after the last step they are the known latent exactly.
//!
//! RNG: per seed, the first `len` values start the sample (as in [`Sampler::sample_batch`]),
//! the next `len` noise the known columns at every step (one draw, reused), and with η > 0 each
//! step then draws its variance noise.
use super::sampler::{predict_checked, Run};
use super::{timestep_embedding, Ddim, DdimError, DdimParams, Denoiser, Sampler};
use std::ops::ControlFlow;

/// The decided part of a window: its first `columns` columns of the time axis (the latent's
/// last dimension, `width` wide).
#[derive(Debug, Clone, Copy)]
pub struct Known<'a> {
    /// A whole latent (C·H·W); only its known columns are read.
    pub latent: &'a [f32],
    /// Columns from the start that are known.
    pub columns: usize,
    /// Columns per row (the latent's W).
    pub width: usize,
}

impl Known<'_> {
    /// Copies the known columns of `from` into `into`.
    fn paste(&self, from: &[f32], into: &mut [f32]) {
        for (row_from, row_into) in from
            .chunks_exact(self.width)
            .zip(into.chunks_exact_mut(self.width))
        {
            row_into[..self.columns].copy_from_slice(&row_from[..self.columns]);
        }
    }
}

impl Sampler {
    /// One seed's window continuing `known`: the rest starts from `condition` noised as
    /// image-to-image at its strength (pure noise when `None`). `progress(done, total)` as in
    /// [`Sampler::sample_batch`].
    pub fn outpaint(
        &self,
        condition: Option<(&[f32], f64)>,
        known: Known<'_>,
        seed: u64,
        params: &DdimParams,
        denoiser: &mut dyn Denoiser,
        progress: &mut dyn FnMut(usize, usize) -> ControlFlow<()>,
    ) -> Result<Vec<f32>, DdimError> {
        let len = known.latent.len();
        let invalid = |param, problem: String| Err(DdimError::InvalidParam { param, problem });
        if known.width == 0
            || len == 0
            || !len.is_multiple_of(known.width)
            || known.columns >= known.width
        {
            return invalid(
                "known",
                format!(
                    "{} known columns of a {}-wide latent of {len} values",
                    known.columns, known.width
                ),
            );
        }
        if !(params.eta >= 0.0 && params.eta <= 1.0) {
            return invalid("eta", format!("must be in [0, 1], got {}", params.eta));
        }
        if let Some(index) = known.latent.iter().position(|v| !v.is_finite()) {
            return Err(DdimError::NonFiniteInput { index });
        }
        let ddim = Ddim::new(self.schedule(), params.steps)?;
        let first = match condition {
            Some((latent, strength)) => {
                if latent.len() != len {
                    return Err(DdimError::ShapeMismatch {
                        what: "outpainting condition",
                        expected: len,
                        got: latent.len(),
                    });
                }
                ddim.start_index(strength)?
            }
            None => 0,
        };
        let timesteps = ddim.timesteps()[first..].to_vec();
        let mut run = Run::new(seed, len);
        let start_noise = run.noise.next_vec(len);
        let known_noise = run.noise.next_vec(len);
        run.x = match (condition, timesteps.first()) {
            (Some((latent, _)), Some(&t0)) => self.schedule().q_sample(latent, &start_noise, t0)?,
            (Some((latent, _)), None) => latent.to_vec(),
            (None, _) => start_noise,
        };
        let noised_known = |t: Option<usize>| match t {
            Some(t) => self.schedule().q_sample(known.latent, &known_noise, t),
            None => Ok(known.latent.to_vec()),
        };
        known.paste(&noised_known(timesteps.first().copied())?, &mut run.x);
        let total = timesteps.len();
        let mut tick = |done: usize| match progress(done, total) {
            ControlFlow::Continue(()) => Ok(()),
            ControlFlow::Break(()) => Err(DdimError::Cancelled),
        };
        tick(0)?;
        for (i, &t) in timesteps.iter().enumerate() {
            let temb = timestep_embedding(t as f32, self.embedding_dim());
            let eps = predict_checked(denoiser, &run.x, &temb, 1, t)?;
            run.step(&ddim, t, &eps, params.eta)?;
            known.paste(&noised_known(ddim.previous(t))?, &mut run.x);
            tick(i + 1)?;
        }
        Ok(run.x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ddim::NoiseSchedule;
    use crate::manifest::ScheduleConfig;

    fn sampler() -> Sampler {
        let schedule = NoiseSchedule::from_config(&ScheduleConfig::default()).unwrap();
        Sampler::new(schedule, 8)
    }

    /// A denoiser that predicts the noise of a sample whose clean value is 0.5 everywhere.
    fn toward_half(x: &[f32], _temb: &[f32], _batch: usize) -> Result<Vec<f32>, DdimError> {
        Ok(x.iter().map(|v| v - 0.5).collect())
    }

    #[test]
    fn known_columns_come_back_exactly_and_the_rest_is_denoised() {
        let s = sampler();
        let (width, rows) = (8, 3);
        let known: Vec<f32> = (0..width * rows).map(|i| i as f32 / 10.0).collect();
        let k = Known {
            latent: &known,
            columns: 2,
            width,
        };
        let params = DdimParams {
            steps: 20,
            eta: 0.0,
        };
        let mut denoiser = toward_half;
        let mut calls = 0;
        let mut progress = |_, _| {
            calls += 1;
            ControlFlow::Continue(())
        };
        let out = s
            .outpaint(None, k, 7, &params, &mut denoiser, &mut progress)
            .unwrap();
        assert_eq!(calls, 21);
        for (row, known_row) in out.chunks(width).zip(known.chunks(width)) {
            assert_eq!(&row[..2], &known_row[..2]);
            assert!(row[2..].iter().all(|v| v.is_finite()));
        }
        // Same seed, same window; another seed, another window.
        let again = s
            .outpaint(None, k, 7, &params, &mut denoiser, &mut |_, _| {
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(out, again);
        let other = s
            .outpaint(None, k, 8, &params, &mut denoiser, &mut |_, _| {
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_ne!(out, other);
    }

    #[test]
    fn bad_masks_and_inputs_are_refused() {
        let s = sampler();
        let params = DdimParams {
            steps: 10,
            eta: 0.0,
        };
        let latent = vec![0.0f32; 16];
        let mut denoiser = toward_half;
        let mut go = |_, _| ControlFlow::Continue(());
        for (columns, width) in [(4, 4), (1, 0), (1, 3)] {
            let k = Known {
                latent: &latent,
                columns,
                width,
            };
            assert!(s
                .outpaint(None, k, 1, &params, &mut denoiser, &mut go)
                .is_err());
        }
        let nan = vec![f32::NAN; 16];
        let k = Known {
            latent: &nan,
            columns: 1,
            width: 4,
        };
        assert!(s
            .outpaint(None, k, 1, &params, &mut denoiser, &mut go)
            .is_err());
        let k = Known {
            latent: &latent,
            columns: 1,
            width: 4,
        };
        let short = vec![0.0f32; 8];
        assert!(s
            .outpaint(Some((&short, 0.5)), k, 1, &params, &mut denoiser, &mut go)
            .is_err());
        let mut stop = |done, _| {
            if done > 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        };
        assert!(matches!(
            s.outpaint(None, k, 1, &params, &mut denoiser, &mut stop),
            Err(DdimError::Cancelled)
        ));
    }
}
