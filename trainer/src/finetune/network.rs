//! Which network a version's UNet is, rebuilt in burn with the weights read back from its
//! `unet.onnx` through `unet.names.json`: the base family's UNet (sizes in the manifest's
//! `training.unet.config`) or an imported diffusers UNet2DModel (its `config.json` kept in
//! `training.import.unet_config`; fine-tunes of either keep the parent's `training`).
use super::FinetuneError;
use crate::diffusers::{self, DiffusersUnet};
use crate::model::{Unet, UnetConfig};
use crate::onnx::{load_from_onnx, NameMap};
use burn::tensor::Device;
use refrain_engine::manifest::Manifest;
use std::path::Path;

/// A parent version's UNet, of either family (boxed: the module structs are large and this is
/// moved around once per fine-tune).
pub enum ParentUnet {
    /// Refrain's own UNet.
    Base(Box<Unet>),
    /// An imported diffusers UNet2DModel.
    Diffusers(Box<DiffusersUnet>),
}

/// Loads the UNet of the version in `dir`, with the name map and the graph's bytes.
pub fn load_network(
    dir: &Path,
    manifest: &Manifest,
    device: &Device,
) -> Result<(ParentUnet, NameMap, Vec<u8>), FinetuneError> {
    let imported = manifest
        .training
        .as_ref()
        .and_then(|t| t.get("import"))
        .and_then(|i| i.get("unet_config"))
        .cloned();
    let Some(config) = imported else {
        let (unet, names, onnx) = load_unet(dir, manifest, device)?;
        return Ok((ParentUnet::Base(Box::new(unet)), names, onnx));
    };
    let config: diffusers::UnetConfig = serde_json::from_value(config).map_err(|e| {
        FinetuneError::Model(format!(
            "{}: training.import.unet_config: {e}",
            dir.display()
        ))
    })?;
    config
        .check(&dir.join("manifest.json"))
        .map_err(FinetuneError::model)?;
    let (names, onnx) = read_graph(dir)?;
    // The exported graph has a fixed batch, so it was built with the reshape GroupNorm.
    let unet = DiffusersUnet::new(&config, true, device);
    let unet = load_from_onnx(&onnx, unet, &names).map_err(FinetuneError::model)?;
    Ok((ParentUnet::Diffusers(Box::new(unet)), names, onnx))
}

/// Loads a version's UNet into burn (sizes from its manifest's `training.unet.config`, weights
/// from `unet.onnx` through `unet.names.json`), with the name map and the graph's bytes.
pub fn load_unet(
    dir: &Path,
    manifest: &Manifest,
    device: &Device,
) -> Result<(Unet, NameMap, Vec<u8>), FinetuneError> {
    let config: UnetConfig = manifest
        .training
        .as_ref()
        .and_then(|t| t.get("unet"))
        .and_then(|u| u.get("config"))
        .cloned()
        .ok_or_else(|| {
            FinetuneError::Model(format!(
                "{}: manifest.json has no training.unet.config; only versions exported by refrain-trainer can be fine-tuned",
                dir.display()
            ))
        })
        .and_then(|v| serde_json::from_value(v).map_err(FinetuneError::model))?;
    let (names, onnx) = read_graph(dir)?;
    let unet = config.init(device).map_err(FinetuneError::model)?;
    let unet = load_from_onnx(&onnx, unet, &names).map_err(FinetuneError::model)?;
    Ok((unet, names, onnx))
}

/// `unet.names.json` and `unet.onnx` of a version.
fn read_graph(dir: &Path) -> Result<(NameMap, Vec<u8>), FinetuneError> {
    let names_path = dir.join("unet.names.json");
    let names_text =
        std::fs::read_to_string(&names_path).map_err(FinetuneError::io(&names_path))?;
    let names: NameMap = serde_json::from_str(&names_text)
        .map_err(|e| FinetuneError::Model(format!("{}: {e}", names_path.display())))?;
    let onnx_path = dir.join("unet.onnx");
    let onnx = std::fs::read(&onnx_path).map_err(FinetuneError::io(&onnx_path))?;
    Ok((names, onnx))
}
