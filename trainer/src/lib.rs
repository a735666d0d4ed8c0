//! Refrain's trainer: the burn networks ([`model`]), pretraining on a corpus ([`pretrain`]), the
//! selection rules on producers' ratings ([`select`]), fine-tuning on the selected pool
//! ([`finetune`]), ONNX export and the weight bridge ([`onnx`]), model versions ([`versions`]),
//! evaluation of any version ([`evaluate`]) and simulated producers ([`simulate`]). What
//! pretraining and fine-tuning share lives in [`training`].
pub mod corpus;
pub mod diffusers;
pub mod evaluate;
pub mod finetune;
pub mod import;
pub mod model;
pub mod onnx;
pub mod pretrain;
pub mod report;
pub mod select;
pub mod simulate;
pub mod synth;
pub mod training;
pub mod versions;
pub mod vocoder;

/// What the trainer can do in this build, printed by `refrain-trainer status`.
pub fn capabilities() -> &'static [&'static str] {
    &[
        "status",
        "corpus",
        "pretrain",
        "export",
        "import",
        "evaluate",
        "roundtrip",
        "train",
        "watch",
        "simulate",
        "report",
        "versions",
        "rollback",
        "ingest",
        "export-session",
    ]
}
