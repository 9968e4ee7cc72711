//! Cluster slots: a heat map of the 16384 slots (128×128 cells, shaded by
//! memory) and the hash tags holding the most memory.

use super::super::page::{bytes, count, esc};
use super::super::svg::{heatmap, SHADES};
use super::super::view::FileView;
use super::{section, table};

/// Slots in a cluster.
const SLOTS: usize = 16384;
/// Cells a side.
const SIDE: usize = 128;

/// The heat map and the hash-tag table; nothing for a file without keys.
pub fn render(f: &FileView, id: usize) -> String {
    if f.slots.is_empty() {
        return String::new();
    }
    let mut memory = vec![0u64; SLOTS];
    for &(slot, _, mem) in &f.slots {
        if let Some(m) = memory.get_mut(usize::from(slot)) {
            *m = mem;
        }
    }
    let mut top = f.slots.clone();
    top.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    let top_rows: Vec<Vec<String>> = top
        .iter()
        .take(10)
        .map(|&(s, k, m)| {
            vec![
                format!("#{s}"),
                format!("#{}", count(k)),
                format!("#{}", bytes(m)),
            ]
        })
        .collect();
    let tags: Vec<Vec<String>> = f
        .hash_tags
        .iter()
        .map(|t| {
            vec![
                format!("<code>{{{}}}</code>", esc(&t.label)),
                format!("#{}", count(t.keys)),
                format!("#{}", bytes(t.memory_bytes)),
            ]
        })
        .collect();
    let legend: String = SHADES
        .iter()
        .map(|c| format!("<span style=\"background:{c}\"></span>"))
        .collect();
    let mut body = format!(
        "<p class=\"note\">Where the keys live (or would live) in a cluster: slot 0 at the top left, \
         128 slots a row, shaded by memory against the average slot holding keys (the middle \
         shade; each shade darker is twice as much) ({} slots hold keys).</p>\
         <div class=\"heatwrap\">{}<div><div class=\"legend\">less {legend} more than average</div>\
         <h3>Slots with the most memory</h3>{}</div></div>",
        count(f.slots.len() as u64),
        heatmap(&memory, SIDE, 4),
        table("data", &["slot", "keys", "memory"], &top_rows)
    );
    body.push_str("<h3>Hash tags</h3>");
    if tags.is_empty() {
        body.push_str("<p class=\"note\">No key has a hash tag.</p>");
    } else {
        body.push_str(&table("data", &["hash tag", "keys", "memory"], &tags));
    }
    section(&format!("slots-{id}"), "Cluster slots", &body)
}
