//! The host's musical timeline as the audio thread needs it, and the bar arithmetic that starts
//! captures and previews on a bar line. Pure functions of the host's numbers (no state, no
//! allocation), so the edge cases are unit tested without an audio thread.

/// The host's musical position for one block, as much as the host told us.
#[derive(Debug, Clone, Copy, Default)]
pub struct TransportInfo {
    /// Transport running.
    pub playing: bool,
    /// Tempo in BPM.
    pub tempo: Option<f64>,
    /// Position of the block's first sample in quarter notes.
    pub pos_beats: Option<f64>,
    /// Start of the bar the position is in, in quarter notes, when the host reports it (it
    /// stays right across time signature changes, which `pos_beats mod bar` does not).
    pub bar_start_beats: Option<f64>,
    /// Quarter notes per bar (see [`beats_per_bar`]).
    pub beats_per_bar: f64,
}

impl TransportInfo {
    /// Whether the host gives a musical timeline at all (free-running capture when it does not).
    pub fn has_timeline(&self) -> bool {
        self.tempo.is_some() && self.pos_beats.is_some()
    }
}

/// Quarter notes per bar for a time signature (`numerator`/`denominator`): 4/4 → 4, 3/4 → 3,
/// 6/8 → 3, 7/8 → 3.5. A missing or nonsensical signature counts as 4/4.
pub fn beats_per_bar(numerator: Option<i32>, denominator: Option<i32>) -> f64 {
    match (numerator, denominator) {
        (Some(n), Some(d)) if n > 0 && d > 0 => f64::from(n) * 4.0 / f64::from(d),
        _ => 4.0,
    }
}

