//! The report's sections, one module each, every one drawn from a file's
//! view (`id` tells a file's elements apart when there are several).

pub mod advice;
pub mod bigkeys;
pub mod dbs;
pub mod headline;
pub mod hotkeys;
pub mod prefixes;
pub mod slots;
pub mod sources;
pub mod ttl;
pub mod types;

use std::fmt::Write;

use super::page::esc;

/// A table: `head` cells (already HTML) and rows of cells (already HTML);
/// a cell starting with `#` is a number (right-aligned; the `#` dropped).
pub fn table(class: &str, head: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("<table class=\"{class}\"><thead><tr>");
    for h in head {
        let _ = write!(out, "<th>{h}</th>");
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            match c.strip_prefix('#') {
                Some(n) => {
                    let _ = write!(out, "<td class=\"n\">{n}</td>");
                }
                None => {
                    let _ = write!(out, "<td>{c}</td>");
                }
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// A section with its heading.
pub fn section(id: &str, title: &str, body: &str) -> String {
    format!(
        "<section id=\"{}\"><h2>{}</h2>\n{body}</section>\n",
        esc(id),
        esc(title)
    )
}
