//! Loading a diffusers component's weights (`diffusion_pytorch_model.safetensors`, or the
//! PyTorch pickle `diffusion_pytorch_model.bin` the teticio repos ship) into the burn networks,
//! with burn-store: PyTorch's `[out, in]` linear weights are transposed and GroupNorm's
//! `weight`/`bias` become `gamma`/`beta` by its PyTorch adapter; names are mapped here.
//!
//! Every parameter must be found and every tensor of the component must be used: a partial
//! load would run with zero weights and sound like noise, so it is an error naming the tensors.
use super::DiffusersError;
use burn::module::Module;
use burn_store::{
    ApplyResult, ModuleSnapshot, PyTorchToBurnAdapter, PytorchStore, SafetensorsStore,
};
use std::path::{Path, PathBuf};

/// The weight file names diffusers writes, preferred first.
pub const WEIGHT_FILES: [&str; 2] = [
    "diffusion_pytorch_model.safetensors",
    "diffusion_pytorch_model.bin",
];

/// diffusers renames → ours: `to_out` is a `ModuleList` of (Linear, Dropout), and checkpoints
/// saved before diffusers 0.14 (the teticio models) use the old attention names, which
/// diffusers itself renames on load.
const RENAMES: [(&str, &str); 5] = [
    (r"\.to_out\.0\.", ".to_out."),
    (r"\.query\.", ".to_q."),
    (r"\.key\.", ".to_k."),
    (r"\.value\.", ".to_v."),
    (r"\.proj_attn\.", ".to_out."),
];

/// The weight file of a component directory (`unet/`, `vqvae/`).
pub fn weight_file(component: &Path) -> Result<PathBuf, DiffusersError> {
    WEIGHT_FILES
        .iter()
        .map(|name| component.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| DiffusersError::MissingWeights {
            dir: component.to_path_buf(),
        })
}

/// Loads `file` into `module`, taking only the tensors whose (renamed) key starts with one of
/// `prefixes` (all when empty).
pub fn load<M: Module + ModuleSnapshot>(
    module: &mut M,
    file: &Path,
    prefixes: &[&str],
) -> Result<(), DiffusersError> {
    let fail = |message: String| DiffusersError::Weights {
        file: file.to_path_buf(),
        message,
    };
    let wanted = |key: &str| prefixes.is_empty() || prefixes.iter().any(|p| key.starts_with(p));
    let is_bin = file.extension().is_some_and(|e| e == "bin");
    let result: ApplyResult = if is_bin {
        let mut store = RENAMES
            .iter()
            .fold(PytorchStore::from_file(file), |s, (from, to)| {
                s.with_key_remapping(*from, *to)
            })
            .allow_partial(true)
            .validate(false);
        module
            .load_from(&mut store)
            .map_err(|e| fail(e.to_string()))?
    } else {
        let mut store = RENAMES
            .iter()
            .fold(SafetensorsStore::from_file(file), |s, (from, to)| {
                s.with_key_remapping(*from, *to)
            })
            .with_from_adapter(PyTorchToBurnAdapter)
            .allow_partial(true)
            .validate(false);
        module
            .load_from(&mut store)
            .map_err(|e| fail(e.to_string()))?
    };
    if !result.errors.is_empty() {
        let errors: Vec<String> = result.errors.iter().map(|e| e.to_string()).collect();
        let errors: Vec<&str> = errors.iter().map(String::as_str).collect();
        return Err(fail(format!(
            "{} tensors do not fit the network the config describes (is the config right for these weights?): {}",
            errors.len(),
            preview(&errors)
        )));
    }
    if !result.missing.is_empty() {
        let missing: Vec<&str> = result.missing.iter().map(|(p, _)| p.as_str()).collect();
        return Err(fail(format!(
            "{} parameters not in the file (is the config right for these weights?): {}",
            missing.len(),
            preview(&missing)
        )));
    }
    let unused: Vec<&str> = result
        .unused
        .iter()
        .map(String::as_str)
        .filter(|k| wanted(k))
        .collect();
    if !unused.is_empty() {
        return Err(fail(format!(
            "{} tensors of the file match no parameter (a block this importer does not build?): {}",
            unused.len(),
            preview(&unused)
        )));
    }
    tracing::debug!(file = %file.display(), applied = result.applied.len(), "weights loaded");
    Ok(())
}

/// The first few names and a count, so an error stays readable.
fn preview(names: &[&str]) -> String {
    let shown: Vec<&str> = names.iter().take(6).copied().collect();
    let more = names.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} … and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}
