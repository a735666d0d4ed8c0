//! `cargo xtask ort`: provisions ONNX Runtime (owned by the ort-provisioning work; placeholder).
use anyhow::{bail, Result};

/// Entry point for `cargo xtask ort [--gpu]`.
pub fn run(_args: &[String]) -> Result<()> {
    bail!("not implemented yet")
}
