//! Choosing the model version: the installed versions listed for the editor (size, license,
//! provider, measured time per variation), the project's choice applied — including one the host
//! restores after start-up — and loaded on the worker thread, never on the host's.
use std::path::PathBuf;

use refrain_engine::catalog::{self, InstalledVersion};
use refrain_engine::pipeline::{Clip, Timings};

use super::State;
use crate::ui_state::VersionView;

/// What the worker reported loaded.
#[derive(Debug, Clone)]
pub(super) struct LoadedVersion {
    pub dir: PathBuf,
    pub provider: String,
}

/// Clips and DDIM steps of one job, for its time per variation.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct JobCount {
    clips: usize,
    unet_steps: usize,
}

impl State {
    /// The installed versions (the shipped base only without a data dir).
    fn installed(&self) -> Vec<InstalledVersion> {
        let data = self.data_dir.clone().unwrap_or_default();
        catalog::installed_versions(&data, &self.shipped_base)
    }

    /// Lists the installed versions into the editor's state.
    pub(super) fn refresh_versions(&mut self) {
        let list = self.installed();
        self.show_versions(&list);
    }

    fn show_versions(&mut self, list: &[InstalledVersion]) {
        let views = list.iter().map(|v| self.view(v)).collect();
        self.ui().versions = views;
    }

    fn view(&self, v: &InstalledVersion) -> VersionView {
        let mb = v.bytes as f64 / 1e6;
        let mut parts = vec![match mb {
            mb if mb < 1.0 => format!("{:.0} kB", mb * 1e3),
            mb if mb < 10.0 => format!("{mb:.1} MB"),
            mb => format!("{mb:.0} MB"),
        }];
        parts.push(match &v.license {
            Some(l) => format!("license {l}"),
            None => "license unknown (see its model card)".into(),
        });
        let loaded = self.loaded.as_ref().filter(|l| l.dir == v.dir);
        if let Some(l) = loaded {
            parts.push(format!("loaded on {}", l.provider));
        }
        parts.push(
            match self
                .timings
                .as_ref()
                .and_then(|t| t.get(&v.dir, &v.created))
            {
                Some(m) => m.describe(),
                None => "time measured at first use".into(),
            },
        );
        VersionView {
            key: v.key.clone(),
            label: v.label(),
            detail: parts.join(" · "),
            is_current: v.is_current,
            problem: v.problem.clone(),
        }
    }

    /// Applies the project's choice when it differs from what was applied (at start-up, after
    /// the editor chose, or after the host restored a project's state).
    pub(super) fn sync_choice(&mut self) {
        // Runs every poll: compare under the lock, copy only when the choice changed.
        let choice = {
            let guard = self
                .params
                .model_choice
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if self.applied_choice.as_deref() == Some(guard.as_str()) {
                return;
            }
            guard.clone()
        };
        let first = self.applied_choice.is_none();
        self.applied_choice = Some(choice.clone());
        self.ui().chosen = choice.clone();
        // Following the latest is the default: it loads lazily at the first Generate, as before.
        if first && choice.is_empty() {
            return;
        }
        self.select(&choice);
    }

    /// The editor chose `key` (empty = follow the latest): saved with the project, then loaded.
    pub(super) fn use_version(&mut self, key: String) {
        if let Ok(mut choice) = self.params.model_choice.lock() {
            choice.clone_from(&key);
        }
        self.sync_choice();
    }

    fn select(&mut self, key: &str) {
        let list = self.installed();
        let (dir, label) = if key.is_empty() {
            (None, "the latest version".to_string())
        } else {
            match catalog::find(&list, key) {
                Some(v) => (Some(v.dir.clone()), v.label()),
                None => {
                    self.error(format!(
                        "Model version \"{key}\" is not installed any more; choose another."
                    ));
                    self.ui().model_found = false;
                    return;
                }
            }
        };
        let Some(worker) = self.worker.as_ref() else {
            return;
        };
        match worker.select(dir) {
            Ok(()) => {
                let mut ui = self.ui();
                ui.model_found = true;
                ui.loading = Some(label);
            }
            Err(e) => self.error(format!("Cannot switch the model now: {e}")),
        }
    }

    /// The worker loaded a version.
    pub(super) fn model_loaded(&mut self, dir: PathBuf, provider: String) {
        self.loaded = Some(LoadedVersion { dir, provider });
        self.ui().loading = None;
        self.refresh_versions();
    }

    /// The worker could not load the chosen version.
    pub(super) fn model_failed(&mut self, dir: PathBuf, reason: &str) {
        self.loaded = None;
        self.ui().loading = None;
        self.error(format!(
            "{} did not load: {reason}. Choose another version.",
            dir.display()
        ));
        self.refresh_versions();
    }

    /// Counts a clip toward its job's time per variation.
    pub(super) fn count_clip(&mut self, job: u64, clip: &Clip) {
        let p = &clip.params;
        let count = self.job_counts.entry(job).or_default();
        count.clips += 1;
        // As the sampler truncates: steps · strength DDIM steps per variation.
        count.unet_steps = (p.steps as f64 * p.strength) as usize;
    }

    /// A job finished: the loaded version's first measurement is kept, then the version list is
    /// shown again (with it, and with whatever a fine-tune installed meanwhile), from one listing.
    pub(super) fn job_done(&mut self, job: u64, timings: &Timings) {
        let list = self.installed();
        self.measure(job, timings, &list);
        self.show_versions(&list);
    }

    fn measure(&mut self, job: u64, timings: &Timings, list: &[InstalledVersion]) {
        let count = self.job_counts.remove(&job).unwrap_or_default();
        let Some(loaded) = self.loaded.as_ref().filter(|_| count.clips > 0) else {
            return;
        };
        let (Some(v), Some(book)) = (
            list.iter().find(|v| v.dir == loaded.dir),
            self.timings.as_mut(),
        ) else {
            return;
        };
        if !book.needs(&v.dir, &v.created) {
            return;
        }
        let seconds = timings.total();
        let recorded = book.record(
            &v.dir,
            &v.created,
            &loaded.provider,
            seconds,
            count.clips,
            count.unet_steps,
        );
        if let Err(e) = recorded {
            tracing::warn!("the time per variation was not saved: {e}");
        }
    }
}
