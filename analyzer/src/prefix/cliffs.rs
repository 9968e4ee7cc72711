//! Expiry cliffs: keys per UTC minute of their expire time.

use super::hasher::FastMap;
use crate::model::Bucket;

/// Expiry "cliffs": keys per UTC minute of their expire time, for keys
/// expiring within 30 days after the snapshot time (at most 43,200 minutes).
#[derive(Clone, Debug, Default)]
pub struct CliffAcc {
    minutes: FastMap<i64, Bucket>,
}

/// Minutes counted after "now".
pub const CLIFF_HORIZON_MS: i64 = 30 * 24 * 3_600_000;

impl CliffAcc {
    /// Counts a key expiring at `at` (ms), seen at `now` (ms).
    pub fn add(&mut self, at: i64, now: i64, memory: u64) {
        if at <= now || at - now > CLIFF_HORIZON_MS {
            return;
        }
        let b = self.minutes.entry(at.div_euclid(60_000)).or_default();
        b.keys += 1;
        b.memory_bytes += memory;
    }

    /// Folds `o` in.
    pub fn merge(&mut self, o: CliffAcc) {
        if self.minutes.len() < o.minutes.len() {
            let mine = std::mem::replace(&mut self.minutes, o.minutes);
            return self.merge(CliffAcc { minutes: mine });
        }
        for (m, b) in o.minutes {
            let t = self.minutes.entry(m).or_default();
            t.keys += b.keys;
            t.memory_bytes += b.memory_bytes;
        }
    }

    /// The `n` minutes (start, ms since the epoch) with the most keys
    /// expiring, most first (ties: more memory, then earlier).
    pub fn top(&self, n: usize) -> Vec<(i64, Bucket)> {
        let mut v: Vec<(i64, Bucket)> =
            self.minutes.iter().map(|(m, b)| (m * 60_000, *b)).collect();
        v.sort_by(|a, b| {
            b.1.keys
                .cmp(&a.1.keys)
                .then(b.1.memory_bytes.cmp(&a.1.memory_bytes))
                .then(a.0.cmp(&b.0))
        });
        v.truncate(n);
        v
    }
}

/// `2024-01-31 10:05 UTC` for a time in ms since the epoch.
pub fn utc_minute(ms: i64) -> String {
    let mins = ms.div_euclid(60_000);
    let days = mins.div_euclid(1440);
    let (h, m) = (mins.rem_euclid(1440) / 60, mins.rem_euclid(60));
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{m:02} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_minutes() {
        assert_eq!(utc_minute(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_minute(1_700_000_000_000), "2023-11-14 22:13 UTC");
        assert_eq!(utc_minute(951_782_400_000), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn cliffs() {
        let now = 1_700_000_000_000;
        let mut a = CliffAcc::default();
        let mut b = CliffAcc::default();
        for i in 0..10 {
            a.add(now + 120_000 + i, now, 10);
        }
        for i in 0..5 {
            b.add(now + 600_000 + i * 1000, now, 1);
        }
        b.add(now - 1, now, 1); // expired: not counted
        b.add(now + CLIFF_HORIZON_MS + 1, now, 1); // too far
        a.merge(b);
        let top = a.top(20);
        assert_eq!(top.len(), 2);
        assert_eq!(top[0].0, (now + 120_000) / 60_000 * 60_000);
        assert_eq!(top[0].1.keys, 10);
        assert_eq!(top[1].1.keys, 5);
    }
}
