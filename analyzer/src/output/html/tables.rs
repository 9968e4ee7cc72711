//! The tables `summary.json` only samples (prefix tree, slots, expiry
//! cliffs), added to a file's view from the analysis in memory.

use crate::accumulator::FileReport;
use crate::output::parquet::CLIFF_MINUTES;

use super::view::{display_key, sort_big_keys, FileView, KeyRow, PrefixNode};
use crate::model::BigKey;

/// Prefix nodes the drill-down carries at most (the most memory first; a
/// node never holds less memory than its children, so parents stay).
pub const PREFIX_NODES: usize = 5000;

/// Keeps the [`PREFIX_NODES`] nodes with the most memory (then shallower,
/// then by pattern).
pub fn keep_top_prefixes(nodes: &mut Vec<PrefixNode>) {
    nodes.sort_by(|a, b| {
        b.memory_bytes
            .cmp(&a.memory_bytes)
            .then(a.depth.cmp(&b.depth))
            .then_with(|| a.pattern.cmp(&b.pattern))
    });
    nodes.truncate(PREFIX_NODES);
}

/// A big key's row (the columns of `bigkeys.parquet`).
fn key_row(k: &BigKey) -> KeyRow {
    KeyRow {
        db: i64::from(i32::try_from(k.db).unwrap_or(i32::MAX)),
        key: display_key(&k.key),
        kind: k.type_key.name(),
        encoding: k.encoding.as_str().to_owned(),
        memory_bytes: k.memory_bytes,
        elements: k.elements,
        max_element_bytes: k.max_element_bytes,
        expire_at_ms: k.expire_at_ms,
        lfu_freq: None,
        idle_seconds: None,
    }
}

/// Fills `v`'s prefix nodes, slots, cliffs and big keys (the top of every
/// type, as in `bigkeys.parquet`) from `r`.
pub fn add_tables(v: &mut FileView, r: &FileReport) {
    let tree = r.acc.prefixes.tree();
    v.prefixes = tree
        .rows
        .iter()
        .map(|row| PrefixNode {
            pattern: String::from_utf8_lossy(&row.pattern).into_owned(),
            depth: row.depth as u64,
            keys: row.stat.keys,
            memory_bytes: row.stat.memory_bytes,
            keys_with_ttl: row.stat.keys_with_ttl,
        })
        .collect();
    keep_top_prefixes(&mut v.prefixes);
    v.slots = r
        .acc
        .slots
        .iter()
        .enumerate()
        .filter(|(_, b)| b.keys > 0)
        .map(|(i, b)| (i as u16, b.keys, b.memory_bytes))
        .collect();
    let mut big: Vec<KeyRow> = r
        .acc
        .top_by_memory()
        .into_iter()
        .flat_map(|(_, keys)| keys)
        .chain(r.acc.over_threshold_sorted())
        .map(key_row)
        .collect();
    sort_big_keys(&mut big);
    v.big_keys = big;
    v.cliffs = r
        .acc
        .cliffs
        .top(CLIFF_MINUTES)
        .into_iter()
        .map(|(m, b)| (m, b.keys, b.memory_bytes))
        .collect();
}
