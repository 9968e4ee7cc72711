//! A report's view read back from an output directory: `summary.json` plus
//! the `prefixes`, `slots` and `expiry_cliffs` tables (what `rdbscope
//! report DIR` re-renders).

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, UInt16Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Error, Result};

use super::tables::keep_top_prefixes;
use super::view::{display_key, sort_big_keys, FileView, KeyRow, PrefixNode, ReportView};

/// Reads a whole table; `None` when the file is absent.
fn read_table(path: &Path) -> Result<Option<Vec<RecordBatch>>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(Error::io(path, err)),
    };
    let bad = |e: &dyn std::fmt::Display| Error::Invalid(format!("{}: {e}", path.display()));
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| bad(&e))?;
    reader
        .map(|b| b.map_err(|e| bad(&e)))
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// Calls `f(batch, row)` for every row of `dir/name` whose source is one
/// of `index`'s, with that file's position.
fn each_row(
    dir: &Path,
    name: &str,
    index: &HashMap<String, usize>,
    mut f: impl FnMut(usize, &RecordBatch, usize),
) -> Result<()> {
    let path = dir.join(name);
    let Some(batches) = read_table(&path)? else {
        return Ok(());
    };
    for b in &batches {
        let Ok(col) = b.schema().index_of("source") else {
            return Err(Error::Invalid(format!(
                "{}: no source column",
                path.display()
            )));
        };
        let sources = b.column(col).as_string::<i32>();
        for i in 0..b.num_rows() {
            if let Some(&file) = index.get(sources.value(i)) {
                f(file, b, i);
            }
        }
    }
    Ok(())
}

fn u64_col<'a>(b: &'a RecordBatch, name: &str) -> Option<&'a arrow_array::UInt64Array> {
    let i = b.schema().index_of(name).ok()?;
    b.column(i).as_primitive_opt::<UInt64Type>()
}

/// The view of the analysis in `dir`. A missing `summary.json` is an
/// error naming it; missing tables leave their sections with what
/// `summary.json` holds.
pub fn load_dir(dir: &Path) -> Result<ReportView> {
    let path = dir.join("summary.json");
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::Invalid(format!(
            "{}: missing (not an analysis output directory? run `rdbscope analyze --out {}` first)",
            path.display(),
            dir.display()
        )))
        }
        Err(err) => return Err(Error::io(&path, err)),
    };
    let summary: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
    let mut files = FileView::all_from_summary(&summary);
    if files.is_empty() {
        return Err(Error::Invalid(format!("{}: no files", path.display())));
    }
    let index: HashMap<String, usize> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.source.clone(), i))
        .collect();
    let mut prefixes: Vec<Vec<PrefixNode>> = vec![Vec::new(); files.len()];
    each_row(dir, "prefixes.parquet", &index, |file, b, i| {
        let col = |n: &str| u64_col(b, n).map_or(0, |c| c.value(i));
        let pattern = b
            .column_by_name("pattern")
            .map(|c| c.as_string::<i32>().value(i));
        let depth = b
            .column_by_name("depth")
            .map(|c| c.as_primitive::<Int32Type>().value(i));
        prefixes[file].push(PrefixNode {
            pattern: pattern.unwrap_or_default().to_owned(),
            depth: depth.unwrap_or(0).max(0) as u64,
            keys: col("keys"),
            memory_bytes: col("memory_bytes"),
            keys_with_ttl: col("keys_with_ttl"),
        });
    })?;
    let mut slots: Vec<Vec<(u16, u64, u64)>> = vec![Vec::new(); files.len()];
    let mut had_slots = false;
    each_row(dir, "slots.parquet", &index, |file, b, i| {
        had_slots = true;
        let slot = b
            .column_by_name("slot")
            .map(|c| c.as_primitive::<UInt16Type>().value(i));
        let col = |n: &str| u64_col(b, n).map_or(0, |c| c.value(i));
        slots[file].push((slot.unwrap_or(0), col("keys"), col("memory_bytes")));
    })?;
    let mut cliffs: Vec<Vec<(i64, u64, u64)>> = vec![Vec::new(); files.len()];
    let mut had_cliffs = false;
    each_row(dir, "expiry_cliffs.parquet", &index, |file, b, i| {
        had_cliffs = true;
        let m = b
            .column_by_name("minute_start_ms")
            .map(|c| c.as_primitive::<Int64Type>().value(i));
        let col = |n: &str| u64_col(b, n).map_or(0, |c| c.value(i));
        cliffs[file].push((m.unwrap_or(0), col("keys"), col("memory_bytes")));
    })?;
    let mut big: Vec<Vec<KeyRow>> = vec![Vec::new(); files.len()];
    let mut had_big = false;
    each_row(dir, "bigkeys.parquet", &index, |file, b, i| {
        had_big = true;
        let text = |n: &str| {
            b.column_by_name(n)
                .map(|c| c.as_string::<i32>().value(i).to_owned())
                .unwrap_or_default()
        };
        if !matches!(text("reason").as_str(), "top_memory" | "over_threshold") {
            return;
        }
        let col = |n: &str| u64_col(b, n).map_or(0, |c| c.value(i));
        let key = b
            .column_by_name("key")
            .map(|c| c.as_binary::<i32>().value(i));
        let db = b
            .column_by_name("db")
            .map(|c| c.as_primitive::<Int32Type>().value(i));
        let expire = b.column_by_name("expire_at_ms").and_then(|c| {
            let c = c.as_primitive::<Int64Type>();
            c.is_valid(i).then(|| c.value(i))
        });
        big[file].push(KeyRow {
            db: i64::from(db.unwrap_or(0)),
            key: display_key(key.unwrap_or_default()),
            kind: text("type"),
            encoding: text("encoding"),
            memory_bytes: col("memory_bytes"),
            elements: col("elements"),
            max_element_bytes: col("max_element_bytes"),
            expire_at_ms: expire,
            lfu_freq: None,
            idle_seconds: None,
        });
    })?;
    for (i, f) in files.iter_mut().enumerate() {
        if had_big {
            f.big_keys = std::mem::take(&mut big[i]);
            sort_big_keys(&mut f.big_keys);
        }
        f.prefixes = std::mem::take(&mut prefixes[i]);
        keep_top_prefixes(&mut f.prefixes);
        if had_slots {
            f.slots = std::mem::take(&mut slots[i]);
        }
        if had_cliffs {
            f.cliffs = std::mem::take(&mut cliffs[i]);
        }
    }
    Ok(ReportView { files })
}
