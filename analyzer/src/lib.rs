//! One-pass analysis of Redis RDB files: per-key facts, an estimate of the
//! memory each key takes once loaded, big keys, expiry buckets, slots, and
//! the Parquet/JSON/text outputs of `rdbscope analyze`.
//!
//! The pass is parallel without locks: the parser cuts the file into chunks
//! of whole records, every rayon worker folds its chunks into its own
//! [`Accumulator`] (and its own batch of `keys.parquet` rows, sent to one
//! writer thread), and accumulators are merged at the end.
//!
//! Keys stay borrowed (`&[u8]` into the mapped file) until output; only keys
//! kept in a top-N heap or over a big-key threshold are copied.
//!
//! What is exact and what is estimated:
//! - exact: type, element counts, string lengths, largest element, RDB
//!   record size, expire time, LRU/LFU metadata, cluster slot;
//! - predicted and estimated together by [`memory`]: the encoding after the
//!   file is loaded (default `*-max-*` limits) and `MEMORY USAGE` per key,
//!   for Redis 6.x to 8.0 and Valkey 8/9, calibrated on real servers
//!   (`tests/memory_accuracy.rs`: at least 98 % of keys within 5 %).
//!
//! Outputs ([`output`]): `keys.parquet` (one row per key), `types`, `dbs`,
//! `expiry`, `slots`, `bigkeys`, `hotkeys`, `prefixes` and `expiry_cliffs`
//! tables, `summary.json`, a text report, and `report.html` (charts drawn
//! as SVG, the prefix drill-down, recommendations: [`output::html`]).
//!
//! Snapshot diffs ([`diff`]): two analysis output directories compared
//! pattern by pattern, with big-key, type, TTL, database and slot
//! changes, into `diff.parquet`, `diff.json`, a text summary and
//! `diff.html`.
//!
//! Key prefixes ([`prefix`]): every key's templated pattern
//! (`user:*:profile`) goes to `keys.parquet`'s `prefix` column; patterns are
//! aggregated into a tree (`prefixes` table), with per-prefix expiry rows
//! and per-minute expiry "cliffs" (`expiry_cliffs` table).
//!
//! Not done yet (the next steps):
//! - memory of module values (their RDB size stands in), Redis 8.6's
//!   skip-list nodes and hash entries, 8.4+'s tracked stream sizes; see
//!   [`memory`];
//! - compressed quicklist nodes (`list-compress-depth` is read by
//!   [`limits_config`], the nodes are modelled uncompressed);
//! - `keys.parquet` costs about a quarter of a run's instructions: workers
//!   encode its row groups (their own column encoders, [`output::keys`])
//!   and one thread appends them, so a run with keys is about 1.5× slower
//!   than one without.
//!
//! # Example
//!
//! Analyze a file and write every output into a directory, as
//! `rdbscope analyze` does:
//!
//! ```
//! use std::sync::atomic::AtomicU64;
//!
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/sample.rdb");
//! let data = std::fs::read(path)?;
//! let rdb = rdb_parser::Rdb::new(&data)?;
//! let out = std::env::temp_dir().join(format!("analyzer-doc-{}", std::process::id()));
//! let done = AtomicU64::new(0);
//! let report = analyzer::report::write_report(
//!     &[(rdb, "sample.rdb".to_owned())],
//!     &analyzer::Options::default(),
//!     &out,
//!     true, // keys.parquet too
//!     &done,
//! )?;
//! let file = &report.files[0];
//! println!("{} keys, about {} bytes once loaded", file.acc.keys, file.acc.memory_bytes);
//! assert!(file.acc.keys > 0);
//! assert!(out.join("keys.parquet").exists() && out.join("summary.json").exists());
//! assert!(out.join("report.html").exists());
//! std::fs::remove_dir_all(&out)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Layers, each using only those below it: the loading server's
//! vocabulary ([`RedisVersion`], [`EncodingLimits`], [`ObjEncoding`]) and
//! cluster [`slot`]s; the [`memory`] model; [`facts`] per key; the report's
//! shared figures ([`BigKey`], [`ExpiryBucket`], ...); the [`prefix`]
//! patterns and the per-worker [`Accumulator`]; the [`output`] writers;
//! the driver ([`analyze_file`], [`Options`]); and [`report`], which
//! writes a whole analysis to a directory.

#![deny(missing_docs)]
// `summary.json`'s per-file object is one `json!` literal, longer than
// the default limit lets the macro expand.
#![recursion_limit = "256"]

mod accumulator;
mod analyze;
pub mod base64;
pub mod diff;
mod error;
pub mod facts;
pub mod glob;
pub mod limits_config;
pub mod memory;
mod model;
pub mod output;
pub mod prefix;
pub mod report;
mod server;
pub mod slot;
#[cfg(test)]
mod testutil;
mod words;

/// The Arrow and Parquet crates the outputs are written with, so callers
/// (and tests) read them back with the same versions.
pub mod reexports {
    pub use arrow_array;
    pub use parquet;
}

pub use accumulator::{
    Accumulator, FileReport, Saving, SavingsAcc, COMPRESSIBLE_MIN_BYTES, COMPRESSIBLE_RATIO,
    LIMITED_KINDS, NEAR_LIMIT_FACTOR,
};
pub use analyze::{analyze_file, analyze_rdb, choose_allocator, Options};
pub use error::{Error, Result};
pub use facts::KeyFacts;
pub use model::{
    AllocatorCandidate, AllocatorChoice, BigKey, Bucket, DbStat, ExpiryBucket, FileMeta, TypeKey,
    TypeStat,
};
pub use output::keys::{with_keys_writer, KeysSink, Superseded};
pub use server::{EncodingLimits, ObjEncoding, RedisVersion};
