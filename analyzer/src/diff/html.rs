//! `diff.html`: the diff as one self-contained page in the report's style
//! (its style sheet, page shell, escaping, tables and SVG bars), readable
//! without script; the report's script sorts and filters the tables.

use std::fmt::Write;

use serde_json::json;

use crate::output::html::page::{bytes, count, document, esc};
use crate::output::html::sections::section;
use crate::output::html::svg::{hbars, Bar};
use crate::output::html::view::display_key;
use crate::prefix::utc_minute;

use super::highlights::{highlights, signed_bytes, signed_count, signed_pct, Highlights};
use super::model::{Diff, KeySide, Row, SideMeta};

/// Pattern rows in the page's table at most (`diff.parquet` has them all).
pub const PAGE_PATTERN_ROWS: usize = 2000;
/// Changed slots listed at most.
pub const PAGE_SLOT_ROWS: usize = 200;

/// A table cell: text (already HTML) or a number sorted by its value.
enum Cell {
    Text(String),
    Num(i128, String),
}

fn num(v: impl Into<i128>, text: String) -> Cell {
    Cell::Num(v.into(), text)
}

/// A sortable table: `head` names (numeric when the flag is set) and rows.
fn grid(id: &str, head: &[(&str, bool)], rows: &[Vec<Cell>]) -> String {
    let mut out = format!(
        "<table class=\"data sortable\" id=\"{}\"><thead><tr>",
        esc(id)
    );
    for (h, numeric) in head {
        let ty = if *numeric { " data-type=\"n\"" } else { "" };
        let _ = write!(out, "<th{ty}>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let _ = match c {
                Cell::Text(t) => write!(out, "<td>{t}</td>"),
                Cell::Num(v, t) => write!(out, "<td class=\"n\" data-v=\"{v}\">{}</td>", esc(t)),
            };
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

fn side_cells(s: &SideMeta) -> (String, String) {
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
    (
        format!("{} ({})", s.label, s.inputs.join(", ")),
        format!(
            "{} file(s), {}, {when}{}",
            s.sources.len(),
            servers.join(", "),
            if s.has_keys { "" } else { ", no keys.parquet" }
        ),
    )
}

fn headline(d: &Diff) -> String {
    let t = d.totals();
    let (old_k, old_v) = side_cells(&d.old);
    let (new_k, new_v) = side_cells(&d.new);
    let cells = [
        (old_k, old_v),
        (new_k, new_v),
        (
            "Keys".to_owned(),
            format!(
                "{} → {} ({})",
                count(t.before.keys),
                count(t.after.keys),
                signed_count(t.keys_delta())
            ),
        ),
        (
            "Memory estimate".to_owned(),
            format!(
                "{} → {} ({}, {})",
                bytes(t.before.memory_bytes),
                bytes(t.after.memory_bytes),
                signed_bytes(t.memory_delta()),
                signed_pct(t.before.memory_bytes, t.after.memory_bytes)
            ),
        ),
        (
            "Keys with a TTL".to_owned(),
            format!(
                "{} → {} ({})",
                count(t.before.expires),
                count(t.after.expires),
                signed_count(t.expires_delta())
            ),
        ),
        (
            "RDB bytes".to_owned(),
            format!(
                "{} → {} ({})",
                bytes(t.before.rdb_bytes),
                bytes(t.after.rdb_bytes),
                signed_bytes(t.rdb_delta())
            ),
        ),
    ];
    let mut out = String::from("<dl class=\"headline\">");
    for (k, v) in cells {
        out.push_str(&format!(
            "<div><dt>{}</dt><dd>{}</dd></div>",
            esc(&k),
            esc(&v)
        ));
    }
    out.push_str("</dl>\n");
    if !d.notes.is_empty() {
        out.push_str("<ul class=\"note\">");
        for note in &d.notes {
            out.push_str(&format!("<li>{}</li>", esc(note)));
        }
        out.push_str("</ul>\n");
    }
    out
}

fn changes(d: &Diff, h: &Highlights) -> String {
    let mut body = String::new();
    for (title, list) in [
        ("Top growth", &h.growth),
        ("Top shrink", &h.shrink),
        ("New prefixes", &h.new),
        ("Vanished prefixes", &h.vanished),
    ] {
        body.push_str(&format!("<h3>{}</h3>", esc(title)));
        if list.is_empty() {
            body.push_str("<p class=\"note\">none</p>");
            continue;
        }
        let bars: Vec<Bar> = list
            .iter()
            .map(|&i| {
                let r = &d.prefixes[i];
                Bar {
                    label: r.key.pattern.clone(),
                    value: r.memory_delta().unsigned_abs(),
                    note: format!(
                        "{}, {} keys",
                        signed_bytes(r.memory_delta()),
                        signed_count(r.keys_delta())
                    ),
                }
            })
            .collect();
        body.push_str(&hbars(&bars));
    }
    section("changes", "What changed", &body)
}

fn figure_cells<K>(r: &Row<K>) -> Vec<Cell> {
    vec![
        num(r.before.keys, count(r.before.keys)),
        num(r.after.keys, count(r.after.keys)),
        num(r.keys_delta(), signed_count(r.keys_delta())),
        num(r.before.memory_bytes, bytes(r.before.memory_bytes)),
        num(r.after.memory_bytes, bytes(r.after.memory_bytes)),
        num(r.memory_delta(), signed_bytes(r.memory_delta())),
        num(
            r.memory_delta_pct()
                .map_or(i128::MAX, |p| (p * 10.0) as i128),
            signed_pct(r.before.memory_bytes, r.after.memory_bytes),
        ),
    ]
}

/// The heads of `first` columns (text) and the figure columns.
fn head<'a>(first: &[&'a str]) -> Vec<(&'a str, bool)> {
    first
        .iter()
        .map(|h| (*h, false))
        .chain(
            [
                "keys before",
                "keys after",
                "Δ keys",
                "memory before",
                "memory after",
                "Δ memory",
                "Δ %",
            ]
            .into_iter()
            .map(|h| (h, true)),
        )
        .collect()
}

