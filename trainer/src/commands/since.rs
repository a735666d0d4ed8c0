//! The `--since` value of `export-session`: `all`, unix milliseconds, or an RFC 3339 date or
//! date-time, turned into the store's unit (unix ms). Parsed here rather than with a date crate
//! because this one flag is the trainer's only use for calendar dates.

/// Parses `all` (every rating), an integer (unix ms), `YYYY-MM-DD` (midnight UTC) or
/// `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)` into unix ms.
pub fn parse_since(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("all") {
        return Ok(i64::MIN);
    }
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    parse_rfc3339(s).ok_or_else(|| {
        format!("{s:?} is not `all`, unix milliseconds, or an RFC 3339 date such as 2026-11-01 or 2026-11-01T12:00:00Z")
    })
}

/// RFC 3339 full-date or date-time to unix ms; `None` when malformed or out of range.
fn parse_rfc3339(s: &str) -> Option<i64> {
    // ASCII only, so the fixed byte offsets below are always character boundaries.
    let b = s.as_bytes();
    if !s.is_ascii() || b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits(&s[0..4])?;
    let month = digits(&s[5..7])?;
    let day = digits(&s[8..10])?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if b.len() == 10 {
        return Some(days * 86_400_000);
    }
    if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 20 || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (hour, minute, second) = (
        digits(&s[11..13])?,
        digits(&s[14..16])?,
        digits(&s[17..19])?,
    );
    // 60 is a leap second; unix time has none, so it counts as :59.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut millis = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        // Milliseconds are the store's resolution: keep three digits, drop the rest.
        let ms_digits = format!("{:0<3}", &frac[..n.min(3)]);
        millis = digits(&ms_digits)?;
        rest = &frac[n..];
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || rb[3] != b':' {
                return None;
            }
            let sign = match rb[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, om) = (digits(&rest[1..3])?, digits(&rest[4..6])?);
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 60 + om)
        }
    };
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second.min(59) - offset_minutes * 60;
    Some(secs * 1000 + millis)
}

/// An all-ASCII-digit field as a number (no sign, no spaces).
fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Proleptic Gregorian date → days since 1970-01-01 (Howard Hinnant's algorithm, the inverse
/// of the engine's `civil_from_days`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse_since;

    #[test]
    fn accepts_all_millis_and_rfc3339() {
        assert_eq!(parse_since("all"), Ok(i64::MIN));
        assert_eq!(parse_since("1764000000000"), Ok(1_764_000_000_000));
        assert_eq!(parse_since("1970-01-01"), Ok(0));
        assert_eq!(parse_since("2000-03-01"), Ok(951_868_800_000));
        assert_eq!(parse_since("2026-11-25T00:00:00Z"), Ok(1_795_564_800_000));
        assert_eq!(
            parse_since("2026-11-25T01:30:00+01:30"),
            Ok(1_795_564_800_000)
        );
        assert_eq!(
            parse_since("2026-11-25t00:00:00.25z"),
            Ok(1_795_564_800_250)
        );
        assert_eq!(
            parse_since("2026-11-24T19:00:00.123456-05:00"),
            Ok(1_795_564_800_123)
        );
        assert_eq!(parse_since("2024-02-29"), Ok(1_709_164_800_000));
    }

    #[test]
    fn refuses_malformed_dates() {
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-02-29",
            "2026-11-25T24:00:00Z",
            "2026-11-25T00:00:00",
            "2026-11-25T00:00:00+0100",
            "2026-11-25T00:00:00.Z",
            "26-11-25",
            "2026-11-25T00:00:00é",
            "2026-ü1-25",
        ] {
            assert!(parse_since(bad).is_err(), "{bad}");
        }
    }
}
