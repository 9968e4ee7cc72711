//! The diff's Parquet tables: `diff.parquet` (patterns) and
//! `diff_bigkeys`, `diff_types`, `diff_expiry`, `diff_dbs`, `diff_slots`.
//! Each schema is written once, in a `table!` invocation that also
//! declares its builder (as the analysis tables are).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, Float64Builder, Int32Builder, Int64Builder, StringBuilder, UInt16Builder,
    UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::error::{Error, Result};
use crate::output::parquet::{table, write_table, Presized};

use super::model::{Diff, KeyChange, Pattern, Row};

/// The files written, in order.
pub const TABLES: [&str; 6] = [
    "diff.parquet",
    "diff_bigkeys.parquet",
    "diff_types.parquet",
    "diff_expiry.parquet",
    "diff_dbs.parquet",
    "diff_slots.parquet",
];

table! {
    /// Rows of `diff.parquet`: one per pattern and depth on either side,
    /// down to the compared depth; by depth, then the size of the memory
    /// change, then pattern.
    PatternDiffBuilder, diff_schema, "diff",
    [
        pattern: "pattern", DataType::Utf8, false, StringBuilder;
        depth: "depth", DataType::Int32, false, Int32Builder;
        status: "status", DataType::Utf8, false, StringBuilder;
        keys_before: "keys_before", DataType::UInt64, false, UInt64Builder;
        keys_after: "keys_after", DataType::UInt64, false, UInt64Builder;
        keys_delta: "keys_delta", DataType::Int64, false, Int64Builder;
        memory_bytes_before: "memory_bytes_before", DataType::UInt64, false, UInt64Builder;
        memory_bytes_after: "memory_bytes_after", DataType::UInt64, false, UInt64Builder;
        memory_bytes_delta: "memory_bytes_delta", DataType::Int64, false, Int64Builder;
        memory_delta_pct: "memory_delta_pct", DataType::Float64, true, Float64Builder;
        rdb_bytes_before: "rdb_bytes_before", DataType::UInt64, false, UInt64Builder;
        rdb_bytes_after: "rdb_bytes_after", DataType::UInt64, false, UInt64Builder;
        rdb_bytes_delta: "rdb_bytes_delta", DataType::Int64, false, Int64Builder;
        keys_with_ttl_before: "keys_with_ttl_before", DataType::UInt64, false, UInt64Builder;
        keys_with_ttl_after: "keys_with_ttl_after", DataType::UInt64, false, UInt64Builder;
    ]
}

impl PatternDiffBuilder {
    /// Appends one row.
    pub fn append(&mut self, r: &Row<Pattern>) {
        self.rows += 1;
        self.pattern.append_value(&r.key.pattern);
        self.depth
            .append_value(i32::try_from(r.key.depth).unwrap_or(i32::MAX));
        self.status.append_value(r.status().name());
        self.keys_before.append_value(r.before.keys);
        self.keys_after.append_value(r.after.keys);
        self.keys_delta.append_value(r.keys_delta());
        self.memory_bytes_before.append_value(r.before.memory_bytes);
        self.memory_bytes_after.append_value(r.after.memory_bytes);
        self.memory_bytes_delta.append_value(r.memory_delta());
        self.memory_delta_pct.append_option(r.memory_delta_pct());
        self.rdb_bytes_before.append_value(r.before.rdb_bytes);
        self.rdb_bytes_after.append_value(r.after.rdb_bytes);
        self.rdb_bytes_delta.append_value(r.rdb_delta());
        self.keys_with_ttl_before.append_value(r.before.expires);
        self.keys_with_ttl_after.append_value(r.after.expires);
    }
}

table! {
    /// Rows of `diff_bigkeys.parquet`: the big keys of either side that
    /// changed (`change`: new, vanished, grown, shrunk, changed,
    /// entered_top, left_top); a side's columns are null where the key is
    /// absent or unknown there.
    KeyDiffBuilder, diff_bigkeys_schema, "diff_bigkeys",
    [
        change: "change", DataType::Utf8, false, StringBuilder;
        db: "db", DataType::Int32, false, Int32Builder;
        key: "key", DataType::Binary, false, BinaryBuilder;
        type_before: "type_before", DataType::Utf8, true, StringBuilder;
        type_after: "type_after", DataType::Utf8, true, StringBuilder;
        encoding_before: "encoding_before", DataType::Utf8, true, StringBuilder;
        encoding_after: "encoding_after", DataType::Utf8, true, StringBuilder;
        memory_bytes_before: "memory_bytes_before", DataType::UInt64, true, UInt64Builder;
        memory_bytes_after: "memory_bytes_after", DataType::UInt64, true, UInt64Builder;
        memory_bytes_delta: "memory_bytes_delta", DataType::Int64, true, Int64Builder;
        elements_before: "elements_before", DataType::UInt64, true, UInt64Builder;
        elements_after: "elements_after", DataType::UInt64, true, UInt64Builder;
    ]
}

