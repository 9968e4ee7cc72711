//! `diff.json`: the whole diff in one document for machines (what
//! `rdbscope diff --json` prints); its rows have the columns of the
//! Parquet tables.

use serde_json::{json, Value};

use super::highlights::{highlights, Highlights};
use super::model::{Diff, Fig, KeyChange, KeySide, Pattern, Row, SideMeta};

/// Most pattern rows in `diff.json` (`diff.parquet` has them all).
pub const JSON_PATTERN_ROWS: usize = 10_000;
/// Patterns in each highlight list.
pub const HIGHLIGHTS: usize = 10;

fn side_json(s: &SideMeta) -> Value {
    json!({
        "label": s.label,
        "inputs": s.inputs,
        "has_keys": s.has_keys,
        "files": s.sources.iter().map(|f| json!({
            "source": f.source,
            "server": f.server_version,
            "rdb_version": f.rdb_version,
            "ctime": f.ctime,
            "modelled_version": f.modelled_version,
            "prefix_level": f.prefix_level,
        })).collect::<Vec<_>>(),
    })
}

/// The figures shared by every row: keys, memory and their deltas.
fn figures<K>(r: &Row<K>) -> serde_json::Map<String, Value> {
    let v = json!({
        "keys_before": r.before.keys,
        "keys_after": r.after.keys,
        "keys_delta": r.keys_delta(),
        "memory_bytes_before": r.before.memory_bytes,
        "memory_bytes_after": r.after.memory_bytes,
        "memory_bytes_delta": r.memory_delta(),
        "memory_delta_pct": r.memory_delta_pct(),
    });
    match v {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

fn with(mut m: serde_json::Map<String, Value>, extra: Value) -> Value {
    if let Value::Object(e) = extra {
        m.extend(e);
    }
    Value::Object(m)
}

/// A pattern row, with the columns of `diff.parquet`.
pub fn pattern_json(r: &Row<Pattern>) -> Value {
    with(
        figures(r),
        json!({
            "pattern": r.key.pattern,
            "depth": r.key.depth,
            "status": r.status().name(),
            "rdb_bytes_before": r.before.rdb_bytes,
            "rdb_bytes_after": r.after.rdb_bytes,
            "rdb_bytes_delta": r.rdb_delta(),
            "keys_with_ttl_before": r.before.expires,
            "keys_with_ttl_after": r.after.expires,
        }),
    )
}

/// A key as JSON, as `summary.json` writes it: text when UTF-8, else
/// `{"hex": …}`.
fn key_json(key: &[u8]) -> Value {
    match std::str::from_utf8(key) {
        Ok(t) => json!(t),
        Err(_) => {
            let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
            json!({ "hex": hex })
        }
    }
}

fn key_change_json(c: &KeyChange) -> Value {
    let side = |s: &KeySide| match s {
        KeySide::Present(f) => json!({
            "type": f.kind, "encoding": f.encoding, "memory_bytes": f.memory_bytes,
            "elements": f.elements, "rdb_bytes": f.rdb_bytes,
        }),
        KeySide::Absent => json!("absent"),
        KeySide::Unknown => json!("unknown"),
    };
    json!({
        "change": c.change.name(),
        "db": c.db,
        "key": key_json(&c.key),
        "before": side(&c.before),
        "after": side(&c.after),
        "memory_bytes_delta": c.memory_delta(),
    })
}

fn totals_json(t: &Row<()>) -> Value {
    let b: &Fig = &t.before;
    with(
        figures(t),
        json!({
            "rdb_bytes_before": b.rdb_bytes,
            "rdb_bytes_after": t.after.rdb_bytes,
            "rdb_bytes_delta": t.rdb_delta(),
            "expires_before": b.expires,
            "expires_after": t.after.expires,
            "expires_delta": t.expires_delta(),
        }),
    )
}

fn listed(d: &Diff, idx: &[usize]) -> Vec<Value> {
    idx.iter().map(|&i| pattern_json(&d.prefixes[i])).collect()
}

/// The document; `outputs` lists the files written.
pub fn diff_json(d: &Diff, outputs: &[String]) -> Value {
    let h: Highlights = highlights(d, HIGHLIGHTS);
    json!({
        "tool": "rdbscope",
        "kind": "diff",
        "old": side_json(&d.old),
        "new": side_json(&d.new),
        "totals": totals_json(&d.totals()),
        "per_key_diffs": d.per_key,
        "notes": d.notes,
        "compared_depth": d.compared_depth,
        "top_growth": listed(d, &h.growth),
        "top_shrink": listed(d, &h.shrink),
        "new_prefixes": listed(d, &h.new),
        "vanished_prefixes": listed(d, &h.vanished),
        "prefix_rows": d.prefixes.len(),
        "prefixes_truncated": d.prefixes.len() > JSON_PATTERN_ROWS,
        "prefixes": d.prefixes.iter().take(JSON_PATTERN_ROWS).map(pattern_json).collect::<Vec<_>>(),
        "big_keys": d.keys.iter().map(key_change_json).collect::<Vec<_>>(),
        "types": d.types.iter().map(|r| with(figures(r), json!({
            "type": r.key.0, "encoding": r.key.1,
        }))).collect::<Vec<_>>(),
        "expiry": d.expiry.iter().map(|r| with(figures(r), json!({"bucket": r.key})))
            .collect::<Vec<_>>(),
        "dbs": d.dbs.iter().map(|r| with(figures(r), json!({
            "db": r.key, "expires_before": r.before.expires, "expires_after": r.after.expires,
        }))).collect::<Vec<_>>(),
        // Slots whose figures changed (diff_slots.parquet has every slot).
        "slots_changed": d.slots.iter().filter(|r| r.before != r.after)
            .map(|r| with(figures(r), json!({"slot": r.key}))).collect::<Vec<_>>(),
        "outputs": outputs,
    })
}
