//! The aggregate Parquet tables (`types`, `dbs`, `expiry`, `slots`,
//! `bigkeys`, `hotkeys`, `prefixes`, `expiry_cliffs`). Every table's schema
//! is written once, in a `table!` invocation that also declares its
//! builder (one column builder per field, in schema order); each
//! builder's `append` fills one row. These tables are small and written
//! at the end.
//!
//! `keys.parquet` (one row per key) has its own column encoders, next to
//! its schema in [`super::keys`]: the workers encode row groups
//! ([`KeysEncoder`]) and one thread ([`KeysFileWriter`]) appends them.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, Float64Builder, Int32Builder, Int64Builder, StringBuilder, UInt16Builder,
    UInt32Builder, UInt64Builder, UInt8Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use rayon::prelude::*;

// The `keys.parquet` items, also at their old paths here.
pub use super::keys::{
    keys_schema, EncodedRowGroup, KeysCompression, KeysEncoder, KeysFileWriter, PageBuffers,
    ROW_GROUP_ROWS, WORKER_ROW_GROUP_BYTES,
};

use crate::accumulator::FileReport;
use crate::error::{Error, Result};
use crate::model::{BigKey, ExpiryBucket};
use crate::prefix::PrefixTree;

/// Prefixes given per-prefix rows in `expiry.parquet` (the top ones by
/// memory down to the prefix depth).
pub const EXPIRY_PREFIXES: usize = 20;
/// Minutes in `expiry_cliffs.parquet`.
pub const CLIFF_MINUTES: usize = 20;

/// An Arrow builder made with room for some rows.
pub(crate) trait Presized: Sized {
    fn presized(rows: usize) -> Self;
    /// The empty builder that replaces `self` once its batch is finished:
    /// sized like this batch, so that the next one does not regrow.
    fn successor(&self, rows: usize) -> Self {
        Self::presized(rows)
    }
}

impl<T: arrow_array::ArrowPrimitiveType> Presized for arrow_array::builder::PrimitiveBuilder<T> {
    fn presized(rows: usize) -> Self {
        Self::with_capacity(rows)
    }
}

impl<T: arrow_array::types::ByteArrayType> Presized
    for arrow_array::builder::GenericByteBuilder<T>
{
    fn presized(rows: usize) -> Self {
        // Keys, types and patterns: a few tens of bytes per row.
        Self::with_capacity(rows, rows * 24)
    }

    fn successor(&self, rows: usize) -> Self {
        let used = self.values_slice().len();
        Self::with_capacity(rows, (used + used / 8).max(rows * 24))
    }
}

