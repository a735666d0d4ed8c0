//! How close a rebuilt signal is to its reference, in the figures round trips and model cards
//! report.
use super::Spectrum;

/// Spectral convergence ‖|X| − |Y|‖ / ‖|X|‖ over the magnitudes of two equally shaped spectra
/// (X = `reference`): 0 for identical magnitudes, whatever the phases.
pub fn spectral_convergence(reference: &Spectrum, rebuilt: &Spectrum) -> f64 {
    let (mut diff, mut norm) = (0.0f64, 0.0f64);
    for (a, b) in reference.data.iter().zip(&rebuilt.data) {
        let (a, b) = (f64::from(a.norm()), f64::from(b.norm()));
        diff += (a - b).powi(2);
        norm += a * a;
    }
    // A silent reference has no norm: keep the figure finite rather than NaN.
    (diff / norm.max(f64::MIN_POSITIVE)).sqrt()
}
