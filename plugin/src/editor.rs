//! The egui editor: capture, songs, Generate with progress + Cancel, clips with thumbnails,
//! preview, Accept/Reject/stars (keys A, R, 1–5, space), Export WAV, model and errors.
//!
//! It only reads shared state and sends commands: nothing here blocks on the engine.
mod clips;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::Sender;
use egui::{Color32, RichText};
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::LogicalSize;
use nice_plug_egui::widgets::ParamSlider;
use nice_plug_egui::{EguiEditor, EguiEditorState, EguiNiceSettings, NiceEguiApp, RepaintNotifier};

use crate::params::{RefrainParams, MAX_SONGS};
use crate::rt::{capture_state, Shared};
use crate::ui_state::{Command, UiState};

/// The editor window's initial size in logical pixels.
pub const SIZE: (u32, u32) = (760, 640);

/// The editor's initial state (size and zoom).
pub fn default_state() -> Arc<EguiEditorState> {
    EguiEditorState::from_size(LogicalSize::new(SIZE.0 as f32, SIZE.1 as f32), 1.0)
}

/// Builds the nice-plug editor around `app`.
pub fn create(state: Arc<EguiEditorState>, app: RefrainApp) -> Option<EguiEditor<RefrainApp>> {
    let settings = EguiNiceSettings {
        title: "Refrain".into(),
        ..EguiNiceSettings::default()
    };
    nice_plug_egui::create_egui_editor(state, RepaintNotifier::new(), settings, app)
}

/// The editor's app state (GUI thread only).
pub struct RefrainApp {
    params: Arc<RefrainParams>,
    shared: Arc<Shared>,
    ui: Arc<Mutex<UiState>>,
    commands: Sender<Command>,
    gui: Option<GuiContext>,
    /// The clip the keyboard shortcuts act on.
    selected: Option<u64>,
}

impl RefrainApp {
    /// An app drawing `ui` and sending commands to the controller.
    pub fn new(
        params: Arc<RefrainParams>,
        shared: Arc<Shared>,
        ui: Arc<Mutex<UiState>>,
        commands: Sender<Command>,
    ) -> Self {
        Self {
            params,
            shared,
            ui,
            commands,
            gui: None,
            selected: None,
        }
    }

    fn send(&self, cmd: Command) {
        // A full queue means the controller is stuck; dropping a click beats freezing the GUI.
        let _ = self.commands.try_send(cmd);
    }
}

impl NiceEguiApp for RefrainApp {
    fn build(
        &mut self,
        _egui_ctx: egui::Context,
        gui: GuiContext,
        _frame: &mut nice_plug_egui::Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        self.gui = Some(gui);
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut nice_plug_egui::Frame) {
        // Progress and listening time change without input events.
        ui.ctx().request_repaint_after(Duration::from_millis(50));
        let state = self.ui.lock().map(|s| s.clone()).unwrap_or_default();
        // The host window gives a bare Ui: paint the panel background egui would.
        ui.painter()
            .rect_filled(ui.max_rect(), 0.0, ui.visuals().panel_fill);
        ui.horizontal(|ui| {
            ui.heading("Refrain");
            ui.label(RichText::new(&state.model).weak());
        });
        if let Some(error) = &state.error {
            ui.colored_label(Color32::from_rgb(230, 90, 80), error);
        } else if !state.status.is_empty() {
            ui.label(&state.status);
        }
        ui.separator();
        ui.columns(2, |cols| {
            self.capture_section(&mut cols[0]);
            self.params_section(&mut cols[1]);
        });
        ui.separator();
        self.generate_section(ui, &state);
        ui.separator();
        self.clips_section(ui, &state);
        self.shortcuts(ui, &state);
    }

    fn editor_closed(&mut self) {
        self.gui = None;
    }
}

