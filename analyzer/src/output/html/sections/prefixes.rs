//! The prefix drill-down: the data of the icicle the script draws (every
//! node with its parent), and a plain table of the top prefixes (with how
//! each pattern was formed and two example keys) for readers without
//! JavaScript.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::super::page::{bytes, count, esc, percent};
use super::super::view::{FileView, PrefixNode};
use super::{section, table};
use crate::prefix::CUT_BY_MEMORY_NOTE;

/// Rows of the static table.
const TABLE_ROWS: usize = 20;

/// For each node, the position of its parent: the node one level up whose
/// pattern is the longest that starts this one's (`-1` for the top level).
pub fn parents(nodes: &[PrefixNode]) -> Vec<i64> {
    let index: HashMap<(&str, u64), usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| ((n.pattern.as_str(), n.depth), i))
        .collect();
    nodes
        .iter()
        .map(|n| {
            if n.depth <= 1 {
                return -1;
            }
            n.pattern
                .char_indices()
                .rev()
                .filter(|&(i, _)| i > 0)
                .find_map(|(i, _)| index.get(&(&n.pattern[..i], n.depth - 1)))
                .map_or(-1, |&p| p as i64)
        })
        .collect()
}

/// The script's data: `[pattern, depth, keys, memory, keys with TTL,
/// parent]` per node.
pub fn data(f: &FileView) -> Value {
    let parents = parents(&f.prefixes);
    let nodes: Vec<Value> = f
        .prefixes
        .iter()
        .zip(parents)
        .map(|(n, p)| {
            json!([
                n.pattern,
                n.depth,
                n.keys,
                n.memory_bytes,
                n.keys_with_ttl,
                p
            ])
        })
        .collect();
    json!({"keys": f.keys, "memory": f.memory_bytes, "nodes": nodes})
}

/// The icicle's frame and the static top-prefix table.
pub fn render(f: &FileView, id: usize) -> String {
    let rows: Vec<Vec<String>> = f
        .prefixes
        .iter()
        .take(TABLE_ROWS)
        .map(|n| {
            let note = f.pattern_notes.iter().find(|p| p.0 == n.pattern);
            let examples = note.map_or(String::new(), |p| {
                p.2.iter()
                    .map(|k| format!("<code>{}</code>", esc(k)))
                    .collect::<Vec<_>>()
                    .join(" ")
            });
            vec![
                format!("<code>{}</code>", esc(&n.pattern)),
                format!("#{}", n.depth),
                format!("#{}", count(n.keys)),
                format!("#{}", bytes(n.memory_bytes)),
                format!("#{}", percent(n.memory_bytes, f.memory_bytes)),
                format!("#{}", percent(n.keys_with_ttl, n.keys)),
                esc(note.map_or("", |p| p.1.as_str())),
                examples,
            ]
        })
        .collect();
    let cut = if f.prefix_cut_by_memory {
        format!(
            "<p class=\"note warn\" id=\"prefix-cut-{id}\">Note: {}.</p>",
            esc(CUT_BY_MEMORY_NOTE)
        )
    } else {
        String::new()
    };
    let body = format!(
        "{cut}<p class=\"note\">Width is memory. Click a prefix to drill down into it, \
         click the top bar to go back up (a link ending in <code>#drill-{id}=PREFIX</code> \
         opens on PREFIX).</p>\
         <div class=\"icicle\" id=\"icicle-{id}\" data-file=\"{id}\">\
         <noscript>The drill-down needs JavaScript; the top prefixes are listed below.</noscript></div>\
         <h3>Top prefixes by memory</h3>{}",
        table(
            "data",
            &["prefix", "depth", "keys", "memory", "share", "with TTL", "formed", "examples"],
            &rows
        )
    );
    section(&format!("prefixes-{id}"), "Prefixes", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(pattern: &str, depth: u64) -> PrefixNode {
        PrefixNode {
            pattern: pattern.into(),
            depth,
            keys: 1,
            memory_bytes: 1,
            keys_with_ttl: 0,
        }
    }

    #[test]
    fn the_memory_cut_shows_only_when_summary_says_so() {
        let mut f = FileView::default();
        assert!(!render(&f, 0).contains("prefix-cut-0"));
        f.prefix_cut_by_memory = true;
        let html = render(&f, 0);
        assert!(html.contains("prefix-cut-0"), "{html}");
        assert!(html.contains("--threads"), "{html}");
        let summary = serde_json::json!({"prefix_cut_by_memory": true});
        assert!(FileView::from_summary(&summary).prefix_cut_by_memory);
        assert!(!FileView::from_summary(&serde_json::json!({})).prefix_cut_by_memory);
    }

    #[test]
    fn parents_are_one_level_up() {
        let nodes = [
            node("user", 1),
            node("user:*", 2),
            node("user:*:profile", 3),
            node("us", 1),
            node("cache:x", 2),
        ];
        assert_eq!(parents(&nodes), vec![-1, 0, 1, -1, -1]);
    }
}
