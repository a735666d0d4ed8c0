//! Refrain's trainer. Models, pretraining and fine-tuning land with the models and learning-loop
//! issues; the crate exists now so the workspace and its CLI entry point are real.

/// What the trainer can do in this build, printed by `refrain-trainer status`.
pub fn capabilities() -> &'static [&'static str] {
    &["status"]
}
