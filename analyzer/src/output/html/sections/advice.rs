//! The recommendations section: each one with the keys or prefixes it
//! applies to and the memory at stake.

use std::fmt::Write;

use super::super::advice::{recommendations, Advice};
use super::super::page::{bytes, count, esc};
use super::super::view::FileView;
use super::section;

/// The recommendations of one file (or a line saying there are none).
pub fn render(f: &FileView, id: usize) -> String {
    let all = recommendations(f);
    let mut body = String::new();
    if all.is_empty() {
        body.push_str("<p class=\"note\">Nothing to recommend: no blocking big collection, no long list \
                       or stream, no large prefix without TTL, no expired key left, no hot slot, no \
                       collection just over its listpack limit, no string that compresses well.</p>");
    }
    for a in &all {
        body.push_str(&one(a));
    }
    section(&format!("advice-{id}"), "Recommendations", &body)
}

/// One recommendation: title, memory at stake, why, and its items.
pub fn one(a: &Advice) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        "<div class=\"advice\"><h3>{}: {} at stake, {} item{}</h3><p>{}</p><ul>",
        esc(&a.title),
        bytes(a.memory_bytes),
        count(a.count as u64),
        if a.count == 1 { "" } else { "s" },
        esc(&a.detail)
    );
    for (label, memory) in &a.items {
        let _ = write!(
            body,
            "<li><code>{}</code>: {}</li>",
            esc(label),
            bytes(*memory)
        );
    }
    if a.count > a.items.len() {
        let _ = write!(
            body,
            "<li>… and {} more</li>",
            count((a.count - a.items.len()) as u64)
        );
    }
    body.push_str("</ul></div>");
    body
}
