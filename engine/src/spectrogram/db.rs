//! Power ↔ decibels ↔ the model's [−1, 1] range, as librosa.power_to_db(ref=np.max).

/// librosa's `amin`: the floor that keeps log10 finite.
const AMIN: f32 = 1e-10;

/// Converts power to dB relative to the maximum, clamped to `top_db` below it (in place).
/// Returns the reference power (the maximum), so a caller can restore absolute level later.
pub fn power_to_db(power: &mut [f32], top_db: f32) -> f32 {
    let reference = power.iter().copied().fold(AMIN, f32::max);
    let ref_db = 10.0 * reference.log10();
    let mut peak = f32::NEG_INFINITY;
    for p in power.iter_mut() {
        *p = 10.0 * p.max(AMIN).log10() - ref_db;
        peak = peak.max(*p);
    }
    let floor = peak - top_db;
    for p in power.iter_mut() {
        *p = p.max(floor);
    }
    reference
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
