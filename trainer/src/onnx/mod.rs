//! ONNX on the trainer's side: exporting burn networks to graphs in the model contract
//! ([`export`]), and reading parameters out of and patching them into exported graphs
//! ([`weights`]), which is how a fine-tune reuses its parent's graph without the exporter.
pub mod export;
mod weights;

pub use export::ExportFailure;
pub use weights::{
    load_from_onnx, parse, patch_onnx_initializers, rename_io, to_bytes, NameMap, OnnxError,
};
