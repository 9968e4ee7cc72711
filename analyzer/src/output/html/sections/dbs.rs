//! Keys and memory per database: a table and bars.

use super::super::page::{bytes, count, percent};
use super::super::svg::{hbars, Bar};
use super::super::view::FileView;
use super::{section, table};

/// The databases, in number order.
pub fn render(f: &FileView, id: usize) -> String {
    let rows: Vec<Vec<String>> = f
        .dbs
        .iter()
        .map(|d| {
            vec![
                format!("#{}", d.db),
                format!("#{}", count(d.keys)),
                format!("#{}", count(d.expires)),
                format!("#{}", bytes(d.memory_bytes)),
                format!("#{}", percent(d.memory_bytes, f.memory_bytes)),
            ]
        })
        .collect();
    let bars: Vec<Bar> = f
        .dbs
        .iter()
        .map(|d| Bar {
            label: format!("db {}", d.db),
            value: d.memory_bytes,
            note: bytes(d.memory_bytes),
        })
        .collect();
    section(
        &format!("dbs-{id}"),
        "By database",
        &format!(
            "{}{}",
            table(
                "data",
                &["db", "keys", "with TTL", "memory", "share"],
                &rows
            ),
            hbars(&bars)
        ),
    )
}
