//! Refrain's trainer: the burn networks ([`model`]), their ONNX export ([`export`]) and the
//! weight bridge between burn modules and exported graphs ([`onnx`]). Pretraining, selection
//! and fine-tuning land with the learning-loop issues.
pub mod corpus;
pub mod diffusion;
pub mod export;
pub mod finetune;
pub mod model;
pub mod onnx;
pub mod pretrain;
pub mod report;
pub mod select;
pub mod simulate;
pub mod versions;

/// What the trainer can do in this build, printed by `refrain-trainer status`.
pub fn capabilities() -> &'static [&'static str] {
    &[
        "status",
        "corpus",
        "pretrain",
        "export",
        "evaluate",
        "roundtrip",
        "report",
        "versions",
        "rollback",
        "ingest",
        "export-session",
    ]
}
