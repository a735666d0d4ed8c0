//! The vocoder row: which stage turns the model's mel into audio for this project.
use super::RefrainApp;
use crate::ui_state::{Command, UiState};
use refrain_engine::vocoder::{GRIFFIN_LIM, NEURAL, PGHI};

/// Menu entries: the setting's value, its label and what it trades.
const CHOICES: [(&str, &str, &str); 4] = [
    (
        "",
        "Model default",
        "The vocoder the model version names; the neural one when it names none (Griffin-Lim, \
         with a warning, where the neural vocoder is not installed).",
    ),
    (
        NEURAL,
        "Neural",
        "A trained network corrects the spectrum, phase from PGHI + 4 iterations: the closest to \
         the source and faster than Griffin-Lim (README, Vocoders). Falls back to Griffin-Lim, \
         with a warning, if its file is missing or damaged.",
    ),
    (
        PGHI,
        "PGHI",
        "Phase-gradient heap integration + 16 Griffin-Lim iterations: no network needed.",
    ),
    (
        GRIFFIN_LIM,
        "Griffin-Lim",
        "32 fast Griffin-Lim iterations: the reference; phasey transients.",
    ),
];

impl RefrainApp {
    pub(super) fn vocoder_row(&mut self, ui: &mut egui::Ui, state: &UiState) {
        let shown = CHOICES
            .iter()
            .find(|(value, ..)| *value == state.vocoder)
            .map_or(state.vocoder.as_str(), |(_, label, _)| label);
        let mut pick = None;
        ui.horizontal(|ui| {
            ui.label("Vocoder");
            egui::ComboBox::from_id_salt("vocoder")
                .selected_text(shown)
                .width(160.0)
                .show_ui(ui, |ui| {
                    for (value, label, tip) in CHOICES {
                        if ui
                            .selectable_label(state.vocoder == value, label)
                            .on_hover_text(tip)
                            .clicked()
                        {
                            pick = Some(value.to_string());
                        }
                    }
                })
                .response
                .on_hover_text(
                    "How the model's spectrogram becomes audio; saved with the project.",
                );
        });
        if let Some(value) = pick.filter(|v| *v != state.vocoder) {
            self.send(Command::UseVocoder(value));
        }
    }
}
