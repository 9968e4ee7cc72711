//! Hot keys by LFU counter or LRU idle time, or the note saying why the
//! file has none.

use super::super::page::{bytes, esc};
use super::super::view::{FileView, KeyRow};
use super::bigkeys::key_cell;
use super::{section, table};

fn rows(keys: &[KeyRow], measure: impl Fn(&KeyRow) -> String) -> Vec<Vec<String>> {
    keys.iter()
        .map(|k| {
            vec![
                format!("#{}", k.db),
                key_cell(k),
                esc(&k.kind),
                format!("#{}", esc(&measure(k))),
                format!("#{}", bytes(k.memory_bytes)),
            ]
        })
        .collect()
}

/// The hot-key tables or the note.
pub fn render(f: &FileView, id: usize) -> String {
    let mut body = String::new();
    if !f.hot_lfu.is_empty() {
        body.push_str("<h3>By LFU counter (highest first)</h3>");
        body.push_str(&table(
            "data",
            &["db", "key", "type", "LFU counter", "memory"],
            &rows(&f.hot_lfu, |k| {
                k.lfu_freq.map_or("-".into(), |v| v.to_string())
            }),
        ));
    }
    if !f.hot_lru.is_empty() {
        body.push_str("<h3>By LRU idle time (least idle first)</h3>");
        body.push_str(&table(
            "data",
            &["db", "key", "type", "idle seconds", "memory"],
            &rows(&f.hot_lru, |k| {
                k.idle_seconds.map_or("-".into(), |v| v.to_string())
            }),
        ));
    }
    if body.is_empty() {
        let note = f.hot_note.as_deref().unwrap_or("no hot keys in this file");
        body = format!("<p class=\"note\">{}</p>", esc(note));
    }
    section(&format!("hotkeys-{id}"), "Hot keys", &body)
}
