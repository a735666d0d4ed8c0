//! The egui editor: capture, songs, Generate with progress + Cancel, clips with thumbnails,
//! preview, Accept/Reject/stars (keys A, R, 1–5, space), Export WAV, the model version, errors.
//!
//! It only reads shared state and sends commands: nothing here blocks on the engine.
mod clips;
mod versions;
mod vocoder;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::Sender;
use egui::{Color32, RichText};
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::LogicalSize;
use nice_plug_egui::widgets::ParamSlider;
use nice_plug_egui::{EguiEditor, EguiEditorState, EguiNiceSettings, NiceEguiApp, RepaintNotifier};

use crate::audio_thread::{capture_state, Shared};
use crate::params::{RefrainParams, MAX_SONGS};
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
        self.model_row(ui, &state);
        self.vocoder_row(ui, &state);
        if let Some(note) = state
            .data_note
            .as_ref()
            .filter(|n| state.error.as_ref() != Some(*n))
        {
            ui.colored_label(Color32::from_rgb(230, 170, 60), note);
        }
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
        if p.clip_bars.value() > 0 {
            let tempo = match self.shared.host_tempo() {
                Some((bpm, bar)) => format!("Clips fit the host: {bpm:.1} BPM, {bar} beats a bar"),
                None => "The host reports no tempo: clips are one 5.9 s window".to_string(),
            };
            ui.label(RichText::new(tempo).weak());
        }
        egui::Grid::new("params").num_columns(2).show(ui, |ui| {
            let slider = |param| ParamSlider::for_param(param, &setter);
            param_row(ui, "Strength", TIP_STRENGTH, slider(&p.strength));
            param_row(ui, "Detail", TIP_DETAIL, slider(&p.detail));
            param_row(ui, "Eta", TIP_ETA, slider(&p.eta));
            param_row(ui, "Preview", TIP_PREVIEW, slider(&p.preview_level));
            param_row(ui, "Dry/Wet", TIP_DRY_WET, slider(&p.dry_wet));
            let steps = ParamSlider::for_param(&p.steps, &setter);
            param_row(ui, "Steps", TIP_STEPS, steps);
            let variations = ParamSlider::for_param(&p.variations, &setter);
            param_row(ui, "Variations", TIP_VARIATIONS, variations);
            let bars = ParamSlider::for_param(&p.clip_bars, &setter);
            param_row(ui, "Clip length", TIP_CLIP_BARS, bars);
            param_row(
                ui,
                "Seed",
                TIP_SEED,
                ParamSlider::for_param(&p.seed, &setter),
            );
            let lock = ParamSlider::for_param(&p.seed_lock, &setter);
            param_row(ui, "Seed lock", TIP_SEED_LOCK, lock);
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

/// One labelled parameter in the grid, with the same hover help on the label and the slider.
fn param_row(ui: &mut egui::Ui, name: &str, tip: &str, widget: impl egui::Widget) {
    ui.label(name).on_hover_text(tip);
    ui.add(widget).on_hover_text(tip);
    ui.end_row();
}

const TIP_STRENGTH: &str = "How far the variations may move from your songs: low keeps their \
     timing and sound, high keeps little more than their overall colour.";
const TIP_DETAIL: &str = "How much of your songs' own onsets and edges, which the model smears, \
     is put back. It fades out as Strength rises; turn it down if you hear ghost hits.";
const TIP_ETA: &str = "Fresh noise mixed in at each denoising step: 0 follows the starting \
     noise exactly, 1 is DDPM-like. Seeded either way, so a locked seed repeats.";
const TIP_PREVIEW: &str = "Level of the clip you are previewing.";
const TIP_DRY_WET: &str = "0 = your track only, 0.5 = your track plus the clip, 1 = the clip only.";
const TIP_STEPS: &str = "Denoising steps over the whole schedule; a variation runs Strength × \
     Steps of them, so more is slower.";
const TIP_VARIATIONS: &str = "Clips per Generate.";
const TIP_CLIP_BARS: &str = "Clip length in bars at the host's tempo; each clip is exactly that \
     long and loops without a click. One window = the model's own 5.9 s, as when the host \
     reports no tempo. Longer clips take longer: one more window per ~4.5 s.";
const TIP_SEED: &str = "Starting noise of the first clip; the others count up from it.";
const TIP_SEED_LOCK: &str = "Keep the seed between runs to compare settings on the same clips.";
