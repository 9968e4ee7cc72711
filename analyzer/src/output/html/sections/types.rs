//! Memory and keys by type × encoding, as bars.

use super::super::page::{bytes, count, percent};
use super::super::svg::{hbars, Bar};
use super::super::view::FileView;
use super::section;

/// Two bar charts: memory and keys per (type, encoding), largest first.
pub fn render(f: &FileView, id: usize) -> String {
    let mut rows: Vec<_> = f.types.iter().collect();
    rows.sort_by_key(|t| std::cmp::Reverse(t.memory_bytes));
    let memory: Vec<Bar> = rows
        .iter()
        .map(|t| Bar {
            label: format!("{} / {}", t.kind, t.encoding),
            value: t.memory_bytes,
            note: format!(
                "{} ({})",
                bytes(t.memory_bytes),
                percent(t.memory_bytes, f.memory_bytes)
            ),
        })
        .collect();
    rows.sort_by_key(|t| std::cmp::Reverse(t.keys));
    let keys: Vec<Bar> = rows
        .iter()
        .map(|t| Bar {
            label: format!("{} / {}", t.kind, t.encoding),
            value: t.keys,
            note: format!("{} keys ({})", count(t.keys), percent(t.keys, f.keys)),
        })
        .collect();
    section(
        &format!("types-{id}"),
        "Memory and keys by type and encoding",
        &format!(
            "<h3>Memory</h3>{}<h3>Keys</h3>{}",
            hbars(&memory),
            hbars(&keys)
        ),
    )
}
