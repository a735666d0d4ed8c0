//! The egui editor, laid out as the producer's flow: 1 capture the track (songs with their
//! waveform, bars and weight) → 2 shape and Generate (stage and time left) → 3 the clips (cards
//! with a waveform on the bar grid: preview, rate with A, R, 1–5, drag onto a track, export).
//! A header holds the model and vocoder and the one message that matters now.
//!
//! It only reads shared state and sends commands: nothing here blocks on the engine.
mod capture;
mod clips;
mod generate;
mod theme;
mod versions;
mod vocoder;
mod waveform;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::Sender;
use egui::RichText;
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::LogicalSize;
use nice_plug_egui::{EguiEditor, EguiEditorState, EguiNiceSettings, NiceEguiApp, RepaintNotifier};

use crate::audio_thread::Shared;
use crate::params::RefrainParams;
use crate::ui_state::{Command, UiState};

/// The editor window's initial size in logical pixels.
pub const SIZE: (u32, u32) = (920, 720);

/// Height of the two upper steps (frames included), so their frames line up.
const TOP_HEIGHT: f32 = 262.0;
/// Width of step 1 (capture and songs, frame included); step 2 takes the rest.
const CAPTURE_WIDTH: f32 = 340.0;

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
    /// Clips can be dragged out of the window (an X11 display; see `drag`).
    can_drag: bool,
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
            can_drag: crate::drag::available(),
        }
    }

    /// Title, model and vocoder pickers, the model's cost, then the one message that matters now.
    fn header(&mut self, ui: &mut egui::Ui, state: &UiState) {
        ui.horizontal(|ui| {
            ui.label(
                RichText::new("Refrain")
                    .heading()
                    .strong()
                    .color(theme::ACCENT),
            );
            ui.add_space(8.0);
            self.model_row(ui, state);
            ui.add_space(8.0);
            self.vocoder_row(ui, state);
        });
        let detail = versions::model_detail(state)
            .map(|d| format!("{} · {d}", state.model))
            .unwrap_or_else(|| state.model.clone());
        ui.label(RichText::new(detail).small().weak());
        if let Some(note) = state
            .data_note
            .as_ref()
            .filter(|n| state.error.as_ref() != Some(*n))
        {
            ui.colored_label(theme::WARN, note);
        }
        if let Some(error) = &state.error {
            ui.colored_label(theme::ERROR, error);
        } else if !state.status.is_empty() {
            ui.label(&state.status);
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
        egui_ctx: egui::Context,
        gui: GuiContext,
        _frame: &mut nice_plug_egui::Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        theme::apply(&egui_ctx);
        self.gui = Some(gui);
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut nice_plug_egui::Frame) {
        // Progress and listening time change without input events.
        ui.ctx().request_repaint_after(Duration::from_millis(50));
        let state = self.ui.lock().map(|s| s.clone()).unwrap_or_default();
        // The host window gives a bare Ui: paint the panel background egui would.
        ui.painter()
            .rect_filled(ui.max_rect(), 0.0, theme::BACKGROUND);
        egui::Frame::new()
            .inner_margin(egui::Margin::same(10))
            .show(ui, |ui| {
                self.header(ui, &state);
                ui.add_space(4.0);
                // The flow reads left to right, then down: capture → shape and generate → clips.
                // Fixed rects rather than a horizontal layout: a row of frames sizes its
                // children from what the previous one left, which can be nothing.
                let full = ui.available_rect_before_wrap();
                let top = egui::Rect::from_min_size(full.min, egui::vec2(full.width(), TOP_HEIGHT));
                let split = (top.left() + CAPTURE_WIDTH).min(top.center().x);
                let left = egui::Rect::from_min_max(top.min, egui::pos2(split, top.bottom()));
                let right = egui::Rect::from_min_max(egui::pos2(split + 8.0, top.top()), top.max);
                ui.scope_builder(egui::UiBuilder::new().max_rect(left), |ui| {
                    theme::section().show(ui, |ui| {
                        ui.set_min_size(ui.available_size());
                        self.capture_section(ui, &state);
                    });
                });
                ui.scope_builder(egui::UiBuilder::new().max_rect(right), |ui| {
                    theme::section().show(ui, |ui| {
                        ui.set_min_size(ui.available_size());
                        self.generate_section(ui, &state);
                    });
                });
                ui.advance_cursor_after_rect(top);
                ui.add_space(4.0);
                theme::section().show(ui, |ui| {
                    ui.set_min_size(ui.available_size());
                    self.clips_section(ui, &state);
                });
            });
        self.shortcuts(ui, &state);
    }

    fn editor_closed(&mut self) {
        self.gui = None;
    }
}