/// Frames from the first sample of a block at `t` to the next bar line at or after it (0 when
/// the block starts on a bar line), at `sample_rate`.
///
/// `None` means "no bar to wait for", so callers run free: the transport is stopped, or the
/// host gives no tempo or position, or gives values no bar can be computed from (tempo ≤ 0,
/// non-finite position). Positions within half a sample of a bar line count as on it, because
/// hosts round their positions.
pub fn frames_to_next_bar(t: &TransportInfo, sample_rate: f32) -> Option<u64> {
    let (Some(tempo), Some(pos)) = (t.tempo, t.pos_beats) else {
        return None;
    };
    let bar = t.beats_per_bar;
    let positive = |v: f64| v.is_finite() && v > 0.0;
    let usable = positive(tempo) && positive(bar) && positive(f64::from(sample_rate));
    if !t.playing || !usable || !pos.is_finite() {
        return None;
    }
    let into_bar = match t.bar_start_beats {
        // Trusted only when it really is the start of the bar the position is in.
        Some(start) if start <= pos && pos - start < bar => pos - start,
        _ => pos.rem_euclid(bar),
    };
    let frames_per_beat = 60.0 / tempo * f64::from(sample_rate);
    let left = ((bar - into_bar) * frames_per_beat).round();
    let bar_frames = (bar * frames_per_beat).round();
    if left >= bar_frames || left <= 0.0 {
        Some(0)
    } else {
        Some(left as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn playing(tempo: f64, pos: f64, bar: f64) -> TransportInfo {
        TransportInfo {
            playing: true,
            tempo: Some(tempo),
            pos_beats: Some(pos),
            bar_start_beats: None,
            beats_per_bar: bar,
        }
    }

    #[test]
    fn time_signatures_in_quarter_notes() {
        assert_eq!(beats_per_bar(Some(4), Some(4)), 4.0);
        assert_eq!(beats_per_bar(Some(3), Some(4)), 3.0);
        assert_eq!(beats_per_bar(Some(6), Some(8)), 3.0);
        assert_eq!(beats_per_bar(Some(7), Some(8)), 3.5);
        assert_eq!(beats_per_bar(Some(2), Some(2)), 4.0);
        assert_eq!(beats_per_bar(None, Some(4)), 4.0);
        assert_eq!(beats_per_bar(Some(0), Some(4)), 4.0);
        assert_eq!(beats_per_bar(Some(3), Some(-8)), 4.0);
    }

    #[test]
    fn on_a_bar_line_the_offset_is_zero() {
        // 120 BPM at 48 kHz: 24 000 frames per beat.
        assert_eq!(
            frames_to_next_bar(&playing(120.0, 0.0, 4.0), 48_000.0),
            Some(0)
        );
        assert_eq!(
            frames_to_next_bar(&playing(120.0, 8.0, 4.0), 48_000.0),
            Some(0)
        );
        // Host rounding just either side of the line.
        assert_eq!(
            frames_to_next_bar(&playing(120.0, 8.0 + 1e-9, 4.0), 48_000.0),
            Some(0)
        );
        assert_eq!(
            frames_to_next_bar(&playing(120.0, 8.0 - 1e-9, 4.0), 48_000.0),
            Some(0)
        );
    }

    #[test]
    fn mid_bar_waits_for_the_rest_of_the_bar() {
        // Beat 1.5 of a 4/4 bar at 120 BPM: 2.5 beats = 1.25 s = 60 000 frames.
        assert_eq!(
            frames_to_next_bar(&playing(120.0, 5.5, 4.0), 48_000.0),
            Some(60_000)
        );
        // 90 BPM, 3/4, one beat into the bar: 2 beats = 4/3 s = 64 000 frames at 48 kHz.
        assert_eq!(
            frames_to_next_bar(&playing(90.0, 4.0, 3.0), 48_000.0),
            Some(64_000)
        );
        // 6/8 (3 quarter notes per bar) at 140 BPM, a quarter before the line, 44.1 kHz.
        let frames = frames_to_next_bar(&playing(140.0, 2.75, 3.0), 44_100.0).unwrap();
        assert_eq!(frames, (0.25 * 60.0 / 140.0 * 44_100.0f64).round() as u64);
    }

    #[test]
    fn pre_roll_before_zero_counts_bars_from_zero() {
        // Half a beat before the song start is half a beat before bar 1.
        assert_eq!(
            frames_to_next_bar(&playing(120.0, -0.5, 4.0), 1000.0),
            Some(250)
        );
    }

    #[test]
    fn the_hosts_bar_start_wins_over_the_modulo() {
        // A 3/4 bar that starts at beat 10 (after some 4/4 bars): the modulo would say the
        // bar started at beat 9 and end at 12; the host knows it ends at 13.
        let mut t = playing(60.0, 11.0, 3.0);
        t.bar_start_beats = Some(10.0);
        assert_eq!(frames_to_next_bar(&t, 1000.0), Some(2000));
        // A bar start that does not contain the position is ignored.
        t.bar_start_beats = Some(2.0);
        assert_eq!(frames_to_next_bar(&t, 1000.0), Some(1000));
    }

    #[test]
    fn no_transport_or_no_timeline_runs_free() {
        assert_eq!(
            frames_to_next_bar(&TransportInfo::default(), 48_000.0),
            None
        );
        let mut t = playing(120.0, 1.0, 4.0);
        t.playing = false;
        assert_eq!(frames_to_next_bar(&t, 48_000.0), None, "stopped");
        let mut t = playing(120.0, 1.0, 4.0);
        t.tempo = None;
        assert_eq!(frames_to_next_bar(&t, 48_000.0), None, "no tempo");
        let mut t = playing(120.0, 1.0, 4.0);
        t.pos_beats = None;
        assert_eq!(frames_to_next_bar(&t, 48_000.0), None, "no position");
        assert_eq!(frames_to_next_bar(&playing(0.0, 1.0, 4.0), 48_000.0), None);
        assert_eq!(
            frames_to_next_bar(&playing(f64::NAN, 1.0, 4.0), 48_000.0),
            None
        );
        assert_eq!(
            frames_to_next_bar(&playing(120.0, f64::INFINITY, 4.0), 48_000.0),
            None
        );
        assert_eq!(
            frames_to_next_bar(&playing(120.0, 1.0, 0.0), 48_000.0),
            None
        );
        assert_eq!(frames_to_next_bar(&playing(120.0, 1.0, 4.0), 0.0), None);
    }
}
