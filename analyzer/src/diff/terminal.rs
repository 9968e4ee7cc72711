//! The diff's terminal summary: the two sides, totals, top growth and
//! shrink, new and vanished patterns, big-key changes, type, TTL and
//! database shifts, and the notes.

use std::fmt::Write;

use crate::output::terminal::{human_bytes, printable_key};
use crate::prefix::utc_minute;

use super::highlights::{grouped, highlights, signed_bytes, signed_count, signed_pct};
use super::model::{Diff, KeySide, Pattern, Row, SideMeta};

/// Lines in each list of the summary.
pub const LINES: usize = 5;

fn side_line(s: &SideMeta) -> String {
    let mut servers: Vec<&str> = s
        .sources
        .iter()
        .map(|f| f.server_version.as_str())
        .collect();
    servers.dedup();
    let when = s.sources.iter().filter_map(|f| f.ctime).max().map_or_else(
        || "time unknown".to_owned(),
        |t| utc_minute(t.saturating_mul(1000)),
    );
    let files = match s.sources.len() {
        1 => "1 file".to_owned(),
        n => format!("{n} files"),
    };
    format!(
        "{:<4} {} ({files}, {}, {when}{})",
        s.label,
        s.inputs.join(" "),
        servers.join(", "),
        if s.has_keys { "" } else { ", no keys.parquet" }
    )
}

/// `keys 2,642 → 12,642 (+10,000)`.
fn change(name: &str, before: String, after: String, delta: String) -> String {
    format!("{name} {before} → {after} ({delta})")
}

fn pattern_line(r: &Row<Pattern>) -> String {
    format!(
        "`{}` {} ({}), keys {} → {} ({})",
        r.key.pattern,
        signed_bytes(r.memory_delta()),
        signed_pct(r.before.memory_bytes, r.after.memory_bytes),
        grouped(r.before.keys),
        grouped(r.after.keys),
        signed_count(r.keys_delta()),
    )
}

fn key_side(s: &KeySide) -> String {
    match s {
        KeySide::Present(f) => format!("{} {} {}", f.kind, f.encoding, human_bytes(f.memory_bytes)),
        KeySide::Absent => "absent".to_owned(),
        KeySide::Unknown => "unknown".to_owned(),
    }
}

/// The whole summary.
pub fn render(d: &Diff) -> String {
    let mut out = String::new();
    let t = d.totals();
    let _ = writeln!(
        out,
        "rdbscope diff\n{}\n{}",
        side_line(&d.old),
        side_line(&d.new)
    );
    let _ = writeln!(
        out,
        "totals: {}; {}; {}",
        change(
            "keys",
            grouped(t.before.keys),
            grouped(t.after.keys),
            signed_count(t.keys_delta())
        ),
        change(
            "memory",
            human_bytes(t.before.memory_bytes),
            human_bytes(t.after.memory_bytes),
            format!(
                "{}, {}",
                signed_bytes(t.memory_delta()),
                signed_pct(t.before.memory_bytes, t.after.memory_bytes)
            )
        ),
        change(
            "keys with a TTL",
            grouped(t.before.expires),
            grouped(t.after.expires),
            signed_count(t.expires_delta())
        ),
    );
    let h = highlights(d, LINES);
    for (title, list) in [
        ("top growth", &h.growth),
        ("top shrink", &h.shrink),
        ("new prefixes", &h.new),
        ("vanished prefixes", &h.vanished),
    ] {
        if list.is_empty() {
            let _ = writeln!(out, "{title}: none");
            continue;
        }
        for (n, &i) in list.iter().enumerate() {
            let lead = if n == 0 {
                format!("{title}:")
            } else {
                " ".repeat(title.len() + 1)
            };
            let _ = writeln!(out, "{lead} {}", pattern_line(&d.prefixes[i]));
        }
    }
    let _ = writeln!(out, "big keys changed: {}", grouped(d.keys.len() as u64));
    for c in d.keys.iter().take(LINES) {
        let _ = writeln!(
            out,
            "  {:<11} db {} {}: {} → {}",
            c.change.name(),
            c.db,
            printable_key(&c.key),
            key_side(&c.before),
            key_side(&c.after)
        );
    }
    let shifts: Vec<String> = d
        .types
        .iter()
        .filter(|r| r.before.keys != r.after.keys)
        .map(|r| format!("{} {} {}", r.key.0, r.key.1, signed_count(r.keys_delta())))
        .collect();
    let _ = writeln!(
        out,
        "types: {}",
        if shifts.is_empty() {
            "no change".to_owned()
        } else {
            shifts.join(", ")
        }
    );
    let ttl: Vec<String> = d
        .expiry
        .iter()
        .filter(|r| r.before.keys != r.after.keys)
        .map(|r| format!("{} {}", r.key, signed_count(r.keys_delta())))
        .collect();
    let _ = writeln!(
        out,
        "TTL buckets: {}",
        if ttl.is_empty() {
            "no change".to_owned()
        } else {
            ttl.join(", ")
        }
    );
    let dbs: Vec<String> = d
        .dbs
        .iter()
        .filter(|r| r.before != r.after)
        .map(|r| {
            format!(
                "db {} {} keys {}",
                r.key,
                signed_count(r.keys_delta()),
                signed_bytes(r.memory_delta())
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "databases: {}",
        if dbs.is_empty() {
            "no change".to_owned()
        } else {
            dbs.join(", ")
        }
    );
    let slots = d.slots.iter().filter(|r| r.before != r.after).count();
    let _ = writeln!(out, "slots changed: {}", grouped(slots as u64));
    for n in &d.notes {
        let _ = writeln!(out, "note: {n}");
    }
    out
}