/// Declares `fn $schema() -> SchemaRef` and a builder struct holding one
/// Arrow builder per column, in the same order; `finish` makes a batch.
macro_rules! table {
    (
        $(#[$doc:meta])*
        $builder:ident, $schema:ident, $table:literal,
        [ $( $col:ident : $name:literal, $dt:expr, $nullable:expr, $b:ty; )* ]
    ) => {
        /// The schema of the
        #[doc = concat!("`", $table, "`")]
        /// table.
        pub fn $schema() -> SchemaRef {
            Arc::new(Schema::new(vec![
                $( Field::new($name, $dt, $nullable), )*
            ]))
        }

        $(#[$doc])*
        #[derive(Debug)]
        pub struct $builder {
            schema: SchemaRef,
            rows: usize,
            /// Rows each column is sized for after `finish`.
            capacity: usize,
            $( $col: $b, )*
        }

        impl Default for $builder {
            fn default() -> Self {
                Self::new()
            }
        }

        impl $builder {
            /// An empty builder.
            pub fn new() -> Self {
                Self::with_capacity(0)
            }

            /// An empty builder whose columns are sized for `rows` rows,
            /// now and after each `finish` (no regrowth per batch).
            pub fn with_capacity(rows: usize) -> Self {
                Self {
                    schema: $schema(),
                    rows: 0,
                    capacity: rows,
                    $( $col: <$b as Presized>::presized(rows), )*
                }
            }

            /// Rows appended since the last `finish`.
            pub fn len(&self) -> usize {
                self.rows
            }

            /// True when no row is pending.
            pub fn is_empty(&self) -> bool {
                self.rows == 0
            }

            /// The rows so far as a batch; the builder starts over empty.
            pub fn finish(&mut self) -> Result<RecordBatch> {
                self.rows = 0;
                let columns: Vec<ArrayRef> = vec![ $( {
                    let next = Presized::successor(&self.$col, self.capacity);
                    Arc::new(std::mem::replace(&mut self.$col, next).finish()) as ArrayRef
                }, )* ];
                RecordBatch::try_new(Arc::clone(&self.schema), columns)
                    .map_err(|err| Error::Arrow { table: $table, err })
            }
        }
    };
}

/// The same schema-and-builder declaration for the diff's tables
/// ([`crate::diff`]).
pub(crate) use table;

table! {
    /// Rows of `types.parquet`: one per (source, type, encoding).
    TypesBuilder, types_schema, "types",
    [
        source: "source", DataType::Utf8, false, StringBuilder;
        kind: "type", DataType::Utf8, false, StringBuilder;
        encoding: "encoding", DataType::Utf8, false, StringBuilder;
        keys: "keys", DataType::UInt64, false, UInt64Builder;
        memory_bytes: "memory_bytes", DataType::UInt64, false, UInt64Builder;
        rdb_bytes: "rdb_bytes", DataType::UInt64, false, UInt64Builder;
        elements: "elements", DataType::UInt64, false, UInt64Builder;
    ]
}

impl TypesBuilder {
    /// Appends the rows of one report.
    pub fn append_report(&mut self, r: &FileReport) {
        for ((tk, enc), t) in &r.acc.types {
            self.rows += 1;
            self.source.append_value(&r.source);
            self.kind.append_value(tk.name());
            self.encoding.append_value(enc.as_str());
            self.keys.append_value(t.keys);
            self.memory_bytes.append_value(t.memory_bytes);
            self.rdb_bytes.append_value(t.rdb_bytes);
            self.elements.append_value(t.elements);
        }
    }
}

table! {
    /// Rows of `dbs.parquet`: one per (source, db).
    DbsBuilder, dbs_schema, "dbs",
    [
        source: "source", DataType::Utf8, false, StringBuilder;
        db: "db", DataType::Int32, false, Int32Builder;
        keys: "keys", DataType::UInt64, false, UInt64Builder;
        expires: "expires", DataType::UInt64, false, UInt64Builder;
        memory_bytes: "memory_bytes", DataType::UInt64, false, UInt64Builder;
        rdb_bytes: "rdb_bytes", DataType::UInt64, false, UInt64Builder;
    ]
}

impl DbsBuilder {
    /// Appends the rows of one report.
    pub fn append_report(&mut self, r: &FileReport) {
        for (db, d) in &r.acc.dbs {
            self.rows += 1;
            self.source.append_value(&r.source);
            self.db.append_value(db_i32(*db));
            self.keys.append_value(d.keys);
            self.expires.append_value(d.expires);
            self.memory_bytes.append_value(d.memory_bytes);
            self.rdb_bytes.append_value(d.rdb_bytes);
        }
    }
}

table! {
    /// Rows of `expiry.parquet`: one per (source, bucket), soonest first,
    /// for all keys (`prefix` null); then the same buckets for each of the
    /// top [`EXPIRY_PREFIXES`] prefixes by memory of depth 1 to the prefix
    /// depth (`prefix` = the pattern, as in `prefixes.parquet`).
    ExpiryBuilder, expiry_schema, "expiry",
    [
        source: "source", DataType::Utf8, false, StringBuilder;
        bucket: "bucket", DataType::Utf8, false, StringBuilder;
        keys: "keys", DataType::UInt64, false, UInt64Builder;
        memory_bytes: "memory_bytes", DataType::UInt64, false, UInt64Builder;
        prefix: "prefix", DataType::Utf8, true, StringBuilder;
    ]
}

impl ExpiryBuilder {
    /// Appends the rows of one report (`tree`: its prefix tree).
    pub fn append_report(&mut self, r: &FileReport, tree: &PrefixTree) {
        for (b, s) in ExpiryBucket::ALL.iter().zip(&r.acc.expiry) {
            self.rows += 1;
            self.source.append_value(&r.source);
            self.bucket.append_value(b.name());
            self.keys.append_value(s.keys);
            self.memory_bytes.append_value(s.memory_bytes);
            self.prefix.append_null();
        }
        let depth = r.acc.prefixes.config().depth;
        for row in tree.top_by_memory(depth, EXPIRY_PREFIXES) {
            let pattern = String::from_utf8_lossy(&row.pattern);
            for (b, s) in ExpiryBucket::ALL.iter().zip(&row.stat.expiry) {
                self.rows += 1;
                self.source.append_value(&r.source);
                self.bucket.append_value(b.name());
                self.keys.append_value(s.keys);
                self.memory_bytes.append_value(s.memory_bytes);
                self.prefix.append_value(&pattern);
            }
        }
    }
}

fn share(part: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        part as f64 / total as f64
    }
}

table! {
    /// Rows of `prefixes.parquet`: one per (source, node of the prefix
    /// tree), by depth, then memory (most first), then pattern. A node
    /// counts the keys whose pattern is it or lies under it (see
    /// [`crate::prefix`]); shares are of the source's keys and memory.
    PrefixesBuilder, prefixes_schema, "prefixes",
    [
        source: "source", DataType::Utf8, false, StringBuilder;
        pattern: "pattern", DataType::Utf8, false, StringBuilder;
        depth: "depth", DataType::Int32, false, Int32Builder;
        keys: "keys", DataType::UInt64, false, UInt64Builder;
        memory_bytes: "memory_bytes", DataType::UInt64, false, UInt64Builder;
        rdb_bytes: "rdb_bytes", DataType::UInt64, false, UInt64Builder;
        string_keys: "string_keys", DataType::UInt64, false, UInt64Builder;
        list_keys: "list_keys", DataType::UInt64, false, UInt64Builder;
        set_keys: "set_keys", DataType::UInt64, false, UInt64Builder;
        zset_keys: "zset_keys", DataType::UInt64, false, UInt64Builder;
        hash_keys: "hash_keys", DataType::UInt64, false, UInt64Builder;
        stream_keys: "stream_keys", DataType::UInt64, false, UInt64Builder;
        module_keys: "module_keys", DataType::UInt64, false, UInt64Builder;
        array_keys: "array_keys", DataType::UInt64, false, UInt64Builder;
        keys_with_ttl: "keys_with_ttl", DataType::UInt64, false, UInt64Builder;
        share_of_memory: "share_of_memory", DataType::Float64, false, Float64Builder;
        share_of_keys: "share_of_keys", DataType::Float64, false, Float64Builder;
    ]
}

impl PrefixesBuilder {
    /// Appends the rows of one report (`tree`: its prefix tree).
    pub fn append_report(&mut self, r: &FileReport, tree: &PrefixTree) {
        for row in tree.by_depth_and_memory() {
            let s = &row.stat;
            self.rows += 1;
            self.source.append_value(&r.source);
            self.pattern
                .append_value(String::from_utf8_lossy(&row.pattern));
            self.depth
                .append_value(i32::try_from(row.depth).unwrap_or(i32::MAX));
            self.keys.append_value(s.keys);
            self.memory_bytes.append_value(s.memory_bytes);
            self.rdb_bytes.append_value(s.rdb_bytes);
            let t = &s.type_keys;
            self.string_keys.append_value(t[0]);
            self.list_keys.append_value(t[1]);
            self.set_keys.append_value(t[2]);
            self.zset_keys.append_value(t[3]);
            self.hash_keys.append_value(t[4]);
            self.stream_keys.append_value(t[5]);
            self.module_keys.append_value(t[6]);
            self.array_keys.append_value(t[7]);
            self.keys_with_ttl.append_value(s.keys_with_ttl);
            self.share_of_memory
                .append_value(share(s.memory_bytes, r.acc.memory_bytes));
            self.share_of_keys.append_value(share(s.keys, r.acc.keys));
        }
    }
}

/// Keys whose expire time is after the snapshot time (the TTL buckets
/// other than `expired` and `no_ttl`).
pub fn expiring_keys(r: &FileReport) -> u64 {
    ExpiryBucket::ALL
        .iter()
        .zip(&r.acc.expiry)
        .filter(|(b, _)| !matches!(b, ExpiryBucket::Expired | ExpiryBucket::NoTtl))
        .map(|(_, s)| s.keys)
        .sum()
}

table! {
    /// Rows of `expiry_cliffs.parquet`: the [`CLIFF_MINUTES`] UTC minutes
    /// (within 30 days after the snapshot time) in which the most keys
    /// expire, most first; the share is of the keys expiring after the
    /// snapshot time.
    CliffsBuilder, expiry_cliffs_schema, "expiry_cliffs",
    [
        source: "source", DataType::Utf8, false, StringBuilder;
        minute_start_ms: "minute_start_ms", DataType::Int64, false, Int64Builder;
        keys: "keys", DataType::UInt64, false, UInt64Builder;
        memory_bytes: "memory_bytes", DataType::UInt64, false, UInt64Builder;
        share_of_expiring_keys: "share_of_expiring_keys", DataType::Float64, false, Float64Builder;
    ]
}

impl CliffsBuilder {
    /// Appends the rows of one report.
    pub fn append_report(&mut self, r: &FileReport) {
        let expiring = expiring_keys(r);
        for (minute, b) in r.acc.cliffs.top(CLIFF_MINUTES) {
            self.rows += 1;
            self.source.append_value(&r.source);
            self.minute_start_ms.append_value(minute);
            self.keys.append_value(b.keys);
            self.memory_bytes.append_value(b.memory_bytes);
            self.share_of_expiring_keys
                .append_value(share(b.keys, expiring));
        }
    }
}

table! {
    /// Rows of `slots.parquet`: one per (source, slot) holding keys.
    SlotsBuilder, slots_schema, "slots",
    [
        source: "source", DataType::Utf8, false, StringBuilder;
        slot: "slot", DataType::UInt16, false, UInt16Builder;
        keys: "keys", DataType::UInt64, false, UInt64Builder;
        memory_bytes: "memory_bytes", DataType::UInt64, false, UInt64Builder;
    ]
}

impl SlotsBuilder {
    /// Appends the rows of one report.
    pub fn append_report(&mut self, r: &FileReport) {
        for (slot, s) in r.acc.slots.iter().enumerate() {
            if s.keys == 0 {
                continue;
            }
            self.rows += 1;
            self.source.append_value(&r.source);
            self.slot.append_value(slot as u16);
            self.keys.append_value(s.keys);
            self.memory_bytes.append_value(s.memory_bytes);
        }
    }
}

table! {
    /// Rows of `bigkeys.parquet`: the top keys per type by memory
    /// (`top_memory`) and by elements (`top_elements`), ranked from 1, and
    /// every key over a threshold (`over_threshold`, rank null). A key can
    /// appear under several reasons.
    BigKeysBuilder, bigkeys_schema, "bigkeys",
    [
        source: "source", DataType::Utf8, false, StringBuilder;
        reason: "reason", DataType::Utf8, false, StringBuilder;
        rank: "rank", DataType::UInt32, true, UInt32Builder;
        db: "db", DataType::Int32, false, Int32Builder;
        key: "key", DataType::Binary, false, BinaryBuilder;
        kind: "type", DataType::Utf8, false, StringBuilder;
        encoding: "encoding", DataType::Utf8, false, StringBuilder;
        memory_bytes: "memory_bytes", DataType::UInt64, false, UInt64Builder;
        elements: "elements", DataType::UInt64, false, UInt64Builder;
        rdb_bytes: "rdb_bytes", DataType::UInt64, false, UInt64Builder;
        max_element_bytes: "max_element_bytes", DataType::UInt64, false, UInt64Builder;
        expire_at_ms: "expire_at_ms", DataType::Int64, true, Int64Builder;
    ]
}

impl BigKeysBuilder {
    fn append(&mut self, source: &str, reason: &str, rank: Option<u32>, k: &BigKey) {
        self.rows += 1;
        self.source.append_value(source);
        self.reason.append_value(reason);
        self.rank.append_option(rank);
        self.db.append_value(db_i32(k.db));
        self.key.append_value(&k.key);
        self.kind.append_value(k.type_key.name());
        self.encoding.append_value(k.encoding.as_str());
        self.memory_bytes.append_value(k.memory_bytes);
        self.elements.append_value(k.elements);
        self.rdb_bytes.append_value(k.rdb_bytes);
        self.max_element_bytes.append_value(k.max_element_bytes);
        self.expire_at_ms.append_option(k.expire_at_ms);
    }

    /// Appends the rows of one report.
    pub fn append_report(&mut self, r: &FileReport) {
        for (reason, lists) in [
            ("top_memory", r.acc.top_by_memory()),
            ("top_elements", r.acc.top_by_elements()),
        ] {
            for (_, keys) in lists {
                for (i, k) in keys.into_iter().enumerate() {
                    self.append(&r.source, reason, Some(i as u32 + 1), k);
                }
            }
        }
        for k in r.acc.over_threshold_sorted() {
            self.append(&r.source, "over_threshold", None, k);
        }
    }
}

table! {
    /// Rows of `hotkeys.parquet`: the keys with the highest LFU counters
    /// (`lfu_freq`) and the lowest LRU idle times (`lru_idle`), ranked
    /// from 1. Empty for files saved without an LRU/LFU maxmemory policy.
    HotKeysBuilder, hotkeys_schema, "hotkeys",
    [
        source: "source", DataType::Utf8, false, StringBuilder;
        reason: "reason", DataType::Utf8, false, StringBuilder;
        rank: "rank", DataType::UInt32, false, UInt32Builder;
        db: "db", DataType::Int32, false, Int32Builder;
        key: "key", DataType::Binary, false, BinaryBuilder;
        kind: "type", DataType::Utf8, false, StringBuilder;
        encoding: "encoding", DataType::Utf8, false, StringBuilder;
        lfu_freq: "lfu_freq", DataType::UInt8, true, UInt8Builder;
        idle_seconds: "idle_seconds", DataType::UInt64, true, UInt64Builder;
        memory_bytes: "memory_bytes", DataType::UInt64, false, UInt64Builder;
    ]
}

impl HotKeysBuilder {
    /// Appends the rows of one report.
    pub fn append_report(&mut self, r: &FileReport) {
        let (lfu, lru) = r.acc.hot_keys();
        for (reason, keys) in [("lfu_freq", lfu), ("lru_idle", lru)] {
            for (i, k) in keys.into_iter().enumerate() {
                self.rows += 1;
                self.source.append_value(&r.source);
                self.reason.append_value(reason);
                self.rank.append_value(i as u32 + 1);
                self.db.append_value(db_i32(k.db));
                self.key.append_value(&k.key);
                self.kind.append_value(k.type_key.name());
                self.encoding.append_value(k.encoding.as_str());
                self.lfu_freq.append_option(k.lfu_freq);
                self.idle_seconds.append_option(k.idle_seconds);
                self.memory_bytes.append_value(k.memory_bytes);
            }
        }
    }
}

fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build()
}

