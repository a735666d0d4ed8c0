//! The editor's look: one dark theme with a warm accent, type sizes and spacing in points (so
//! they follow the host's scale factor, which nice-plug-egui passes to egui), and the frames
//! the sections and clip cards are drawn in.
use egui::{Color32, FontId, Margin, RichText, Stroke, TextStyle};

/// Window background.
pub const BACKGROUND: Color32 = Color32::from_rgb(20, 22, 26);
/// A section's or a card's fill.
pub const CARD: Color32 = Color32::from_rgb(30, 33, 39);
/// A card's outline.
pub const CARD_STROKE: Color32 = Color32::from_rgb(50, 54, 63);
/// Body text.
pub const TEXT: Color32 = Color32::from_rgb(226, 229, 235);
/// Secondary text: still 7:1 against the card fill.
pub const WEAK: Color32 = Color32::from_rgb(160, 166, 177);
/// The one action colour: Generate, the selected clip, the step numbers.
pub const ACCENT: Color32 = Color32::from_rgb(255, 152, 64);
/// Waveforms.
pub const WAVE: Color32 = Color32::from_rgb(122, 172, 255);
/// The clip that is playing.
pub const PLAYING: Color32 = Color32::from_rgb(120, 220, 140);
/// Warnings (a temporary data folder).
pub const WARN: Color32 = Color32::from_rgb(235, 178, 64);
/// Errors.
pub const ERROR: Color32 = Color32::from_rgb(244, 100, 90);
/// Thumbnail background.
pub const WELL: Color32 = Color32::from_rgb(14, 15, 18);

/// Installs the theme (both egui themes get it: the host decides nothing here).
pub fn apply(ctx: &egui::Context) {
    ctx.all_styles_mut(|style| {
        style.text_styles = [
            (TextStyle::Heading, FontId::proportional(20.0)),
            (TextStyle::Body, FontId::proportional(13.5)),
            (TextStyle::Button, FontId::proportional(13.5)),
            (TextStyle::Small, FontId::proportional(11.5)),
            (TextStyle::Monospace, FontId::monospace(12.5)),
        ]
        .into();
        style.spacing.item_spacing = egui::vec2(8.0, 6.0);
        style.spacing.button_padding = egui::vec2(10.0, 4.0);
        style.spacing.interact_size.y = 22.0;
        let v = &mut style.visuals;
        v.dark_mode = true;
        v.panel_fill = BACKGROUND;
        v.window_fill = CARD;
        v.extreme_bg_color = WELL;
        v.weak_text_color = Some(WEAK);
        v.widgets.noninteractive.fg_stroke.color = TEXT;
        v.widgets.noninteractive.bg_stroke.color = CARD_STROKE;
        v.widgets.inactive.fg_stroke.color = TEXT;
        v.widgets.inactive.weak_bg_fill = Color32::from_rgb(46, 50, 59);
        v.widgets.inactive.bg_fill = Color32::from_rgb(46, 50, 59);
        v.widgets.hovered.weak_bg_fill = Color32::from_rgb(62, 67, 79);
        v.widgets.hovered.bg_fill = Color32::from_rgb(62, 67, 79);
        v.selection.bg_fill = Color32::from_rgb(150, 88, 34);
        v.selection.stroke = Stroke::new(1.0, ACCENT);
    });
}

/// The frame a numbered step of the flow sits in.
pub fn section() -> egui::Frame {
    egui::Frame::new()
        .fill(CARD)
        .stroke(Stroke::new(1.0, CARD_STROKE))
        .corner_radius(6.0)
        .inner_margin(Margin::same(10))
}

/// A step's heading: its number in the accent colour, then its name.
pub fn step_heading(ui: &mut egui::Ui, number: u8, name: &str) {
    ui.horizontal(|ui| {
        ui.label(
            RichText::new(format!("{number}"))
                .color(ACCENT)
                .strong()
                .size(16.0),
        );
        ui.label(RichText::new(name).strong().size(15.0));
    });
}

/// The filled accent button for the one main action.
pub fn primary_button(text: &str) -> egui::Button<'static> {
    egui::Button::new(RichText::new(text).strong().color(BACKGROUND).size(15.0))
        .fill(ACCENT)
        .min_size(egui::vec2(160.0, 30.0))
}
