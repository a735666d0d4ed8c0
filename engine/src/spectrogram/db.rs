//! Power ↔ decibels ↔ the model's [−1, 1] range, as librosa.power_to_db(ref=np.max).

/// librosa's `amin`: the floor that keeps log10 finite.
const AMIN: f32 = 1e-10;

/// Converts power to dB relative to the maximum, clamped to `top_db` below it (in place).
/// Returns the reference power (the maximum), so a caller can restore absolute level later.
pub fn power_to_db(power: &mut [f32], top_db: f32) -> f32 {
    let reference = power.iter().copied().fold(AMIN, f32::max);
    let ref_db = 10.0 * reference.log10();
    for p in power.iter_mut() {
        *p = DB_PER_NEPER * ln_fast(p.max(AMIN)) - ref_db;
    }
    // The maximum maps to 0 dB up to rounding; take it from the data like librosa does.
    let peak = power.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let floor = peak - top_db;
    for p in power.iter_mut() {
        *p = p.max(floor);
    }
    reference
}

/// 10 / ln(10): converts a natural log of power to decibels.
const DB_PER_NEPER: f32 = 4.342_944_8;

/// Natural log of a positive normal f32, accurate to ~3e-8 (≈1e-7 dB), without a libm call.
///
/// libm's log10f cost more than the whole STFT of a window (65 k calls); this splits off the
/// exponent, folds the mantissa into [√½, √2) and sums the atanh series
/// ln(m) = 2(t + t³/3 + t⁵/5 + t⁷/7) with t = (m − 1)/(m + 1), |t| ≤ 0.172. It is branch-free,
/// so the loop vectorises.
fn ln_fast(x: f32) -> f32 {
    let bits = x.to_bits();
    let mantissa_bits = bits & 0x007f_ffff;
    // Mantissas above √2 (0x3504f3) are halved by lowering the exponent field, all in integers.
    let fold = (mantissa_bits > 0x0035_04f3) as u32;
    let exponent = (bits >> 23) as i32 - 127 + fold as i32;
    let mantissa = f32::from_bits(mantissa_bits | (0x3f80_0000 - (fold << 23)));
    let t = (mantissa - 1.0) / (mantissa + 1.0);
    let t2 = t * t;
    let series = t * (2.0 + t2 * (2.0 / 3.0 + t2 * (2.0 / 5.0 + t2 * (2.0 / 7.0))));
    series + exponent as f32 * std::f32::consts::LN_2
}

/// Converts dB (relative to `reference`) back to power (in place).
pub fn db_to_power(db: &mut [f32], reference: f32) {
    for d in db.iter_mut() {
        *d = reference * 10f32.powf(*d / 10.0);
    }
}

/// Maps dB in [−top_db, 0] to [−1, 1] (in place), clamping outside values.
pub fn to_unit(db: &mut [f32], top_db: f32) {
    for d in db.iter_mut() {
        *d = ((*d + top_db) / top_db * 2.0 - 1.0).clamp(-1.0, 1.0);
    }
}

/// Maps [−1, 1] back to dB in [−top_db, 0] (in place); non-finite input becomes silence.
pub fn from_unit(unit: &mut [f32], top_db: f32) {
    for u in unit.iter_mut() {
        let x = if u.is_finite() {
            u.clamp(-1.0, 1.0)
        } else {
            -1.0
        };
        *u = (x + 1.0) / 2.0 * top_db - top_db;
    }
}

#[cfg(test)]
mod tests {
    use super::ln_fast;

    #[test]
    fn ln_fast_matches_libm() {
        let mut x = 1e-10f32;
        while x < 1e10 {
            let err = (ln_fast(x) - x.ln()).abs();
            assert!(err < 2e-6, "ln({x}): {} vs {}", ln_fast(x), x.ln());
            x *= 1.013;
        }
    }
}