fn db_i32(db: u64) -> i32 {
    i32::try_from(db).unwrap_or(i32::MAX)
}

/// Writes one small table to `path`.
pub fn write_table(path: &Path, batch: &RecordBatch) -> Result<()> {
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let mut w = ArrowWriter::try_new(file, batch.schema(), Some(writer_properties()))
        .map_err(|e| Error::parquet(path, e))?;
    w.write(batch).map_err(|e| Error::parquet(path, e))?;
    w.close().map_err(|e| Error::parquet(path, e))?;
    Ok(())
}

/// Writes `types`, `dbs`, `expiry`, `slots`, `bigkeys`, `hotkeys`,
/// `prefixes` and `expiry_cliffs` tables into
/// `dir` for all reports; returns the paths written.
pub fn write_aggregates(dir: &Path, reports: &[FileReport]) -> Result<Vec<PathBuf>> {
    let mut types = TypesBuilder::new();
    let mut dbs = DbsBuilder::new();
    let mut expiry = ExpiryBuilder::new();
    let mut slots = SlotsBuilder::new();
    let mut bigkeys = BigKeysBuilder::new();
    let mut hotkeys = HotKeysBuilder::new();
    let mut prefixes = PrefixesBuilder::new();
    let mut cliffs = CliffsBuilder::new();
    for r in reports {
        let tree = r.acc.prefixes.tree();
        hotkeys.append_report(r);
        types.append_report(r);
        dbs.append_report(r);
        expiry.append_report(r, &tree);
        prefixes.append_report(r, &tree);
        cliffs.append_report(r);
        slots.append_report(r);
        bigkeys.append_report(r);
    }
    let tables = [
        ("types.parquet", types.finish()?),
        ("dbs.parquet", dbs.finish()?),
        ("expiry.parquet", expiry.finish()?),
        ("slots.parquet", slots.finish()?),
        ("bigkeys.parquet", bigkeys.finish()?),
        ("hotkeys.parquet", hotkeys.finish()?),
        ("prefixes.parquet", prefixes.finish()?),
        ("expiry_cliffs.parquet", cliffs.finish()?),
    ];
    // On the pool's threads: the analysis is over, and each file costs a
    // millisecond or two (a zstd context, page faults, a file created).
    tables
        .into_par_iter()
        .map(|(name, batch)| {
            let path = dir.join(name);
            write_table(&path, &batch).map(|()| path)
        })
        .collect()
}
