//! A ticket's `run_at`: an RFC 3339 time read and checked (not in the past,
//! not absurdly far ahead).

use chrono::DateTime;

use crate::error::{Error, Result};
use crate::time::rfc3339;

/// Milliseconds since the epoch of `text`, an RFC 3339 time
/// (`2026-11-22T03:00:00Z`, `2026-11-22T11:00:00+08:00`), refused with a
/// 400 when it is before `now` or more than `max_days` ahead.
pub fn parse_run_at(text: &str, now: i64, max_days: u64) -> Result<i64> {
    let t = DateTime::parse_from_rfc3339(text.trim()).map_err(|e| {
        Error::bad_request(format!(
            "run_at: {text:?} is not an RFC 3339 time such as 2026-11-22T03:00:00Z ({e})"
        ))
    })?;
    let ms = t.timestamp_millis();
    if ms < now {
        return Err(Error::bad_request(format!(
            "run_at: {text:?} is in the past (it is {} now)",
            rfc3339(now)
        )));
    }
    let limit = now + (max_days as i64) * 86_400_000;
    if ms > limit {
        return Err(Error::bad_request(format!(
            "run_at: {text:?} is more than {max_days} days ahead (run_at_max_days)"
        )));
    }
    Ok(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_339_200_000; // 2026-11-22T09:20:00Z

    #[test]
    fn times_with_offsets_and_fractions() {
        assert_eq!(
            parse_run_at("2026-11-22T09:30:00Z", NOW, 30).unwrap(),
            NOW + 600_000
        );
        assert_eq!(
            parse_run_at("2026-11-22T17:30:00+08:00", NOW, 30).unwrap(),
            NOW + 600_000
        );
        assert_eq!(
            parse_run_at("2026-11-22T09:30:00.250Z", NOW, 30).unwrap(),
            NOW + 600_250
        );
    }

    #[test]
    fn past_far_and_malformed_times_are_refused() {
        for (bad, why) in [
            ("2026-11-22T09:19:59Z", "in the past"),
            ("2027-11-22T09:30:00Z", "more than 30 days ahead"),
            ("tomorrow", "not an RFC 3339 time"),
            ("2026-11-22 09:30", "not an RFC 3339 time"),
        ] {
            let e = parse_run_at(bad, NOW, 30).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::BadRequest);
            assert!(e.message.contains(why), "{bad}: {}", e.message);
        }
    }
}