impl KeyDiffBuilder {
    /// Appends one row.
    pub fn append(&mut self, c: &KeyChange) {
        self.rows += 1;
        let (b, a) = (c.before.fig(), c.after.fig());
        self.change.append_value(c.change.name());
        self.db
            .append_value(i32::try_from(c.db).unwrap_or(i32::MAX));
        self.key.append_value(&c.key);
        self.type_before.append_option(b.map(|f| &f.kind));
        self.type_after.append_option(a.map(|f| &f.kind));
        self.encoding_before.append_option(b.map(|f| &f.encoding));
        self.encoding_after.append_option(a.map(|f| &f.encoding));
        self.memory_bytes_before
            .append_option(b.map(|f| f.memory_bytes));
        self.memory_bytes_after
            .append_option(a.map(|f| f.memory_bytes));
        self.memory_bytes_delta.append_option(c.memory_delta());
        self.elements_before.append_option(b.map(|f| f.elements));
        self.elements_after.append_option(a.map(|f| f.elements));
    }
}

table! {
    /// Rows of `diff_types.parquet`: one per (type, encoding) on either side.
    TypeDiffBuilder, diff_types_schema, "diff_types",
    [
        kind: "type", DataType::Utf8, false, StringBuilder;
        encoding: "encoding", DataType::Utf8, false, StringBuilder;
        keys_before: "keys_before", DataType::UInt64, false, UInt64Builder;
        keys_after: "keys_after", DataType::UInt64, false, UInt64Builder;
        keys_delta: "keys_delta", DataType::Int64, false, Int64Builder;
        memory_bytes_before: "memory_bytes_before", DataType::UInt64, false, UInt64Builder;
        memory_bytes_after: "memory_bytes_after", DataType::UInt64, false, UInt64Builder;
        memory_bytes_delta: "memory_bytes_delta", DataType::Int64, false, Int64Builder;
        memory_delta_pct: "memory_delta_pct", DataType::Float64, true, Float64Builder;
    ]
}

impl TypeDiffBuilder {
    /// Appends one row.
    pub fn append(&mut self, r: &Row<(String, String)>) {
        self.rows += 1;
        self.kind.append_value(&r.key.0);
        self.encoding.append_value(&r.key.1);
        self.keys_before.append_value(r.before.keys);
        self.keys_after.append_value(r.after.keys);
        self.keys_delta.append_value(r.keys_delta());
        self.memory_bytes_before.append_value(r.before.memory_bytes);
        self.memory_bytes_after.append_value(r.after.memory_bytes);
        self.memory_bytes_delta.append_value(r.memory_delta());
        self.memory_delta_pct.append_option(r.memory_delta_pct());
    }
}

table! {
    /// Rows of `diff_expiry.parquet`: one per TTL bucket (each side's
    /// buckets are relative to its own snapshot time).
    ExpiryDiffBuilder, diff_expiry_schema, "diff_expiry",
    [
        bucket: "bucket", DataType::Utf8, false, StringBuilder;
        keys_before: "keys_before", DataType::UInt64, false, UInt64Builder;
        keys_after: "keys_after", DataType::UInt64, false, UInt64Builder;
        keys_delta: "keys_delta", DataType::Int64, false, Int64Builder;
        memory_bytes_before: "memory_bytes_before", DataType::UInt64, false, UInt64Builder;
        memory_bytes_after: "memory_bytes_after", DataType::UInt64, false, UInt64Builder;
        memory_bytes_delta: "memory_bytes_delta", DataType::Int64, false, Int64Builder;
    ]
}

impl ExpiryDiffBuilder {
    /// Appends one row.
    pub fn append(&mut self, r: &Row<String>) {
        self.rows += 1;
        self.bucket.append_value(&r.key);
        self.keys_before.append_value(r.before.keys);
        self.keys_after.append_value(r.after.keys);
        self.keys_delta.append_value(r.keys_delta());
        self.memory_bytes_before.append_value(r.before.memory_bytes);
        self.memory_bytes_after.append_value(r.after.memory_bytes);
        self.memory_bytes_delta.append_value(r.memory_delta());
    }
}

