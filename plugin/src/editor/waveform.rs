//! Peak thumbnails for songs and clips, with bar lines where the length is in bars.
use egui::{Response, Sense, Stroke};

use super::theme;

/// Draws `peaks` (0..=1 per column) into a well of `size`; `bars` > 1 adds a faint line at
/// each bar so a producer sees the clip's grid.
pub fn draw(
    ui: &mut egui::Ui,
    peaks: &[f32],
    size: egui::Vec2,
    color: egui::Color32,
    bars: u32,
    sense: Sense,
) -> Response {
    let (rect, response) = ui.allocate_exact_size(size, sense);
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4.0, theme::WELL);
    if peaks.is_empty() {
        let y = rect.center().y;
        let flat = Stroke::new(1.0, theme::WEAK);
        painter.line_segment(
            [egui::pos2(rect.left(), y), egui::pos2(rect.right(), y)],
            flat,
        );
    }
    let n = peaks.len() as f32;
    let width = (rect.width() / n * 0.7).clamp(1.0, 3.0);
    for (i, p) in peaks.iter().enumerate() {
        let x = rect.left() + (i as f32 + 0.5) * rect.width() / n;
        let h = (p.clamp(0.0, 1.0) * rect.height() * 0.45).max(0.5);
        painter.line_segment(
            [
                egui::pos2(x, rect.center().y - h),
                egui::pos2(x, rect.center().y + h),
            ],
            Stroke::new(width, color),
        );
    }
    // Over the peaks, so the grid reads even where the clip is dense.
    if bars > 1 {
        let grid = Stroke::new(1.0, egui::Color32::from_white_alpha(90));
        for bar in 1..bars {
            let x = rect.left() + rect.width() * bar as f32 / bars as f32;
            painter.line_segment(
                [egui::pos2(x, rect.top()), egui::pos2(x, rect.bottom())],
                grid,
            );
        }
    }
    response
}
