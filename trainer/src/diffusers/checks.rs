//! What the burn rebuild implements, checked before anything is built: each config field that
//! changes the maths and is not implemented is refused by name, so an import fails with a
//! sentence instead of producing a network that silently computes something else.
use super::config::{SchedulerConfig, UnetConfig, VaeConfig, SUPPORTED_BLOCKS};
use super::DiffusersError;
use std::path::Path;

fn refuse(path: &Path, problem: String) -> DiffusersError {
    DiffusersError::Config {
        path: path.to_path_buf(),
        problem,
    }
}

fn check_block(
    path: &Path,
    field: &str,
    kind: &str,
    allowed: &[&str],
) -> Result<(), DiffusersError> {
    if allowed.contains(&kind) {
        return Ok(());
    }
    let problem = if SUPPORTED_BLOCKS.contains(&kind) {
        format!(
            "{field}: {kind} is not valid here (expected one of {})",
            allowed.join(", ")
        )
    } else {
        format!(
            "{field}: block type {kind} is not supported (this importer builds {})",
            SUPPORTED_BLOCKS.join(", ")
        )
    };
    Err(refuse(path, problem))
}

fn check_widths(path: &Path, widths: &[usize], groups: usize) -> Result<(), DiffusersError> {
    if widths.is_empty() {
        return Err(refuse(path, "block_out_channels is empty".into()));
    }
    if groups == 0 || widths.iter().any(|w| *w == 0 || w % groups != 0) {
        return Err(refuse(
            path,
            format!("block_out_channels {widths:?} are not multiples of norm_num_groups {groups}"),
        ));
    }
    Ok(())
}

/// The widths, and one down and one up block type per width.
fn check_levels(
    path: &Path,
    (widths, groups): (&[usize], usize),
    down: &[String],
    up: &[String],
) -> Result<(), DiffusersError> {
    check_widths(path, widths, groups)?;
    let levels = widths.len();
    if down.len() != levels || up.len() != levels {
        return Err(refuse(
            path,
            format!(
                "{levels} block_out_channels but {} down and {} up block types",
                down.len(),
                up.len()
            ),
        ));
    }
    Ok(())
}

impl UnetConfig {
    /// Refuses configurations the burn UNet does not implement, naming the field.
    pub fn check(&self, path: &Path) -> Result<(), DiffusersError> {
        check_levels(
            path,
            (&self.block_out_channels, self.norm_num_groups),
            &self.down_block_types,
            &self.up_block_types,
        )?;
        for kind in &self.down_block_types {
            check_block(
                path,
                "down_block_types",
                kind,
                &["DownBlock2D", "AttnDownBlock2D"],
            )?;
        }
        for kind in &self.up_block_types {
            check_block(
                path,
                "up_block_types",
                kind,
                &["UpBlock2D", "AttnUpBlock2D"],
            )?;
        }
        match self.mid_block_type.as_deref() {
            Some(kind) => check_block(path, "mid_block_type", kind, &["UNetMidBlock2D"])?,
            None => {
                return Err(refuse(
                    path,
                    "mid_block_type: a UNet without a middle block is not supported".into(),
                ))
            }
        }
        let attention = self
            .down_block_types
            .iter()
            .chain(&self.up_block_types)
            .any(|k| k.starts_with("Attn"))
            || self.add_attention;
        if attention {
            let Some(dim) = self.attention_head_dim.filter(|d| *d > 0) else {
                return Err(refuse(
                    path,
                    "attention_head_dim: missing, but the UNet has attention".into(),
                ));
            };
            if let Some(w) = self.block_out_channels.iter().find(|w| *w % dim != 0) {
                return Err(refuse(
                    path,
                    format!("attention_head_dim {dim} does not divide the width {w}"),
                ));
            }
        }
        let unsupported = [
            (
                self.act_fn != "silu",
                format!("act_fn: {} (only silu)", self.act_fn),
            ),
            (
                self.freq_shift != 0.0,
                format!(
                    "freq_shift: {} (only 0 matches the engine's timestep embedding)",
                    self.freq_shift
                ),
            ),
            (
                self.time_embedding_type != "positional",
                format!(
                    "time_embedding_type: {} (only positional)",
                    self.time_embedding_type
                ),
            ),
            (
                self.center_input_sample,
                "center_input_sample: true is not supported".to_string(),
            ),
            (
                self.resnet_time_scale_shift != "default",
                format!(
                    "resnet_time_scale_shift: {} (only default)",
                    self.resnet_time_scale_shift
                ),
            ),
            (
                self.class_embed_type.is_some() || self.num_class_embeds.is_some(),
                "class conditioning (class_embed_type / num_class_embeds) is not supported"
                    .to_string(),
            ),
            (
                self.time_embedding_dim
                    .is_some_and(|d| d != 4 * self.block_out_channels[0]),
                "time_embedding_dim other than 4 × the first width is not supported".to_string(),
            ),
            (
                self.downsample_padding != 1,
                format!("downsample_padding: {} (only 1)", self.downsample_padding),
            ),
        ];
        match unsupported.into_iter().find(|(bad, _)| *bad) {
            Some((_, problem)) => Err(refuse(path, problem)),
            None => Ok(()),
        }
    }
}

impl VaeConfig {
    /// Refuses configurations the burn autoencoder does not implement, naming the field.
    pub fn check(&self, path: &Path) -> Result<(), DiffusersError> {
        check_levels(
            path,
            (&self.block_out_channels, self.norm_num_groups),
            &self.down_block_types,
            &self.up_block_types,
        )?;
        for kind in &self.down_block_types {
            check_block(path, "down_block_types", kind, &["DownEncoderBlock2D"])?;
        }
        for kind in &self.up_block_types {
            check_block(path, "up_block_types", kind, &["UpDecoderBlock2D"])?;
        }
        if self.act_fn != "silu" {
            return Err(refuse(path, format!("act_fn: {} (only silu)", self.act_fn)));
        }
        if self.shift_factor.is_some_and(|s| s != 0.0) {
            return Err(refuse(
                path,
                "shift_factor: a shifted latent space is not supported".into(),
            ));
        }
        if !(self.scaling_factor.is_finite() && self.scaling_factor > 0.0) {
            return Err(refuse(
                path,
                format!(
                    "scaling_factor: {} is not a positive number",
                    self.scaling_factor
                ),
            ));
        }
        Ok(())
    }
}

impl SchedulerConfig {
    /// Refuses schedules the engine's DDIM sampler does not implement, naming the field.
    pub fn check(&self, path: &Path) -> Result<(), DiffusersError> {
        if !["DDPMScheduler", "DDIMScheduler"].contains(&self.class_name.as_str()) {
            return Err(refuse(
                path,
                format!(
                    "_class_name: {} (DDPMScheduler or DDIMScheduler)",
                    self.class_name
                ),
            ));
        }
        if self.prediction_type != "epsilon" {
            return Err(refuse(
                path,
                format!("prediction_type: {} (only epsilon)", self.prediction_type),
            ));
        }
        if !["linear", "scaled_linear"].contains(&self.beta_schedule.as_str()) {
            return Err(refuse(
                path,
                format!(
                    "beta_schedule: {} (linear or scaled_linear)",
                    self.beta_schedule
                ),
            ));
        }
        if self.trained_betas.as_ref().is_some_and(|v| !v.is_null()) {
            return Err(refuse(
                path,
                "trained_betas: explicit betas are not supported".into(),
            ));
        }
        Ok(())
    }
}
