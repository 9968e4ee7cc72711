//! Time to live: keys and memory per TTL bucket, and the minutes in which
//! the most keys expire (the expiry cliffs) on a timeline.

use crate::prefix::utc_minute;

use super::super::page::{bytes, count, percent};
use super::super::svg::{columns, hbars, Bar};
use super::super::view::FileView;
use super::section;

/// TTL bars and the cliff timeline.
pub fn render(f: &FileView, id: usize) -> String {
    let keys: Vec<Bar> = f
        .expiry
        .iter()
        .map(|b| Bar {
            label: b.label.clone(),
            value: b.keys,
            note: format!("{} keys ({})", count(b.keys), percent(b.keys, f.keys)),
        })
        .collect();
    let memory: Vec<Bar> = f
        .expiry
        .iter()
        .map(|b| Bar {
            label: b.label.clone(),
            value: b.memory_bytes,
            note: bytes(b.memory_bytes),
        })
        .collect();
    let mut cliffs = f.cliffs.clone();
    cliffs.sort();
    let timeline = if cliffs.is_empty() {
        "<p class=\"note\">No key expires within 30 days of the snapshot.</p>".to_owned()
    } else {
        let bars: Vec<Bar> = cliffs
            .iter()
            .map(|&(m, k, mem)| Bar {
                label: utc_minute(m).trim_end_matches(" UTC").to_owned(),
                value: k,
                note: format!("{} keys, {}", count(k), bytes(mem)),
            })
            .collect();
        format!(
            "<p class=\"note\">The {} minutes (UTC, within 30 days of the snapshot) in which the most keys expire, in time order.</p>{}",
            cliffs.len(),
            columns(&bars)
        )
    };
    section(
        &format!("ttl-{id}"),
        "Time to live",
        &format!(
            "<h3>Keys per TTL bucket</h3>{}<h3>Memory per TTL bucket</h3>{}<h3>Expiry cliffs</h3>{timeline}",
            hbars(&keys),
            hbars(&memory)
        ),
    )
}