fn prefixes(d: &Diff) -> String {
    let rows: Vec<Vec<Cell>> = d
        .prefixes
        .iter()
        .filter(|r| r.before != r.after)
        .take(PAGE_PATTERN_ROWS)
        .map(|r| {
            let mut c = vec![
                Cell::Text(format!("<code>{}</code>", esc(&r.key.pattern))),
                num(r.key.depth, r.key.depth.to_string()),
                Cell::Text(r.status().name().to_owned()),
            ];
            c.extend(figure_cells(r));
            c
        })
        .collect();
    let changed = d.prefixes.iter().filter(|r| r.before != r.after).count();
    let body = format!(
        "<p class=\"note\">{} of {} patterns changed (down to depth {}; diff.parquet has every row).</p>\
         <input class=\"filter\" data-table=\"prefix-table\" placeholder=\"filter patterns\">{}",
        count(changed as u64),
        count(d.prefixes.len() as u64),
        d.compared_depth,
        grid("prefix-table", &head(&["pattern", "depth", "status"]), &rows)
    );
    section("prefixes", "Patterns that changed", &body)
}

/// A key on one side: its type / encoding, and its memory (value, text).
fn key_side(s: &KeySide) -> (String, (u64, String)) {
    match s {
        KeySide::Present(f) => (
            format!("{} / {}", f.kind, f.encoding),
            (f.memory_bytes, bytes(f.memory_bytes)),
        ),
        KeySide::Absent => ("absent".to_owned(), (0, "-".to_owned())),
        KeySide::Unknown => ("unknown".to_owned(), (0, "?".to_owned())),
    }
}

fn big_keys(d: &Diff) -> String {
    let rows: Vec<Vec<Cell>> = d
        .keys
        .iter()
        .map(|c| {
            let (tb, mb) = key_side(&c.before);
            let (ta, ma) = key_side(&c.after);
            let delta = c.memory_delta();
            vec![
                Cell::Text(esc(c.change.name())),
                num(c.db, c.db.to_string()),
                Cell::Text(format!("<code>{}</code>", esc(&display_key(&c.key)))),
                Cell::Text(esc(&tb)),
                Cell::Text(esc(&ta)),
                num(mb.0, mb.1),
                num(ma.0, ma.1),
                num(
                    delta.unwrap_or(0),
                    delta.map_or("?".to_owned(), signed_bytes),
                ),
            ]
        })
        .collect();
    let note = if d.per_key {
        ""
    } else {
        "<p class=\"note\">Per-key diffs are not available (a side has no keys.parquet): a big key \
         missing from one side's lists is shown as entered_top or left_top.</p>"
    };
    let body = format!(
        "{note}<input class=\"filter\" data-table=\"key-table\" placeholder=\"filter keys\">{}",
        grid(
            "key-table",
            &[
                ("change", false),
                ("db", true),
                ("key", false),
                ("before", false),
                ("after", false),
                ("memory before", true),
                ("memory after", true),
                ("Δ memory", true),
            ],
            &rows
        )
    );
    section("bigkeys", "Big keys that changed", &body)
}

