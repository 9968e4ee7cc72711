//! Backups taken before destructive cleanups: where they live in a
//! ticket's report directory, what a checkpoint records of them, and the
//! files' names. [`write`] writes them, [`retention`] deletes old ones.
//!
//! A `delete` cleanup writes `backup/backup.rdb`, a valid RDB file of the
//! keys' `DUMP` payloads with their absolute expire times, batch by batch,
//! synced before the batch's `UNLINK`. An `expire` cleanup writes
//! `backup/ttls.jsonl`: per key, its db, its name (hex) and its absolute
//! expire time before the cleanup (`null`: none), synced before the
//! batch's `EXPIRE`. A `restore` ticket reads them back.

pub mod retention;
pub mod write;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::Config;

/// The backup directory inside a ticket's report directory.
pub const DIR: &str = "backup";
/// The RDB file of a `delete` cleanup.
pub const RDB_FILE: &str = "backup.rdb";
/// The previous TTLs of an `expire` cleanup, one JSON object a line.
pub const TTL_FILE: &str = "ttls.jsonl";
/// Left in place of a backup deleted by the retention: when and why.
pub const EXPIRED_FILE: &str = "expired.json";

/// The backup directory of ticket `id`.
pub fn dir(config: &Config, id: i64) -> PathBuf {
    crate::files::report_dir(config, id).join(DIR)
}

/// How far a backup was written when a checkpoint was taken: a resumed
/// cleanup cuts the files back to this and appends from there.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupPos {
    /// RDB version of `backup.rdb` (0: not started).
    pub version: u32,
    /// Bytes of `backup.rdb`.
    pub bytes: u64,
    /// Its CRC64 so far.
    pub crc: u64,
    /// Keys in it.
    pub keys: u64,
    /// The db of its last `SELECTDB`.
    pub db: Option<u32>,
    /// Bytes of `ttls.jsonl`.
    pub ttl_bytes: u64,
    /// Lines in it.
    pub ttl_keys: u64,
}

/// One line of `ttls.jsonl`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TtlRecord {
    /// Database.
    pub db: u32,
    /// The key, hex.
    pub key: String,
    /// Absolute expire time in ms before the cleanup; none: no TTL.
    pub expire_at_ms: Option<u64>,
}
