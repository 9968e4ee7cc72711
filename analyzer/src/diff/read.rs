//! Reading an analysis output's Parquet tables back, by column name, with
//! errors that name the side, the file and what is missing.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, UInt16Type, UInt32Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;

use crate::error::{Error, Result};

/// A table read whole (or the columns asked for).
pub struct Table {
    /// The file read.
    pub path: PathBuf,
    /// Its rows.
    pub batches: Vec<RecordBatch>,
}

/// `label: path: what`, the shape of every error about a side's input.
pub fn invalid(label: &str, path: &Path, what: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("{label}: {}: {what}", path.display()))
}

/// Opens `path` for reading, `None` when it does not exist.
fn open(label: &str, path: &Path) -> Result<Option<File>> {
    match File::open(path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(invalid(label, path, e)),
    }
}

/// Calls `f` on each batch of `dir/name`, read with only the `columns`
/// given (all of which must be there); false when the file does not
/// exist.
pub fn each_batch(
    label: &str,
    dir: &Path,
    name: &str,
    columns: &[&str],
    mut f: impl FnMut(&RecordBatch),
) -> Result<bool> {
    let path = dir.join(name);
    let Some(file) = open(label, &path)? else {
        return Ok(false);
    };
    let bad = |e: &dyn std::fmt::Display| {
        invalid(label, &path, format!("not a readable Parquet table ({e})"))
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| bad(&e))?;
    let schema = builder.schema().clone();
    let mut roots = Vec::with_capacity(columns.len());
    for c in columns {
        match schema.index_of(c) {
            Ok(i) => roots.push(i),
            Err(_) => {
                return Err(invalid(
                    label,
                    &path,
                    format!(
                        "no column `{c}` (written by another version of rdbscope? \
                         re-run `rdbscope analyze`)"
                    ),
                ))
            }
        }
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder.with_projection(mask).build().map_err(|e| bad(&e))?;
    for batch in reader {
        f(&batch.map_err(|e| bad(&e))?);
    }
    Ok(true)
}

/// Reads `dir/name` whole, with only the `columns` given; `None` when the
/// file does not exist.
pub fn read_table(label: &str, dir: &Path, name: &str, columns: &[&str]) -> Result<Option<Table>> {
    let mut batches = Vec::new();
    let found = each_batch(label, dir, name, columns, |b| batches.push(b.clone()))?;
    Ok(found.then(|| Table {
        path: dir.join(name),
        batches,
    }))
}

/// Like [`read_table`], but a missing file is an error naming it.
pub fn require_table(label: &str, dir: &Path, name: &str, columns: &[&str]) -> Result<Table> {
    read_table(label, dir, name, columns)?.ok_or_else(|| {
        invalid(
            label,
            &dir.join(name),
            "missing (every `rdbscope analyze` writes it; was the directory copied in part?)",
        )
    })
}

impl Table {
    /// Every row, as (batch, index).
    pub fn rows(&self) -> impl Iterator<Item = (&RecordBatch, usize)> {
        self.batches
            .iter()
            .flat_map(|b| (0..b.num_rows()).map(move |i| (b, i)))
    }
}

/// An integer column's value at row `i` (any integer type the tables use);
/// `None` when the column is absent or the value null.
pub fn int(b: &RecordBatch, name: &str, i: usize) -> Option<i128> {
    let c = b.column_by_name(name)?;
    if c.is_null(i) {
        return None;
    }
    Some(match c.data_type() {
        DataType::UInt64 => i128::from(c.as_primitive::<UInt64Type>().value(i)),
        DataType::Int64 => i128::from(c.as_primitive::<Int64Type>().value(i)),
        DataType::Int32 => i128::from(c.as_primitive::<Int32Type>().value(i)),
        DataType::UInt32 => i128::from(c.as_primitive::<UInt32Type>().value(i)),
        DataType::UInt16 => i128::from(c.as_primitive::<UInt16Type>().value(i)),
        _ => return None,
    })
}

/// A count column's value (0 when absent, null or negative).
pub fn count(b: &RecordBatch, name: &str, i: usize) -> u64 {
    int(b, name, i).map_or(0, |v| u64::try_from(v).unwrap_or(0))
}

/// A text column's value (`None` when absent or null).
pub fn text<'a>(b: &'a RecordBatch, name: &str, i: usize) -> Option<&'a str> {
    let c = b.column_by_name(name)?;
    if c.is_null(i) {
        return None;
    }
    match c.data_type() {
        DataType::Utf8 => Some(c.as_string::<i32>().value(i)),
        DataType::LargeUtf8 => Some(c.as_string::<i64>().value(i)),
        _ => None,
    }
}

/// A binary (or text) column's bytes.
pub fn bytes<'a>(b: &'a RecordBatch, name: &str, i: usize) -> Option<&'a [u8]> {
    let c = b.column_by_name(name)?;
    if c.is_null(i) {
        return None;
    }
    match c.data_type() {
        DataType::Binary => Some(c.as_binary::<i32>().value(i)),
        DataType::LargeBinary => Some(c.as_binary::<i64>().value(i)),
        _ => text(b, name, i).map(str::as_bytes),
    }
}
