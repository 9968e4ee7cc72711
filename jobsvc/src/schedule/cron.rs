//! Cron expressions (UTC): parsing one, and which firing is due given the
//! last one, so that runs missed while the service was down collapse into
//! one.

use chrono::{DateTime, Utc};
use croner::parser::{CronParser, Seconds, Year};

use crate::error::{Error, Result};

/// A parsed cron expression: five fields (`minute hour day month
/// weekday`), or six with seconds first; times are UTC.
#[derive(Clone, Debug)]
pub struct Cron(croner::Cron);

fn utc(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .ok_or_else(|| Error::internal(format!("time {ms} ms is out of range")))
}

impl Cron {
    /// Parses `expr`; a bad one is a 400 naming it.
    pub fn parse(expr: &str) -> Result<Cron> {
        let parser = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build();
        let fields = expr.split_whitespace().count();
        if !(5..=6).contains(&fields) && !expr.trim_start().starts_with('@') {
            return Err(Error::bad_request(format!(
                "cron {expr:?}: give 5 fields (minute hour day month weekday, UTC) or 6 with seconds first, e.g. \"0 3 * * *\""
            )));
        }
        // A list with an empty item (`,` alone, `1,,2`) is read as no
        // value at all: a field that matches nothing, whose first firing
        // the search below would hunt for through millennia (found by the
        // `api` fuzz target: minutes for `, * * * * 0-0`).
        if let Some(field) = expr
            .split_whitespace()
            .find(|f| f.split(',').any(str::is_empty))
        {
            return Err(Error::bad_request(format!(
                "cron {expr:?}: field {field:?} has an empty item in its list"
            )));
        }
        let cron = parser
            .parse(expr)
            .map_err(|e| Error::bad_request(format!("cron {expr:?}: {e}")))?;
        // A pattern that never matches (31 February) is refused now.
        cron.find_next_occurrence(&utc(0)?, false)
            .map_err(|e| Error::bad_request(format!("cron {expr:?} never fires: {e}")))?;
        Ok(Cron(cron))
    }

    /// The first firing strictly after `ms`.
    pub fn next_after(&self, ms: i64) -> Option<i64> {
        let t = self.0.find_next_occurrence(&utc(ms).ok()?, false).ok()?;
        Some(t.timestamp_millis())
    }

    /// The firing due at `now` when the last one was at `last`: the latest
    /// firing time in `(last, now]`, however many there were (a service
    /// down for three days fires a daily schedule once, not three times).
    pub fn due(&self, last: i64, now: i64) -> Option<i64> {
        let t = self
            .0
            .find_previous_occurrence(&utc(now).ok()?, true)
            .ok()?;
        let t = t.timestamp_millis();
        (t > last).then_some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;
    // 2026-11-22T00:00:00Z
    const MIDNIGHT: i64 = 1_795_305_600_000;

    #[test]
    fn daily_at_three() {
        let c = Cron::parse("0 3 * * *").unwrap();
        assert_eq!(c.next_after(MIDNIGHT), Some(MIDNIGHT + 3 * 3_600_000));
        assert_eq!(
            c.next_after(MIDNIGHT + 3 * 3_600_000),
            Some(MIDNIGHT + DAY + 3 * 3_600_000)
        );
        // Not yet due at 02:59, due at 03:00, not again at 03:01.
        let created = MIDNIGHT;
        assert_eq!(c.due(created, MIDNIGHT + 179 * 60_000), None);
        assert_eq!(
            c.due(created, MIDNIGHT + 180 * 60_000),
            Some(MIDNIGHT + 180 * 60_000)
        );
        assert_eq!(
            c.due(MIDNIGHT + 180 * 60_000, MIDNIGHT + 181 * 60_000),
            None
        );
    }

    #[test]
    fn missed_runs_collapse_into_the_latest() {
        let c = Cron::parse("0 3 * * *").unwrap();
        let last = MIDNIGHT + 3 * 3_600_000;
        // Down for three days and a bit: one firing, the latest missed one.
        let now = last + 3 * DAY + 60_000;
        assert_eq!(c.due(last, now), Some(last + 3 * DAY));
    }

    #[test]
    fn seconds_are_optional() {
        let c = Cron::parse("*/2 * * * * *").unwrap();
        assert_eq!(c.next_after(MIDNIGHT), Some(MIDNIGHT + 2000));
        assert_eq!(c.due(MIDNIGHT, MIDNIGHT + 5500), Some(MIDNIGHT + 4000));
    }

    #[test]
    fn bad_expressions_are_refused_with_the_expression() {
        for bad in [
            "",
            "* * *",
            "61 * * * *",
            "0 3 * * * * *",
            "0 0 31 2 *",
            "every day",
            // Empty list items: refused before any search for a firing.
            ", * * * * 0-0",
            "30 3 , 023 * 0-5",
            "0 1,,2 * * *",
            "0 3 * * 1,",
        ] {
            let e = Cron::parse(bad).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::BadRequest, "{bad}");
            assert!(e.message.contains("cron"), "{bad}: {}", e.message);
        }
    }
}
