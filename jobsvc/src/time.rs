//! Time as text: RFC 3339 UTC timestamps for the API, the log and plans,
//! and dates read back from the API's filters.

/// RFC 3339 UTC from milliseconds since the epoch.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Milliseconds since the epoch of `YYYY-MM-DD` (midnight UTC) or of
/// `YYYY-MM-DDTHH:MM:SSZ`; with `day_end`, a bare date means the midnight
/// that ends it (so that "until a date" includes the date). None when
/// malformed.
pub fn parse_time(text: &str, day_end: bool) -> Option<i64> {
    let b = text.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    let secs = match b.len() {
        10 => days * 86_400 + if day_end { 86_400 } else { 0 },
        20 if b[10] == b'T' && b[13] == b':' && b[16] == b':' && b[19] == b'Z' => {
            let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
            if h > 23 || mi > 59 || s > 60 {
                return None;
            }
            days * 86_400 + h * 3600 + mi * 60 + s + i64::from(day_end)
        }
        _ => return None,
    };
    Some(secs * 1000)
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_339_200_123), "2026-11-22T09:20:00Z");
    }

    #[test]
    fn dates_read_back() {
        use super::parse_time;
        for ms in [0, 951_782_400_000, 1_795_339_200_000, 1_795_305_600_000] {
            assert_eq!(parse_time(&rfc3339(ms), false), Some(ms), "{}", rfc3339(ms));
        }
        assert_eq!(parse_time("2026-11-22", false), Some(1_795_305_600_000));
        assert_eq!(parse_time("2026-11-22", true), Some(1_795_392_000_000));
        // Until a second: that second is included.
        assert_eq!(parse_time("1970-01-01T00:00:00Z", true), Some(1000));
        for bad in [
            "",
            "2026-13-01",
            "2026-1-01",
            "yesterday",
            "2026-11-22T25:00:00Z",
            "2026-11-22 09:00",
        ] {
            assert_eq!(parse_time(bad, false), None, "{bad}");
        }
    }
}