impl RefrainApp {
    fn capture_section(&mut self, ui: &mut egui::Ui) {
        ui.label(RichText::new("Capture").strong());
        let state = self.shared.capture_state.load(Ordering::Relaxed);
        let done = self.shared.capture_done.load(Ordering::Relaxed);
        let total = self.shared.capture_total.load(Ordering::Relaxed).max(1);
        ui.horizontal(|ui| match state {
            capture_state::IDLE => {
                if ui.button("Capture").clicked() {
                    self.send(Command::Arm);
                }
            }
            _ => {
                let text = match state {
                    capture_state::ARMED => "Armed: waiting for the next bar".to_string(),
                    capture_state::NO_BUFFER => "Armed: buffer not ready yet".to_string(),
                    _ => format!("Recording {:.0} %", 100.0 * done as f64 / total as f64),
                };
                ui.label(text);
                if ui.button("Cancel").clicked() {
                    self.send(Command::CancelCapture);
                }
            }
        });
        if let Some(gui) = &self.gui {
            let setter = gui.param_setter();
            egui::Grid::new("capture").num_columns(2).show(ui, |ui| {
                ui.label("Length");
                ui.add(ParamSlider::for_param(&self.params.capture_length, &setter));
                ui.end_row();
                ui.label("Unit");
                ui.add(ParamSlider::for_param(&self.params.capture_unit, &setter));
                ui.end_row();
            });
        }
        let mut songs = self.params.songs.lock().unwrap_or_else(|e| e.into_inner());
        ui.label(format!("Songs ({}/{MAX_SONGS})", songs.len()));
        let mut remove = None;
        for (i, song) in songs.iter_mut().enumerate() {
            ui.horizontal(|ui| {
                ui.add(egui::TextEdit::singleline(&mut song.name).desired_width(90.0));
                ui.add(
                    egui::DragValue::new(&mut song.weight)
                        .range(0.0..=4.0)
                        .speed(0.01)
                        .prefix("w "),
                );
                ui.label(format!("{:.1} s", song.duration_s));
                if ui.small_button("x").on_hover_text("Remove").clicked() {
                    remove = Some(i);
                }
            });
        }
        if let Some(i) = remove {
            songs.remove(i);
        }
    }

    fn params_section(&mut self, ui: &mut egui::Ui) {
        ui.label(RichText::new("Variation").strong());
        let Some(gui) = &self.gui else { return };
        let setter = gui.param_setter();
        let p = &self.params;
        egui::Grid::new("params").num_columns(2).show(ui, |ui| {
            for (name, widget) in [
                ("Strength", ParamSlider::for_param(&p.strength, &setter)),
                ("Detail", ParamSlider::for_param(&p.detail, &setter)),
                ("Eta", ParamSlider::for_param(&p.eta, &setter)),
                ("Preview", ParamSlider::for_param(&p.preview_level, &setter)),
                ("Dry/Wet", ParamSlider::for_param(&p.dry_wet, &setter)),
            ] {
                ui.label(name);
                ui.add(widget);
                ui.end_row();
            }
            for (name, widget) in [
                ("Steps", ParamSlider::for_param(&p.steps, &setter)),
                ("Variations", ParamSlider::for_param(&p.variations, &setter)),
                ("Seed", ParamSlider::for_param(&p.seed, &setter)),
            ] {
                ui.label(name);
                ui.add(widget);
                ui.end_row();
            }
            ui.label("Seed lock");
            ui.add(ParamSlider::for_param(&p.seed_lock, &setter));
            ui.end_row();
        });
    }

    fn generate_section(&mut self, ui: &mut egui::Ui, state: &UiState) {
        ui.horizontal(|ui| match &state.job {
            None => {
                let button = egui::Button::new(RichText::new("Generate").strong());
                if ui.add_enabled(state.model_found, button).clicked() {
                    self.send(Command::Generate);
                }
            }
            Some(job) => {
                ui.add(
                    egui::ProgressBar::new(job.fraction)
                        .desired_width(420.0)
                        .text(&job.label),
                );
                if ui.button("Cancel").clicked() {
                    self.send(Command::Cancel);
                }
            }
        });
    }
}
