//! The vocoder setting: which mel-to-audio stage renders this project's clips (saved with the
//! project; empty = the model version's own), kept in step with a state the host restores.
use super::State;

impl State {
    /// The editor chose `name` (empty = the version's own): saved with the project and sent
    /// with every later request.
    pub(super) fn use_vocoder(&mut self, name: String) {
        if let Ok(mut choice) = self.params.vocoder_choice.lock() {
            choice.clone_from(&name);
        }
        self.ui().vocoder = name;
    }

    /// The vocoder the next request asks for (`None` = the version's own).
    pub(super) fn requested_vocoder(&self) -> Option<String> {
        let choice = self
            .params
            .vocoder_choice
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        (!choice.is_empty()).then(|| choice.clone())
    }

    /// Shows a choice the host restored after start-up (compared under the locks, copied only
    /// when it changed: this runs every poll).
    pub(super) fn sync_vocoder(&mut self) {
        let choice = self
            .params
            .vocoder_choice
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut ui = self.ui.lock().unwrap_or_else(|e| e.into_inner());
        if ui.vocoder != *choice {
            ui.vocoder.clone_from(&choice);
        }
    }
}
