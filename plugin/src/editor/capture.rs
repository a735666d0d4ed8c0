//! Step 1 of the flow: capture the track, and the captured songs with their waveform, length
//! and merge weight.
use std::sync::atomic::Ordering;

use egui::{RichText, Sense};
use nice_plug_egui::widgets::ParamSlider;

use super::{theme, waveform, RefrainApp};
use crate::audio_thread::capture_state;
use crate::params::MAX_SONGS;
use crate::ui_state::{Command, UiState};

const SONG_THUMB: egui::Vec2 = egui::vec2(110.0, 26.0);

impl RefrainApp {
    pub(super) fn capture_section(&mut self, ui: &mut egui::Ui, state: &UiState) {
        theme::step_heading(ui, 1, "Capture your track");
        let capture = self.shared.capture_state.load(Ordering::Relaxed);
        let done = self.shared.capture_done.load(Ordering::Relaxed);
        let total = self.shared.capture_total.load(Ordering::Relaxed).max(1);
        ui.horizontal(|ui| match capture {
            capture_state::IDLE => {
                let button = ui.button(RichText::new("Capture").strong());
                if button
                    .on_hover_text("Record the track from the next bar for the length below")
                    .clicked()
                {
                    self.send(Command::Arm);
                }
            }
            _ => {
                let text = match capture {
                    capture_state::ARMED => "Armed: starts on the next bar".to_string(),
                    capture_state::NO_BUFFER => "Armed: buffer not ready yet".to_string(),
                    _ => format!("Recording {:.0} %", 100.0 * done as f64 / total as f64),
                };
                ui.label(RichText::new(text).color(theme::ACCENT));
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
        ui.add_space(4.0);
        self.songs(ui, state);
    }

    fn songs(&mut self, ui: &mut egui::Ui, state: &UiState) {
        let tempo = self.shared.host_tempo();
        let mut songs = self.params.songs.lock().unwrap_or_else(|e| e.into_inner());
        ui.label(
            RichText::new(format!(
                "Songs {}/{MAX_SONGS} · weight = share in the merge",
                songs.len()
            ))
            .weak(),
        );
        if songs.is_empty() {
            ui.label(RichText::new("None yet: Generate then starts from noise.").weak());
        }
        let mut remove = None;
        // Four songs are taller than the step: they scroll inside it.
        egui::ScrollArea::vertical()
            .id_salt("songs")
            .show(ui, |ui| {
                for (i, song) in songs.iter_mut().enumerate() {
                    ui.horizontal(|ui| {
                        let peaks = state
                            .song_peaks
                            .iter()
                            .find(|(wav, _)| *wav == song.wav)
                            .map_or(&[][..], |(_, p)| p.as_slice());
                        waveform::draw(ui, peaks, SONG_THUMB, theme::WAVE, 0, Sense::hover());
                        ui.vertical(|ui| {
                            ui.add(egui::TextEdit::singleline(&mut song.name).desired_width(110.0));
                            ui.horizontal(|ui| {
                                let length = match tempo {
                                    Some((bpm, beats)) => {
                                        format!("{:.1} bars", song.duration_s * bpm / 60.0 / beats)
                                    }
                                    None => format!("{:.1} s", song.duration_s),
                                };
                                ui.label(RichText::new(length).small());
                                ui.add(
                                    egui::DragValue::new(&mut song.weight)
                                        .range(0.0..=4.0)
                                        .speed(0.01)
                                        .prefix("×"),
                                )
                                .on_hover_text("Weight in the merge (0 leaves the song out)");
                                if ui.small_button("x").on_hover_text("Remove").clicked() {
                                    remove = Some(i);
                                }
                            });
                        });
                    });
                }
            });
        if let Some(i) = remove {
            songs.remove(i);
        }
    }
}
