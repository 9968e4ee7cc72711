//! How many keys and bytes a cleanup selects, before it runs: counted in
//! the app's latest analysis report, or estimated by a bounded live `SCAN`.

use std::collections::BTreeMap;
use std::time::Duration;

use super::inspect::inspect;
use super::params::CleanupParams;
use crate::error::{Error, Result};
use crate::redis::nodes::{is_cluster, master_of, select};
use crate::redis::reply::int as v_int;
use crate::redis::timed::{self, TARGET_IO};
use crate::redis::{glob_match, Pattern};
use crate::registry::{self, Node};
use crate::state::credentials;
use crate::store::AppRow;

#[derive(Default)]
pub(super) struct Estimate {
    pub(super) keys: u64,
    pub(super) memory_bytes: u64,
    pub(super) big_keys: u64,
    pub(super) per_node: BTreeMap<String, (u64, u64)>,
    pub(super) sample: Vec<String>,
}

/// Counts the keys of an analysis' `keys.parquet` that the cleanup selects.
pub(super) fn count_keys_table(
    path: &std::path::Path,
    p: &CleanupParams,
    nodes: &[Node],
    now_ms: i64,
) -> Result<Estimate> {
    use analyzer::reexports::arrow_array::cast::AsArray;
    use analyzer::reexports::arrow_array::types::{Int32Type, Int64Type, UInt64Type};
    use analyzer::reexports::arrow_array::Array;
    use analyzer::reexports::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use analyzer::reexports::parquet::arrow::ProjectionMask;

    let bad = |e: &dyn std::fmt::Display| Error::internal(format!("{}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(|e| bad(&e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| bad(&e))?;
    let wanted = [
        "source",
        "db",
        "key",
        "type",
        "memory_bytes",
        "elements",
        "expire_at_ms",
        "idle_seconds",
    ];
    let schema = builder.schema().clone();
    let idx: Vec<usize> = wanted
        .iter()
        .filter_map(|n| schema.index_of(n).ok())
        .collect();
    if idx.len() != wanted.len() {
        return Err(Error::internal(format!(
            "{}: unexpected columns",
            path.display()
        )));
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), idx);
    let reader = builder.with_projection(mask).build().map_err(|e| bad(&e))?;
    let globs: Vec<Vec<u8>> = p.globs().into_iter().map(String::into_bytes).collect();
    let mut est = Estimate::default();
    for batch in reader {
        let batch = batch.map_err(|e| bad(&e))?;
        let col = |n: &str| {
            batch
                .column_by_name(n)
                .ok_or_else(|| Error::internal(format!("{}: no column {n}", path.display())))
        };
        let source = col("source")?.as_string::<i32>().clone();
        let db = col("db")?.as_primitive::<Int32Type>().clone();
        let key = col("key")?.as_binary::<i32>().clone();
        let kind = col("type")?.as_string::<i32>().clone();
        let mem = col("memory_bytes")?.as_primitive::<UInt64Type>().clone();
        let elements = col("elements")?.as_primitive::<UInt64Type>().clone();
        let exp = col("expire_at_ms")?.as_primitive::<Int64Type>().clone();
        let idle = col("idle_seconds")?.as_primitive::<UInt64Type>().clone();
        for i in 0..batch.num_rows() {
            if !p
                .dbs
                .iter()
                .any(|d| i64::from(*d) == i64::from(db.value(i)))
            {
                continue;
            }
            let k = key.value(i);
            if !globs.iter().any(|g| glob_match(g, k)) {
                continue;
            }
            let pttl = if exp.is_valid(i) {
                let left = exp.value(i) - now_ms;
                if left <= 0 {
                    continue; // expired since the snapshot
                }
                left
            } else {
                -1
            };
            let idle_s = idle.is_valid(i).then(|| idle.value(i));
            if !p.selects(kind.value(i), pttl, idle_s) {
                continue;
            }
            est.keys += 1;
            est.memory_bytes += mem.value(i);
            if elements.value(i) > p.big_elements
                && matches!(kind.value(i), "hash" | "set" | "zset" | "list")
            {
                est.big_keys += 1;
            }
            let node = est
                .per_node
                .entry(master_of(nodes, source.value(i)))
                .or_default();
            node.0 += 1;
            node.1 += mem.value(i);
            if est.sample.len() < 10 {
                est.sample.push(String::from_utf8_lossy(k).into_owned());
            }
        }
    }
    Ok(est)
}

/// Counts from `prefixes.parquet` (no per-key table): only for prefixes
/// that are a row of the prefix tree, and without the filters.
pub(super) fn count_prefix_table(
    path: &std::path::Path,
    p: &CleanupParams,
    nodes: &[Node],
) -> Result<Option<Estimate>> {
    use analyzer::reexports::arrow_array::cast::AsArray;
    use analyzer::reexports::arrow_array::types::UInt64Type;
    use analyzer::reexports::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let wanted: Vec<String> = p
        .patterns
        .iter()
        .map(|pat| match pat {
            Pattern::Prefix(s) => Some(s.trim_end_matches([':', '|', '/']).to_string()),
            Pattern::Glob(_) => None,
        })
        .collect::<Option<Vec<_>>>()
        .unwrap_or_default();
    if wanted.is_empty() || wanted.iter().any(|w| w.is_empty() || w.contains('*')) {
        return Ok(None);
    }
    let bad = |e: &dyn std::fmt::Display| Error::internal(format!("{}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(|e| bad(&e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| bad(&e))?
        .build()
        .map_err(|e| bad(&e))?;
    let mut est = Estimate::default();
    let mut found = vec![false; wanted.len()];
    for batch in reader {
        let batch = batch.map_err(|e| bad(&e))?;
        let (Some(src), Some(pat), Some(keys), Some(mem)) = (
            batch.column_by_name("source"),
            batch.column_by_name("pattern"),
            batch.column_by_name("keys"),
            batch.column_by_name("memory_bytes"),
        ) else {
            return Ok(None);
        };
        let (src, pat) = (src.as_string::<i32>(), pat.as_string::<i32>());
        let (keys, mem) = (
            keys.as_primitive::<UInt64Type>(),
            mem.as_primitive::<UInt64Type>(),
        );
        for i in 0..batch.num_rows() {
            if let Some(w) = wanted.iter().position(|w| w == pat.value(i)) {
                found[w] = true;
                est.keys += keys.value(i);
                est.memory_bytes += mem.value(i);
                let node = est
                    .per_node
                    .entry(master_of(nodes, src.value(i)))
                    .or_default();
                node.0 += keys.value(i);
                node.1 += mem.value(i);
            }
        }
    }
    Ok(found.iter().all(|f| *f).then_some(est))
}

/// Keys visited per master and db by the live estimate.
pub(super) const LIVE_BUDGET: u64 = 20_000;

/// A live estimate: a bounded `SCAN` of every master (exact when the scan
/// completes within the budget), the selected share scaled to `DBSIZE`,
/// and `MEMORY USAGE` of a sample for the bytes.
pub(super) fn live_estimate(
    app: &AppRow,
    p: &CleanupParams,
    nodes: &[Node],
) -> Result<(Estimate, bool)> {
    let creds = credentials(app);
    let globs: Vec<Vec<u8>> = p.globs().into_iter().map(String::into_bytes).collect();
    let mut est = Estimate::default();
    let mut exact = true;
    for addr in registry::masters(nodes) {
        let mut conn = registry::connect(&addr, &creds, Duration::from_secs(3))?;
        for db in &p.dbs {
            select(&mut conn, is_cluster(app), *db)?;
            let dbsize: u64 = redis::cmd("DBSIZE").query(&mut conn).map_err(Error::from)?;
            let mut cursor = "0".to_string();
            let (mut visited, mut selected, mut mem_sampled, mut mem_sum) =
                (0u64, 0u64, 0u64, 0u64);
            loop {
                let (next, keys): (String, Vec<Vec<u8>>) = redis::cmd("SCAN")
                    .arg(&cursor)
                    .arg("COUNT")
                    .arg(1000)
                    .query(&mut conn)
                    .map_err(Error::from)?;
                visited += keys.len() as u64;
                let matching: Vec<Vec<u8>> = keys
                    .into_iter()
                    .filter(|k| globs.iter().any(|g| glob_match(g, k)))
                    .collect();
                let info = inspect(&mut conn, &matching, p.idle_secs_min.is_some())?;
                let chosen: Vec<&Vec<u8>> = matching
                    .iter()
                    .zip(&info)
                    .filter(|(_, (t, pttl, idle))| p.selects(t, *pttl, *idle))
                    .map(|(k, _)| k)
                    .collect();
                selected += chosen.len() as u64;
                let sample: Vec<&&Vec<u8>> = chosen
                    .iter()
                    .take(200usize.saturating_sub(mem_sampled as usize))
                    .collect();
                if !sample.is_empty() {
                    let mut pipe = redis::pipe();
                    for k in &sample {
                        pipe.cmd("MEMORY").arg("USAGE").arg(&k[..]);
                    }
                    let vals = timed::query(&pipe, &mut conn, TARGET_IO)?;
                    for v in &vals {
                        if let Some(b) = v_int(v) {
                            mem_sum += b as u64;
                            mem_sampled += 1;
                        }
                    }
                }
                if est.sample.len() < 10 {
                    est.sample.extend(
                        chosen
                            .iter()
                            .take(10 - est.sample.len())
                            .map(|k| String::from_utf8_lossy(k).into_owned()),
                    );
                }
                cursor = next;
                if cursor == "0" || visited >= LIVE_BUDGET {
                    break;
                }
            }
            let keys = if cursor == "0" {
                selected
            } else {
                exact = false;
                (selected as f64 / visited.max(1) as f64 * dbsize as f64).round() as u64
            };
            let bytes = keys * mem_sum.checked_div(mem_sampled).unwrap_or(0);
            est.keys += keys;
            est.memory_bytes += bytes;
            let node = est.per_node.entry(addr.clone()).or_default();
            node.0 += keys;
            node.1 += bytes;
        }
    }
    Ok((est, exact))
}
