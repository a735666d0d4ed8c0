//! Export of the three networks to the ONNX files of a model version (docs/ARCHITECTURE.md §4.1), through
//! burn-onnx 0.22's tracing exporter.
//!
//! What the exporter needed (see also PITFALLS.md): the models use only lowerable operations
//! (`model::layers`); the *validation* module (`Module::valid`) is exported, since exporting
//! an autodiff module panics; graph inputs/outputs come out as `tensor_<id>` and are renamed
//! to the contract names here ([`crate::onnx::rename_io`]). A dynamic batch axis is tried
//! first ([`OnnxExporter::export_dynamic`] with batch 1 and 2); when the exporter refuses
//! (`DynamicShapeLost`), the network is exported with a fixed batch, which [`Exported::batch`]
//! reports for the manifest's `batch_sizes`. Today the encoder and decoder export with a
//! dynamic batch (their GroupNorms avoid batch reshapes) and the UNet with a fixed one: its
//! two batch inputs make every reshape's batch dimension ambiguous to the exporter.
use super::{rename_io, NameMap, OnnxError};
use crate::model::{Decoder, Encoder, Unet};
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use burn_onnx::export::{AxisSpec, ExportError, InputSpec, OnnxExporter};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The files every exported version holds besides `manifest.json` (all hashed into `files`): the
/// three graphs and their weight-name maps.
pub const VERSION_FILES: [&str; 6] = [
    "encoder.onnx",
    "decoder.onnx",
    "unet.onnx",
    "encoder.names.json",
    "decoder.names.json",
    "unet.names.json",
];

/// Contract names of the encoder's input and output.
pub const ENCODER_IO: (&[&str], &[&str]) = (&["mel"], &["latent"]);
/// Contract names of the decoder's input and output.
pub const DECODER_IO: (&[&str], &[&str]) = (&["latent"], &["mel"]);
/// Contract names of the UNet's inputs and output.
pub const UNET_IO: (&[&str], &[&str]) = (&["sample", "temb"], &["noise"]);

/// What went wrong exporting.
#[derive(Debug, thiserror::Error)]
pub enum ExportFailure {
    /// burn-onnx could not capture or lower the network.
    #[error("burn-onnx could not export {network}: {source}")]
    Exporter {
        /// `encoder`, `decoder` or `unet`.
        network: &'static str,
        /// The exporter's error.
        source: ExportError,
    },
    /// Renaming or mapping the exported graph failed.
    #[error("{network}: {source}")]
    Onnx {
        /// `encoder`, `decoder` or `unet`.
        network: &'static str,
        /// What failed.
        source: OnnxError,
    },
    /// Writing a file failed.
    #[error("could not write `{}`: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The batch axis of an exported graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Batch {
    /// Symbolic: any batch size runs.
    Dynamic,
    /// Baked into the graph: only this batch size runs.
    Fixed(usize),
}

impl Batch {
    /// The manifest's `batch_sizes` for a UNet exported with this axis (`None` = dynamic).
    pub fn sizes(self) -> Option<Vec<usize>> {
        match self {
            Batch::Dynamic => None,
            Batch::Fixed(b) => Some(vec![b]),
        }
    }
}

/// One exported network: the renamed graph and its parameter → initializer map.
#[derive(Debug, Clone)]
pub struct Exported {
    /// Serialised ONNX model with contract I/O names.
    pub onnx: Vec<u8>,
    /// Burn parameter path → initializer name, for patching and loading weights later.
    pub names: NameMap,
    /// Whether the batch axis is dynamic, or the fixed size exported.
    pub batch: Batch,
    /// Why the dynamic-batch export was refused, when it was (for logs and reports).
    pub dynamic_refused: Option<String>,
}

impl Exported {
    /// Writes `<dir>/<stem>.onnx` and `<dir>/<stem>.names.json`.
    pub fn save(&self, dir: &Path, stem: &str) -> Result<(), ExportFailure> {
        let write = |path: PathBuf, bytes: &[u8]| {
            std::fs::write(&path, bytes).map_err(|source| ExportFailure::Io { path, source })
        };
        write(dir.join(format!("{stem}.onnx")), &self.onnx)?;
        let json = serde_json::to_vec_pretty(&self.names).map_err(|e| ExportFailure::Io {
            path: dir.join(format!("{stem}.names.json")),
            source: std::io::Error::other(e),
        })?;
        write(dir.join(format!("{stem}.names.json")), &json)
    }
}

