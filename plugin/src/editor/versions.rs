//! The model row: which version generates (the latest, or one the project pins), what each
//! installed version costs (size, license, provider, measured time per variation), and the
//! background load in progress.
use egui::RichText;

use super::RefrainApp;
use crate::ui_state::{Command, UiState, VersionView};

/// The list entry that follows `models/current`.
const LATEST: &str = "Latest";
const TIP_LATEST: &str = "Follows the newest version the trainer publishes (or the one it rolled \
     back to), so your fine-tunes are used as soon as they land.";
const TIP_PINNED: &str = "Pinned for this project: it keeps this sound after new fine-tunes land.";

/// The version that generates: the one `models/current` names when following the latest, else
/// the pinned one (`None` when it is not installed).
fn shown_version(state: &UiState) -> Option<&VersionView> {
    if state.chosen.is_empty() {
        state.versions.iter().find(|v| v.is_current)
    } else {
        state.versions.iter().find(|v| v.key == state.chosen)
    }
}

/// The chosen version's size, license and speed, for the line under the header.
pub(super) fn model_detail(state: &UiState) -> Option<&str> {
    shown_version(state).map(|v| v.detail.as_str())
}

impl RefrainApp {
    pub(super) fn model_row(&mut self, ui: &mut egui::Ui, state: &UiState) {
        let shown = shown_version(state);
        let selected_text = match (state.chosen.is_empty(), shown) {
            (true, Some(v)) => format!("{LATEST} ({})", v.label),
            (true, None) => LATEST.to_string(),
            (false, Some(v)) => v.label.clone(),
            (false, None) => format!("{} (not installed)", state.chosen),
        };
        let mut pick = None;
        ui.horizontal(|ui| {
            ui.label("Model");
            egui::ComboBox::from_id_salt("model-version")
                .selected_text(selected_text)
                .width(260.0)
                .show_ui(ui, |ui| {
                    let latest = ui
                        .selectable_label(state.chosen.is_empty(), LATEST)
                        .on_hover_text(TIP_LATEST);
                    if latest.clicked() {
                        pick = Some(String::new());
                    }
                    for v in &state.versions {
                        if entry(ui, v, state.chosen == v.key).clicked() {
                            pick = Some(v.key.clone());
                        }
                    }
                })
                .response
                .on_hover_text(if state.chosen.is_empty() {
                    TIP_LATEST
                } else {
                    TIP_PINNED
                });
            if ui
                .small_button("Rescan")
                .on_hover_text("Look for new versions")
                .clicked()
            {
                self.send(Command::RefreshVersions);
            }
            if let Some(label) = &state.loading {
                ui.spinner();
                ui.label(format!("loading {label}…"));
            }
        });
        if let Some(key) = pick.filter(|k| *k != state.chosen) {
            self.send(Command::UseVersion(key));
        }
    }
}

/// One version in the list: label, "current" mark, details on hover; unusable ones greyed.
fn entry(ui: &mut egui::Ui, v: &VersionView, selected: bool) -> egui::Response {
    let title = if v.is_current {
        format!("{}  · latest", v.label)
    } else {
        v.label.clone()
    };
    let hover = v.problem.as_deref().unwrap_or(&v.detail);
    // Title, then what choosing it costs, so versions compare without hovering.
    let mut text = egui::text::LayoutJob::default();
    let style = ui.style();
    RichText::new(format!("{title}\n")).strong().append_to(
        &mut text,
        style,
        egui::FontSelection::Default,
        egui::Align::Min,
    );
    RichText::new(hover).small().weak().append_to(
        &mut text,
        style,
        egui::FontSelection::Default,
        egui::Align::Min,
    );
    ui.add_enabled(
        v.problem.is_none(),
        egui::Button::selectable(selected, text),
    )
    .on_hover_text(hover)
    .on_disabled_hover_text(hover)
}