table! {
    /// Rows of `diff_dbs.parquet`: one per database on either side.
    DbDiffBuilder, diff_dbs_schema, "diff_dbs",
    [
        db: "db", DataType::Int32, false, Int32Builder;
        keys_before: "keys_before", DataType::UInt64, false, UInt64Builder;
        keys_after: "keys_after", DataType::UInt64, false, UInt64Builder;
        keys_delta: "keys_delta", DataType::Int64, false, Int64Builder;
        expires_before: "expires_before", DataType::UInt64, false, UInt64Builder;
        expires_after: "expires_after", DataType::UInt64, false, UInt64Builder;
        memory_bytes_before: "memory_bytes_before", DataType::UInt64, false, UInt64Builder;
        memory_bytes_after: "memory_bytes_after", DataType::UInt64, false, UInt64Builder;
        memory_bytes_delta: "memory_bytes_delta", DataType::Int64, false, Int64Builder;
        rdb_bytes_before: "rdb_bytes_before", DataType::UInt64, false, UInt64Builder;
        rdb_bytes_after: "rdb_bytes_after", DataType::UInt64, false, UInt64Builder;
    ]
}

impl DbDiffBuilder {
    /// Appends one row.
    pub fn append(&mut self, r: &Row<i64>) {
        self.rows += 1;
        self.db
            .append_value(i32::try_from(r.key).unwrap_or(i32::MAX));
        self.keys_before.append_value(r.before.keys);
        self.keys_after.append_value(r.after.keys);
        self.keys_delta.append_value(r.keys_delta());
        self.expires_before.append_value(r.before.expires);
        self.expires_after.append_value(r.after.expires);
        self.memory_bytes_before.append_value(r.before.memory_bytes);
        self.memory_bytes_after.append_value(r.after.memory_bytes);
        self.memory_bytes_delta.append_value(r.memory_delta());
        self.rdb_bytes_before.append_value(r.before.rdb_bytes);
        self.rdb_bytes_after.append_value(r.after.rdb_bytes);
    }
}

table! {
    /// Rows of `diff_slots.parquet`: one per cluster slot holding keys on
    /// either side.
    SlotDiffBuilder, diff_slots_schema, "diff_slots",
    [
        slot: "slot", DataType::UInt16, false, UInt16Builder;
        keys_before: "keys_before", DataType::UInt64, false, UInt64Builder;
        keys_after: "keys_after", DataType::UInt64, false, UInt64Builder;
        keys_delta: "keys_delta", DataType::Int64, false, Int64Builder;
        memory_bytes_before: "memory_bytes_before", DataType::UInt64, false, UInt64Builder;
        memory_bytes_after: "memory_bytes_after", DataType::UInt64, false, UInt64Builder;
        memory_bytes_delta: "memory_bytes_delta", DataType::Int64, false, Int64Builder;
    ]
}

impl SlotDiffBuilder {
    /// Appends one row.
    pub fn append(&mut self, r: &Row<u16>) {
        self.rows += 1;
        self.slot.append_value(r.key);
        self.keys_before.append_value(r.before.keys);
        self.keys_after.append_value(r.after.keys);
        self.keys_delta.append_value(r.keys_delta());
        self.memory_bytes_before.append_value(r.before.memory_bytes);
        self.memory_bytes_after.append_value(r.after.memory_bytes);
        self.memory_bytes_delta.append_value(r.memory_delta());
    }
}

/// Fills a builder with `rows` and finishes it.
fn build<T, B>(mut builder: B, rows: &[T], append: impl Fn(&mut B, &T)) -> B {
    for r in rows {
        append(&mut builder, r);
    }
    builder
}

/// Writes the [`TABLES`] into `dir`; returns their paths.
pub fn write_tables(dir: &Path, d: &Diff) -> Result<Vec<PathBuf>> {
    let batches = [
        build(
            PatternDiffBuilder::new(),
            &d.prefixes,
            PatternDiffBuilder::append,
        )
        .finish()?,
        build(KeyDiffBuilder::new(), &d.keys, KeyDiffBuilder::append).finish()?,
        build(TypeDiffBuilder::new(), &d.types, TypeDiffBuilder::append).finish()?,
        build(
            ExpiryDiffBuilder::new(),
            &d.expiry,
            ExpiryDiffBuilder::append,
        )
        .finish()?,
        build(DbDiffBuilder::new(), &d.dbs, DbDiffBuilder::append).finish()?,
        build(SlotDiffBuilder::new(), &d.slots, SlotDiffBuilder::append).finish()?,
    ];
    TABLES
        .iter()
        .zip(&batches)
        .map(|(name, batch)| {
            let path = dir.join(name);
            write_table(&path, batch).map(|()| path)
        })
        .collect()
}