/// Exports the encoder: `mel` [B, 1, n_mels, frames] → `latent`.
pub fn export_encoder(
    encoder: &Encoder,
    mel: [usize; 3],
    fixed_batch: usize,
) -> Result<Exported, ExportFailure> {
    let encoder = encoder.valid();
    let device = Device::default();
    let input = |b: usize| Tensor::<4>::zeros([b, mel[0], mel[1], mel[2]], &device);
    export_one(
        "encoder",
        &encoder,
        ENCODER_IO,
        fixed_batch,
        input,
        |m: &Encoder, x| m.forward(x),
    )
}

/// Exports the decoder: `latent` [B, C, H, W] → `mel`.
pub fn export_decoder(
    decoder: &Decoder,
    latent: [usize; 3],
    fixed_batch: usize,
) -> Result<Exported, ExportFailure> {
    let decoder = decoder.valid();
    let device = Device::default();
    let input = |b: usize| Tensor::<4>::zeros([b, latent[0], latent[1], latent[2]], &device);
    export_one(
        "decoder",
        &decoder,
        DECODER_IO,
        fixed_batch,
        input,
        |m: &Decoder, x| m.forward(x),
    )
}

/// Exports the UNet: (`sample` [B, C, H, W], `temb` [B, embedding_dim]) → `noise`.
pub fn export_unet(
    unet: &Unet,
    latent: [usize; 3],
    embedding_dim: usize,
    fixed_batch: usize,
) -> Result<Exported, ExportFailure> {
    let unet = unet.valid();
    let device = Device::default();
    let input = |b: usize| {
        (
            Tensor::<4>::zeros([b, latent[0], latent[1], latent[2]], &device),
            Tensor::<2>::zeros([b, embedding_dim], &device),
        )
    };
    export_one(
        "unet",
        &unet,
        UNET_IO,
        fixed_batch,
        input,
        |m: &Unet, (x, t)| m.forward(x, t),
    )
}

/// Batch axis spec for a rank-`rank` input: dynamic axis 0, the rest static.
fn batch_spec(rank: usize) -> InputSpec {
    let mut axes = vec![AxisSpec::dynamic("batch")];
    axes.resize(rank, AxisSpec::Static);
    InputSpec::new(axes)
}

pub(crate) fn export_one<M, I, O, F>(
    network: &'static str,
    module: &M,
    io: (&[&str], &[&str]),
    fixed_batch: usize,
    input: impl Fn(usize) -> I,
    forward: F,
) -> Result<Exported, ExportFailure>
where
    M: Module,
    I: burn_onnx::export::ExportInput,
    O: burn_onnx::export::ExportOutput,
    F: Fn(&M, I) -> O,
{
    let ranks = input_ranks(io.0.len());
    export_ranked(network, module, io, &ranks, fixed_batch, input, forward)
}

/// [`export_one`] with the inputs' ranks given (every input has a batch axis 0).
pub(crate) fn export_ranked<M, I, O, F>(
    network: &'static str,
    module: &M,
    io: (&[&str], &[&str]),
    ranks: &[usize],
    fixed_batch: usize,
    input: impl Fn(usize) -> I,
    forward: F,
) -> Result<Exported, ExportFailure>
where
    M: Module,
    I: burn_onnx::export::ExportInput,
    O: burn_onnx::export::ExportOutput,
    F: Fn(&M, I) -> O,
{
    let exporter = OnnxExporter::new();
    let specs: Vec<InputSpec> = ranks.iter().map(|&r| batch_spec(r)).collect();
    let (model, batch, dynamic_refused) =
        match exporter.export_dynamic(module, input(1), input(2), &specs, &forward) {
            Ok(model) => (model, Batch::Dynamic, None),
            Err(refused) => {
                let model = exporter
                    .export(module, input(fixed_batch), &forward)
                    .map_err(|source| ExportFailure::Exporter { network, source })?;
                (model, Batch::Fixed(fixed_batch), Some(refused.to_string()))
            }
        };
    let onnx = rename_io(model.as_bytes(), io.0, io.1)
        .map_err(|source| ExportFailure::Onnx { network, source })?;
    let names =
        NameMap::build(&onnx, module).map_err(|source| ExportFailure::Onnx { network, source })?;
    Ok(Exported {
        onnx,
        names,
        batch,
        dynamic_refused,
    })
}

/// Ranks of the inputs, in order: one input is a 4-D map; two are the UNet's map + `temb`.
fn input_ranks(inputs: usize) -> Vec<usize> {
    match inputs {
        1 => vec![4],
        _ => vec![4, 2],
    }
}
