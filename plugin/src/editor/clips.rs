//! The clip list and the rating shortcuts.
use egui::{Key, RichText, Sense, Stroke};

use super::{theme, waveform, RefrainApp};
use crate::ui_state::{ClipView, Command, UiState};

const THUMB_SIZE: egui::Vec2 = egui::vec2(240.0, 56.0);

impl RefrainApp {
    pub(super) fn clips_section(&mut self, ui: &mut egui::Ui, state: &UiState) {
        ui.horizontal(|ui| {
            theme::step_heading(ui, 3, &format!("Listen and rate ({})", state.clips.len()));
            ui.add_space(12.0);
            self.mix_row(ui);
        });
        let drag = if self.can_drag {
            " · drag a waveform onto a track"
        } else {
            ""
        };
        ui.label(
            RichText::new(format!(
                "click a waveform to preview · A accept · R reject · 1–5 stars · space stop{drag}"
            ))
            .weak(),
        );
        export_line(ui, state);
        let playing = self
            .shared
            .playing_key
            .load(std::sync::atomic::Ordering::Relaxed);
        egui::ScrollArea::vertical().show(ui, |ui| {
            if state.clips.is_empty() {
                ui.label(
                    RichText::new("No clips yet: capture a song (or not), then Generate.").weak(),
                );
            }
            for clip in state.clips.iter().rev() {
                self.clip_card(ui, clip, playing == clip.key);
                ui.add_space(4.0);
            }
        });
    }

    fn clip_card(&mut self, ui: &mut egui::Ui, clip: &ClipView, playing: bool) {
        let selected = self.selected == Some(clip.key);
        let outline = if selected {
            Stroke::new(1.5, theme::ACCENT)
        } else {
            Stroke::new(1.0, theme::CARD_STROKE)
        };
        let frame = egui::Frame::new()
            .fill(theme::BACKGROUND)
            .stroke(outline)
            .corner_radius(5.0)
            .inner_margin(egui::Margin::same(8));
        frame.show(ui, |ui| {
            ui.set_min_width(ui.available_width());
            ui.horizontal(|ui| {
                let color = if playing { theme::PLAYING } else { theme::WAVE };
                let sense = if self.can_drag {
                    Sense::click_and_drag()
                } else {
                    Sense::click()
                };
                let thumb =
                    waveform::draw(ui, &clip.thumbnail, THUMB_SIZE, color, clip.bars, sense)
                        .on_hover_text(thumb_hint(playing, self.can_drag));
                if thumb.clicked() {
                    self.selected = Some(clip.key);
                    self.send(Command::Preview(clip.key));
                }
                if thumb.drag_started() {
                    // The controller exports the WAV, then the OS drag follows the pointer.
                    self.selected = Some(clip.key);
                    self.send(Command::DragOut(clip.key));
                }
                ui.vertical(|ui| {
                    ui.horizontal(|ui| {
                        ui.label(RichText::new(&clip.title).strong().size(15.0));
                        ui.label(RichText::new(&clip.length).color(theme::ACCENT));
                        if playing {
                            ui.label(RichText::new("playing").color(theme::PLAYING));
                        }
                    });
                    ui.label(RichText::new(&clip.settings).small().weak());
                    ui.label(format!(
                        "heard {:.1} of {:.1} s{}",
                        clip.listen_ms() as f64 / 1000.0,
                        clip.clip_ms as f64 / 1000.0,
                        clip.rating
                            .as_deref()
                            .map(|r| format!(" · {r}"))
                            .unwrap_or_default()
                    ));
                    ui.horizontal(|ui| self.rating_buttons(ui, clip.key));
                });
            });
        });
    }

    fn rating_buttons(&mut self, ui: &mut egui::Ui, key: u64) {
        if ui.button("Accept (A)").clicked() {
            self.rate(key, true, None);
        }
        if ui.button("Reject (R)").clicked() {
            self.rate(key, false, None);
        }
        ui.label("Stars");
        for stars in 1..=5u8 {
            let button = ui
                .small_button(format!("{stars}"))
                .on_hover_text(format!("{stars} of 5 stars (key {stars})"));
            if button.clicked() {
                self.rate(key, stars >= 3, Some(stars));
            }
        }
        if ui.button("Export WAV").clicked() {
            self.send(Command::Export(key));
        }
    }

    fn rate(&mut self, key: u64, accepted: bool, stars: Option<u8>) {
        self.selected = Some(key);
        self.send(Command::Rate {
            key,
            accepted,
            stars,
        });
    }

    /// A, R, 1–5 rate the selected clip (the newest when none is); space stops the preview.
    pub(super) fn shortcuts(&mut self, ui: &mut egui::Ui, state: &UiState) {
        if ui.ctx().egui_wants_keyboard_input() {
            return; // typing a song name
        }
        let Some(key) = self.selected.or(state.clips.last().map(|c| c.key)) else {
            return;
        };
        let pressed = |k| ui.input(|i| i.key_pressed(k));
        if pressed(Key::A) {
            self.rate(key, true, None);
        } else if pressed(Key::R) {
            self.rate(key, false, None);
        } else if pressed(Key::Space) {
            self.send(Command::StopPreview);
        }
        let digits = [Key::Num1, Key::Num2, Key::Num3, Key::Num4, Key::Num5];
        for (i, k) in digits.into_iter().enumerate() {
            if pressed(k) {
                let stars = i as u8 + 1;
                self.rate(key, stars >= 3, Some(stars));
            }
        }
    }
}

/// Where exports go, with the hand-offs that work everywhere: where a clip cannot be dragged
/// out of the window (no X11 display), the producer copies the path or opens the folder.
fn export_line(ui: &mut egui::Ui, state: &UiState) {
    ui.horizontal(|ui| {
        let (text, folder) = match &state.last_export {
            Some(path) => (
                format!("Last export: {}", path.display()),
                path.parent().unwrap_or(&state.export_dir),
            ),
            None => (
                format!("Exports go to {}", state.export_dir.display()),
                state.export_dir.as_path(),
            ),
        };
        ui.label(RichText::new(text).weak());
        if let Some(path) = &state.last_export {
            let copy = ui.small_button("Copy path");
            if copy
                .on_hover_text("Copy the file's path to the clipboard")
                .clicked()
            {
                ui.ctx().copy_text(path.display().to_string());
            }
        }
        // egui_baseview hands URLs to the `open` crate, which takes a plain path as well
        // (xdg-open / open / start), so the folder opens in the file manager.
        let show = ui.add_enabled(folder.is_dir(), egui::Button::new("Show folder").small());
        if show
            .on_hover_text("Open the export folder, to drag the WAV into the host")
            .clicked()
        {
            ui.ctx()
                .open_url(egui::OpenUrl::new_tab(folder.display().to_string()));
        }
    });
}

/// What hovering a clip's waveform says it does.
fn thumb_hint(playing: bool, can_drag: bool) -> &'static str {
    match (playing, can_drag) {
        (true, true) => "Playing · drag onto a track",
        (true, false) => "Playing",
        (false, true) => "Click to preview · drag onto a track",
        (false, false) => "Click to preview",
    }
}
