//! One side of a diff loaded from an analysis output directory:
//! `summary.json` for the files and totals, the aggregate tables summed
//! over every source (several cluster nodes make one side), and the big
//! keys of `bigkeys.parquet`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use serde_json::Value;

use crate::error::Result;

use super::model::{Fig, KeyFig, KeyMap, Pattern, SideMeta, SourceMeta};
use super::read::{bytes, count, int, invalid, require_table, text};

/// The TTL buckets, in the order `expiry.parquet` writes them.
pub const BUCKETS: [&str; 7] = [
    "expired", "<1h", "1h-1d", "1d-7d", "7d-30d", ">30d", "no_ttl",
];

/// Everything a diff reads from one side.
#[derive(Debug, Default)]
pub struct Side {
    /// The directory read.
    pub dir: PathBuf,
    /// Its files and totals.
    pub meta: SideMeta,
    /// Figures per pattern and depth.
    pub prefixes: HashMap<Pattern, Fig>,
    /// Per (type, encoding).
    pub types: BTreeMap<(String, String), Fig>,
    /// Per TTL bucket (all keys, not the per-prefix rows).
    pub expiry: BTreeMap<String, Fig>,
    /// Per database.
    pub dbs: BTreeMap<i64, Fig>,
    /// Per slot.
    pub slots: BTreeMap<u16, Fig>,
    /// The keys of `bigkeys.parquet` (top per type, over the thresholds).
    pub big: KeyMap,
}

fn summary(label: &str, dir: &Path) -> Result<Value> {
    let path = dir.join("summary.json");
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let what = if dir.is_dir() {
                "missing (not an analysis output directory? `rdbscope analyze FILE --out DIR` writes one)"
            } else {
                "missing (no such directory)"
            };
            return Err(invalid(label, &path, what));
        }
        Err(e) => return Err(invalid(label, &path, e)),
    };
    serde_json::from_slice(&text).map_err(|e| invalid(label, &path, format!("not JSON ({e})")))
}

fn source_meta(f: &Value) -> SourceMeta {
    let s = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
    let server_version = match f["valkey_ver"].as_str() {
        Some(v) => format!("Valkey {v}"),
        None if f["redis_ver"].is_string() => format!("Redis {}", s("redis_ver")),
        None => "unknown".to_owned(),
    };
    let modelled_version = match f["modelled_valkey_version"].as_str() {
        Some(v) => format!("Valkey {v}"),
        None => format!("Redis {}", s("modelled_redis_version")),
    };
    SourceMeta {
        source: s("source"),
        server_version,
        rdb_version: f["rdb_version"].as_u64().unwrap_or(0),
        ctime: f["ctime"].as_i64(),
        modelled_version,
        prefix_level: f["prefix_level"].as_i64().unwrap_or(8),
    }
}

/// Loads the side called `label` (`OLD`, `NEW`) from `dir`; `inputs`
/// names what the user gave (the directory, or the RDB files analyzed
/// into it).
pub fn load_side(label: &str, dir: &Path, inputs: Vec<String>) -> Result<Side> {
    let summary = summary(label, dir)?;
    let files = summary["files"].as_array().cloned().unwrap_or_default();
    if files.is_empty() {
        return Err(invalid(label, &dir.join("summary.json"), "lists no files"));
    }
    let totals = &summary["totals"];
    let meta = SideMeta {
        label: label.to_owned(),
        inputs,
        sources: files.iter().map(source_meta).collect(),
        has_keys: dir.join("keys.parquet").is_file(),
        totals: Fig {
            keys: totals["keys"].as_u64().unwrap_or(0),
            memory_bytes: totals["memory_bytes_estimate"].as_u64().unwrap_or(0),
            rdb_bytes: totals["rdb_bytes"].as_u64().unwrap_or(0),
            expires: totals["expires"].as_u64().unwrap_or(0),
        },
    };
    let mut side = Side {
        dir: dir.to_path_buf(),
        meta,
        ..Side::default()
    };
    let t = require_table(
        label,
        dir,
        "prefixes.parquet",
        &[
            "pattern",
            "depth",
            "keys",
            "memory_bytes",
            "rdb_bytes",
            "keys_with_ttl",
        ],
    )?;
    for (b, i) in t.rows() {
        let p = Pattern {
            pattern: text(b, "pattern", i).unwrap_or_default().to_owned(),
            depth: u32::try_from(int(b, "depth", i).unwrap_or(0)).unwrap_or(0),
        };
        side.prefixes.entry(p).or_default().add(&fig(b, i));
    }
    let cols = ["type", "encoding", "keys", "memory_bytes", "rdb_bytes"];
    for (b, i) in require_table(label, dir, "types.parquet", &cols)?.rows() {
        let k = (
            text(b, "type", i).unwrap_or_default().to_owned(),
            text(b, "encoding", i).unwrap_or_default().to_owned(),
        );
        side.types.entry(k).or_default().add(&fig(b, i));
    }
    let cols = ["db", "keys", "expires", "memory_bytes", "rdb_bytes"];
    for (b, i) in require_table(label, dir, "dbs.parquet", &cols)?.rows() {
        let db = int(b, "db", i).unwrap_or(0) as i64;
        side.dbs.entry(db).or_default().add(&fig(b, i));
    }
    let cols = ["bucket", "keys", "memory_bytes", "prefix"];
    for (b, i) in require_table(label, dir, "expiry.parquet", &cols)?.rows() {
        if text(b, "prefix", i).is_some() {
            continue; // a per-prefix row
        }
        let bucket = text(b, "bucket", i).unwrap_or_default().to_owned();
        side.expiry.entry(bucket).or_default().add(&fig(b, i));
    }
    for (b, i) in require_table(
        label,
        dir,
        "slots.parquet",
        &["slot", "keys", "memory_bytes"],
    )?
    .rows()
    {
        let slot = u16::try_from(int(b, "slot", i).unwrap_or(0)).unwrap_or(0);
        side.slots.entry(slot).or_default().add(&fig(b, i));
    }
    let cols = [
        "db",
        "key",
        "type",
        "encoding",
        "memory_bytes",
        "elements",
        "rdb_bytes",
    ];
    for (b, i) in require_table(label, dir, "bigkeys.parquet", &cols)?.rows() {
        let db = int(b, "db", i).unwrap_or(0) as i64;
        let key = bytes(b, "key", i).unwrap_or_default().to_vec();
        side.big.entry((db, key)).or_insert_with(|| key_fig(b, i));
    }
    Ok(side)
}

/// A row's figures (a column the table lacks counts 0).
fn fig(b: &RecordBatch, i: usize) -> Fig {
    Fig {
        keys: count(b, "keys", i),
        memory_bytes: count(b, "memory_bytes", i),
        rdb_bytes: count(b, "rdb_bytes", i),
        expires: count(b, "expires", i) + count(b, "keys_with_ttl", i),
    }
}

/// A key's figures from a row of `bigkeys.parquet` or `keys.parquet`.
pub fn key_fig(b: &RecordBatch, i: usize) -> KeyFig {
    KeyFig {
        kind: text(b, "type", i).unwrap_or_default().to_owned(),
        encoding: text(b, "encoding", i).unwrap_or_default().to_owned(),
        memory_bytes: count(b, "memory_bytes", i),
        elements: count(b, "elements", i),
        rdb_bytes: count(b, "rdb_bytes", i),
    }
}
