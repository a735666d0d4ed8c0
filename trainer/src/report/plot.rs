//! The SVG plot of the report: mean rating per version (line with points), and the win rate
//! against the blind baseline where there is one (dashed), both on a 0–1 axis.

use std::path::Path;

use plotters::prelude::*;

use super::{ReportError, VersionStats};

/// Draws `stats` into an SVG file at `path` (800 × 480).
///
/// An empty report still gives a valid SVG with empty axes, so a script can always open it.
pub fn write_svg(stats: &[VersionStats], path: &Path) -> Result<(), ReportError> {
    let err = |e: &dyn std::fmt::Display| ReportError::Plot {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let root = SVGBackend::new(path, (800, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let last = stats.iter().map(|s| s.version).max().unwrap_or(0);
    // One version of padding on each side, so single points are not drawn on the frame.
    let x_range = -0.5f64..(f64::from(last) + 0.5);
    let mut chart = ChartBuilder::on(&root)
        .caption("Refrain: mean rating per model version", ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(48)
        .build_cartesian_2d(x_range, 0.0f64..1.0)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        // Explicit greys: plotters' default light mesh uses alpha, which some SVG viewers
        // render as solid black lines.
        .light_line_style(RGBColor(238, 238, 238))
        .bold_line_style(RGBColor(200, 200, 200))
        .x_desc("model version")
        .y_desc("normalised rating r / win rate")
        .x_labels(usize::try_from(last).unwrap_or(0).saturating_add(1).min(20))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .draw()
        .map_err(|e| err(&e))?;

    let mean: Vec<(f64, f64)> = stats
        .iter()
        .filter_map(|s| s.mean_rating.map(|m| (f64::from(s.version), f64::from(m))))
        .collect();
    chart
        .draw_series(LineSeries::new(mean.clone(), BLUE.stroke_width(2)))
        .map_err(|e| err(&e))?
        .label("mean rating")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
    chart
        .draw_series(mean.iter().map(|&p| Circle::new(p, 4, BLUE.filled())))
        .map_err(|e| err(&e))?;

    let wins: Vec<(f64, f64)> = stats
        .iter()
        .filter_map(|s| s.win_rate.map(|w| (f64::from(s.version), f64::from(w))))
        .collect();
    if !wins.is_empty() {
        chart
            .draw_series(DashedLineSeries::new(
                wins.clone(),
                6,
                4,
                RED.stroke_width(2),
            ))
            .map_err(|e| err(&e))?
            .label("win rate vs blind baseline")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
        chart
            .draw_series(wins.iter().map(|&p| Circle::new(p, 3, RED.filled())))
            .map_err(|e| err(&e))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
