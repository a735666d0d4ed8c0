//! Step 2 of the flow: shape the variations and Generate, with the stage and time left.
use std::time::Instant;

use egui::RichText;
use nice_plug_egui::widgets::ParamSlider;

use super::{theme, RefrainApp};
use crate::ui_state::{Command, UiState};

/// Slider width in the two-column grid (the value box sits beside it).
const SLIDER_WIDTH: f32 = 84.0;

impl RefrainApp {
    pub(super) fn generate_section(&mut self, ui: &mut egui::Ui, state: &UiState) {
        theme::step_heading(ui, 2, "Shape and generate");
        self.params_grid(ui);
        ui.add_space(6.0);
        match &state.job {
            None => {
                let variations = self.params.variations.value();
                let label = format!("Generate {variations}");
                let button = ui.add_enabled(state.model_found, theme::primary_button(&label));
                if button
                    .on_hover_text("Make that many variations of the songs (or of noise)")
                    .clicked()
                {
                    self.send(Command::Generate);
                }
            }
            Some(job) => {
                let left = job
                    .time_left(Instant::now())
                    .map(|t| format!(" · about {:.0} s left", t.as_secs_f64().ceil()))
                    .unwrap_or_default();
                ui.add(
                    egui::ProgressBar::new(job.fraction)
                        .desired_width(ui.available_width())
                        .fill(theme::ACCENT.gamma_multiply(0.7))
                        .text(format!("{}{left}", job.label)),
                );
                if ui.button("Cancel").clicked() {
                    self.send(Command::Cancel);
                }
            }
        }
    }

    fn params_grid(&mut self, ui: &mut egui::Ui) {
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
        // Two columns: how the clips sound | how many, how long, which seeds.
        ui.columns(2, |cols| {
            egui::Grid::new("sound")
                .num_columns(2)
                .show(&mut cols[0], |ui| {
                    let slider =
                        |param| ParamSlider::for_param(param, &setter).with_width(SLIDER_WIDTH);
                    param_row(ui, "Strength", TIP_STRENGTH, slider(&p.strength));
                    param_row(ui, "Detail", TIP_DETAIL, slider(&p.detail));
                    param_row(ui, "Eta", TIP_ETA, slider(&p.eta));
                    let steps = ParamSlider::for_param(&p.steps, &setter).with_width(SLIDER_WIDTH);
                    param_row(ui, "Steps", TIP_STEPS, steps);
                });
            egui::Grid::new("takes")
                .num_columns(2)
                .show(&mut cols[1], |ui| {
                    let variations =
                        ParamSlider::for_param(&p.variations, &setter).with_width(SLIDER_WIDTH);
                    param_row(ui, "Variations", TIP_VARIATIONS, variations);
                    let bars =
                        ParamSlider::for_param(&p.clip_bars, &setter).with_width(SLIDER_WIDTH);
                    param_row(ui, "Length", TIP_CLIP_BARS, bars);
                    let seed = ParamSlider::for_param(&p.seed, &setter).with_width(SLIDER_WIDTH);
                    param_row(ui, "Seed", TIP_SEED, seed);
                    let lock =
                        ParamSlider::for_param(&p.seed_lock, &setter).with_width(SLIDER_WIDTH);
                    param_row(ui, "Seed lock", TIP_SEED_LOCK, lock);
                });
        });
    }

    /// Preview level and Dry/Wet, beside the clips they mix.
    pub(super) fn mix_row(&mut self, ui: &mut egui::Ui) {
        let Some(gui) = &self.gui else { return };
        let setter = gui.param_setter();
        let p = &self.params;
        ui.label("Preview").on_hover_text(TIP_PREVIEW);
        ui.add(ParamSlider::for_param(&p.preview_level, &setter))
            .on_hover_text(TIP_PREVIEW);
        ui.label("Dry/Wet").on_hover_text(TIP_DRY_WET);
        ui.add(ParamSlider::for_param(&p.dry_wet, &setter))
            .on_hover_text(TIP_DRY_WET);
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
const TIP_DRY_WET: &str = "While a clip previews: 0 = your track only, 0.5 = your track plus \
     the clip, 1 = the clip only. With no preview your track passes untouched.";
const TIP_STEPS: &str = "Denoising steps over the whole schedule; a variation runs Strength × \
     Steps of them, so more is slower.";
const TIP_VARIATIONS: &str = "Clips per Generate.";
const TIP_CLIP_BARS: &str = "Clip length in bars at the host's tempo; each clip is exactly that \
     long and loops without a click. One window = the model's own 5.9 s, as when the host \
     reports no tempo. Longer clips take longer: one more window per ~4.5 s.";
const TIP_SEED: &str = "Starting noise of the first clip; the others count up from it.";
const TIP_SEED_LOCK: &str = "Keep the seed between runs to compare settings on the same clips.";
