//! Where the version and session commands look: the data dir and the shipped base, from flags,
//! then the engine's model locator (docs/ARCHITECTURE.md §4.2), as the CLI and the plugin do.
use anyhow::{Context, Result};
use refrain_engine::locator;
use std::path::{Path, PathBuf};

/// The data dir flag shared by the version and session commands.
#[derive(clap::Args, Debug, Clone)]
pub struct DataDirArg {
    /// The data dir (feedback.sqlite, clips/, models/); default `$REFRAIN_HOME`, else
    /// `$XDG_DATA_HOME/refrain`, else `~/.local/share/refrain`.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

impl DataDirArg {
    /// The data dir to use, with where it came from (for `status`).
    pub fn resolve(&self) -> Result<(PathBuf, &'static str)> {
        if let Some(dir) = &self.data_dir {
            return Ok((dir.clone(), "--data-dir"));
        }
        let from_home = std::env::var_os("REFRAIN_HOME").is_some_and(|v| !v.is_empty());
        let dir = locator::data_dir().context("finding the data dir")?;
        Ok((dir, if from_home { "REFRAIN_HOME" } else { "default" }))
    }
}

/// The data dir and shipped base flags of `status`, `versions` and `rollback`.
#[derive(clap::Args, Debug, Clone)]
pub struct Location {
    /// The data dir.
    #[command(flatten)]
    pub data: DataDirArg,
    /// The shipped base model version directory (version 0); default `$REFRAIN_BASE_MODEL`,
    /// else `<data dir>/models/base` (the plugin's place), else `models/base` beside or above
    /// this binary, else `models/base` under the working directory.
    #[arg(long, value_name = "DIR")]
    pub model_base: Option<PathBuf>,
}

impl Location {
    /// The shipped base for a data dir (`None` when there is no data dir at all): the flag, else
    /// the engine's locator rule.
    pub fn shipped_base(&self, data_dir: Option<&Path>) -> PathBuf {
        match &self.model_base {
            Some(dir) => dir.clone(),
            None => locator::shipped_base(data_dir),
        }
    }

    /// The data dir and the shipped base, for commands that cannot work without a data dir.
    pub fn resolve(&self) -> Result<(PathBuf, PathBuf)> {
        let (data, _) = self.data.resolve()?;
        let base = self.shipped_base(Some(&data));
        tracing::debug!(data = %data.display(), base = %base.display(), "model locations");
        Ok((data, base))
    }
}
