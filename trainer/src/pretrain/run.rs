//! The loop both stages share: warm-up, progress bar, loss log, held-out loss, checkpoints.
use super::state::{append_loss, commit, LossRecord, TrainState};
use super::{PretrainError, PretrainOptions, PretrainReport};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::Path;
use std::time::Instant;

/// Training lines are logged every this many steps (held-out ones at the eval cadence).
const LOG_EVERY: usize = 10;

/// One stage's model, optimizer and data, driven by [`run_loop`].
pub(crate) trait StageRun {
    /// Trains on step `step`'s batch at learning rate `lr`; returns the batch loss.
    fn train_step(&mut self, step: usize, lr: f64) -> Result<f32, PretrainError>;
    /// The loss on the fixed held-out subset (deterministic: no training randomness).
    fn heldout(&mut self, state: &mut TrainState) -> Result<f32, PretrainError>;
    /// Writes the stage's records (model, optimizer, EMA) into a checkpoint directory.
    fn save(&self, dir: &Path) -> Result<(), PretrainError>;
}

/// Runs `stage` from `state.step` to `options.steps`, checkpointing into `options.out`.
pub(crate) fn run_loop(
    stage: &mut impl StageRun,
    state: &mut TrainState,
    options: &PretrainOptions,
) -> Result<PretrainReport, PretrainError> {
    let out = &options.out;
    let start = state.step;
    let bar = progress_bar(options, start);
    let began = Instant::now();
    let (mut sum, mut count, mut since) = (0.0f64, 0usize, Instant::now());
    for step in start..options.steps {
        let warm = ((step + 1) as f64 / state.warmup.max(1) as f64).min(1.0);
        let loss = stage.train_step(step, state.lr * warm)?;
        if !loss.is_finite() {
            // Stop before a checkpoint can save diverged weights; the last one stays usable.
            return Err(PretrainError::Invalid(format!(
                "loss became {loss} at step {step}: lower --lr and --resume"
            )));
        }
        state.step = step + 1;
        sum += f64::from(loss);
        count += 1;
        let done = state.step;
        let last = done == options.steps;
        let heldout = if done.is_multiple_of(options.eval_every) || last {
            Some(stage.heldout(state)?)
        } else {
            None
        };
        if done.is_multiple_of(LOG_EVERY) || heldout.is_some() {
            let record = LossRecord {
                step: done,
                loss: (sum / count as f64) as f32,
                heldout,
                ms_per_step: since.elapsed().as_secs_f64() * 1e3 / count as f64,
            };
            append_loss(out, &record)?;
            state.train_loss = Some(record.loss);
            if let Some(h) = heldout {
                state.heldout_loss = Some(h);
                tracing::info!(
                    "step {done}: train {:.5}, held-out {h:.5}, {:.0} ms/step",
                    record.loss,
                    record.ms_per_step
                );
            }
            bar.set_message(format!(
                "loss {:.4}  held-out {}",
                record.loss,
                state
                    .heldout_loss
                    .map_or_else(|| "-".to_string(), |h| format!("{h:.4}"))
            ));
            (sum, count, since) = (0.0, 0, Instant::now());
        }
        if done.is_multiple_of(options.checkpoint_every) || last {
            commit(out, |dir| {
                stage.save(dir)?;
                state.save(dir)
            })?;
        }
        bar.inc(1);
    }
    bar.finish();
    let ran = options.steps.saturating_sub(start);
    Ok(PretrainReport {
        step: state.step,
        train_loss: state.train_loss,
        heldout_loss: state.heldout_loss,
        ms_per_step: (ran > 0).then(|| began.elapsed().as_secs_f64() * 1e3 / ran as f64),
    })
}

fn progress_bar(options: &PretrainOptions, start: usize) -> ProgressBar {
    if !options.progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(options.steps as u64);
    bar.set_position(start as u64);
    if let Ok(style) = ProgressStyle::with_template(
        "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta}) {msg}",
    ) {
        bar.set_style(style);
    }
    bar.set_prefix(format!("{:?}", options.stage).to_lowercase());
    bar
}