fn simple<K>(
    id: &str,
    title: &str,
    first: &str,
    rows: &[Row<K>],
    label: impl Fn(&K) -> String,
) -> String {
    let cells: Vec<Vec<Cell>> = rows
        .iter()
        .map(|r| {
            let mut c = vec![Cell::Text(esc(&label(&r.key)))];
            c.extend(figure_cells(r));
            c
        })
        .collect();
    section(
        id,
        title,
        &grid(&format!("{id}-table"), &head(&[first]), &cells),
    )
}

fn slots(d: &Diff) -> String {
    let mut changed: Vec<&Row<u16>> = d.slots.iter().filter(|r| r.before != r.after).collect();
    changed.sort_by_key(|r| std::cmp::Reverse(r.memory_delta().unsigned_abs()));
    let total = changed.len();
    changed.truncate(PAGE_SLOT_ROWS);
    let rows: Vec<Row<u16>> = changed.into_iter().cloned().collect();
    let mut s = simple(
        "slots",
        "Cluster slots that changed",
        "slot",
        &rows,
        u16::to_string,
    );
    s = s.replacen(
        "</h2>\n",
        &format!(
            "</h2>\n<p class=\"note\">{} slots changed; the {} largest changes shown.</p>",
            count(total as u64),
            count(rows.len() as u64)
        ),
        1,
    );
    s
}

/// The whole page.
pub fn render(d: &Diff) -> String {
    let h = highlights(d, 10);
    let mut body = String::from("<header><h1>rdbscope diff</h1><nav>");
    for (id, name) in [
        ("changes", "changes"),
        ("prefixes", "patterns"),
        ("bigkeys", "big keys"),
        ("types", "types"),
        ("ttl", "TTL"),
        ("dbs", "databases"),
        ("slots", "slots"),
    ] {
        body.push_str(&format!("<a href=\"#{id}\">{name}</a> "));
    }
    body.push_str("</nav></header>\n<main>\n");
    body.push_str(&headline(d));
    body.push_str(&changes(d, &h));
    body.push_str(&prefixes(d));
    body.push_str(&big_keys(d));
    body.push_str(&simple(
        "types",
        "Types and encodings",
        "type / encoding",
        &d.types,
        |k| format!("{} / {}", k.0, k.1),
    ));
    body.push_str(&simple(
        "ttl",
        "TTL buckets",
        "bucket",
        &d.expiry,
        String::clone,
    ));
    body.push_str(&simple("dbs", "Databases", "db", &d.dbs, i64::to_string));
    body.push_str(&slots(d));
    body.push_str(
        "</main>\n<footer>Memory figures are estimates of what each key takes once loaded, \
         not measurements. Written by rdbscope diff.</footer>\n",
    );
    let title = format!(
        "rdbscope diff: {} → {}",
        d.old.inputs.join(", "),
        d.new.inputs.join(", ")
    );
    document(&title, &body, &json!({ "files": [] }))
}

#[cfg(test)]
mod tests {
    use super::super::model::{Fig, KeyChange, KeyChangeKind, KeyFig, Pattern};
    use super::*;

    #[test]
    fn key_names_and_patterns_render_as_text() {
        let fig = |keys| Fig {
            keys,
            memory_bytes: keys * 100,
            ..Fig::default()
        };
        let d = Diff {
            prefixes: vec![Row {
                key: Pattern {
                    pattern: "</script><b>p</b>".into(),
                    depth: 1,
                },
                before: fig(0),
                after: fig(3),
            }],
            keys: vec![KeyChange {
                change: KeyChangeKind::New,
                db: 0,
                key: b"</script><b>x</b>\xff".to_vec(),
                before: KeySide::Absent,
                after: KeySide::Present(KeyFig {
                    kind: "string".into(),
                    encoding: "raw".into(),
                    memory_bytes: 300,
                    elements: 3,
                    rdb_bytes: 3,
                }),
            }],
            ..Diff::default()
        };
        let html = render(&d);
        assert!(!html.contains("<b>x</b>") && !html.contains("<b>p</b>"));
        assert!(html.contains("<code>&lt;/script&gt;&lt;b&gt;x&lt;/b&gt;\\xff</code>"));
        assert!(html.contains("<code>&lt;/script&gt;&lt;b&gt;p&lt;/b&gt;</code>"));
        // The only `</script>`s close the page's two script elements.
        assert_eq!(html.matches("</script>").count(), 2);
        assert!(html.contains("<table class=\"data sortable\" id=\"key-table\">"));
        assert!(html.contains("<td class=\"n\" data-v=\"300\">+300 B</td>"));
    }
}
