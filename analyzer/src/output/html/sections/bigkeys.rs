//! The big keys: a table the script sorts (click a heading) and filters
//! (type in the box); every key escaped as text.

use std::fmt::Write;

use crate::prefix::utc_minute;

use super::super::page::{bytes, count, esc};
use super::super::view::{FileView, KeyRow};
use super::section;

/// A key cell: `<code>` text, escaped.
pub fn key_cell(k: &KeyRow) -> String {
    format!("<code>{}</code>", esc(&k.key))
}

/// The big-key table.
pub fn render(f: &FileView, id: usize) -> String {
    let mut out = format!(
        "<p class=\"note\">The biggest keys of every type by memory and every key over a big-key threshold, most memory first ({} keys).</p>\
         <input class=\"filter\" type=\"search\" placeholder=\"filter: key, type, encoding, db\" data-table=\"bigkeys-table-{id}\">\
         <table class=\"data sortable\" id=\"bigkeys-table-{id}\"><thead><tr>\
         <th data-type=\"n\">db</th><th>key</th><th>type</th><th>encoding</th>\
         <th data-type=\"n\">memory</th><th data-type=\"n\">elements</th>\
         <th data-type=\"n\">longest element</th><th data-type=\"n\">expires</th></tr></thead><tbody>",
        f.big_keys.len()
    );
    for k in &f.big_keys {
        let expires = k.expire_at_ms.map_or("-".to_owned(), utc_minute);
        let _ = write!(
            out,
            "<tr><td class=\"n\" data-v=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"n\" data-v=\"{}\">{}</td><td class=\"n\" data-v=\"{}\">{}</td>\
             <td class=\"n\" data-v=\"{}\">{}</td><td class=\"n\" data-v=\"{}\">{}</td></tr>",
            k.db,
            k.db,
            key_cell(k),
            esc(&k.kind),
            esc(&k.encoding),
            k.memory_bytes,
            bytes(k.memory_bytes),
            k.elements,
            count(k.elements),
            k.max_element_bytes,
            bytes(k.max_element_bytes),
            k.expire_at_ms.unwrap_or(i64::MAX),
            esc(&expires),
        );
    }
    out.push_str("</tbody></table>");
    section(&format!("bigkeys-{id}"), "Big keys", &out)
}
