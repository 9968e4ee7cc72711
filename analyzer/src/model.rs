//! The report's shared vocabulary: the figures the accumulators fill and
//! the writers print (types, databases, expiry and slot buckets, big keys,
//! a file's header facts).

use rdb_parser::{Kind, ModuleId};

use crate::facts::{self, KeyFacts};
use crate::server::{ObjEncoding, RedisVersion};

/// A data type, with the module type for module values (no allocation:
/// the name is decoded at output).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TypeKey {
    /// Data type.
    pub kind: Kind,
    /// Module type, for module values.
    pub module: Option<ModuleId>,
}

impl TypeKey {
    /// `string`, …, or `module:<name>`.
    pub fn name(&self) -> String {
        facts::type_name(self.kind, self.module)
    }
}

/// Totals for one (type, encoding) pair.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TypeStat {
    /// Keys.
    pub keys: u64,
    /// Estimated memory.
    pub memory_bytes: u64,
    /// Bytes in the file.
    pub rdb_bytes: u64,
    /// Elements (string bytes for strings).
    pub elements: u64,
}

impl TypeStat {
    pub(crate) fn merge(&mut self, o: &TypeStat) {
        self.keys += o.keys;
        self.memory_bytes += o.memory_bytes;
        self.rdb_bytes += o.rdb_bytes;
        self.elements += o.elements;
    }
}

/// Totals for one database.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DbStat {
    /// Keys.
    pub keys: u64,
    /// Keys with a TTL.
    pub expires: u64,
    /// Estimated memory.
    pub memory_bytes: u64,
    /// Bytes in the file.
    pub rdb_bytes: u64,
}

impl DbStat {
    pub(crate) fn merge(&mut self, o: &DbStat) {
        self.keys += o.keys;
        self.expires += o.expires;
        self.memory_bytes += o.memory_bytes;
        self.rdb_bytes += o.rdb_bytes;
    }
}

/// Keys and memory in one bucket (expiry, slot).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bucket {
    /// Keys.
    pub keys: u64,
    /// Estimated memory.
    pub memory_bytes: u64,
}

impl Bucket {
    pub(crate) fn add(&mut self, memory: u64) {
        self.keys += 1;
        self.memory_bytes += memory;
    }

    pub(crate) fn merge(&mut self, o: Bucket) {
        self.keys += o.keys;
        self.memory_bytes += o.memory_bytes;
    }
}

/// Time to expiry, measured from the snapshot time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExpiryBucket {
    /// Expire time at or before "now": already expired when the snapshot was taken.
    Expired,
    /// Less than an hour left.
    Under1h,
    /// One hour to one day.
    Hour1ToDay1,
    /// One to seven days.
    Day1ToDay7,
    /// Seven to thirty days.
    Day7ToDay30,
    /// More than thirty days.
    Over30d,
    /// No TTL.
    NoTtl,
}

impl ExpiryBucket {
    /// Every bucket, soonest first.
    pub const ALL: [ExpiryBucket; 7] = [
        ExpiryBucket::Expired,
        ExpiryBucket::Under1h,
        ExpiryBucket::Hour1ToDay1,
        ExpiryBucket::Day1ToDay7,
        ExpiryBucket::Day7ToDay30,
        ExpiryBucket::Over30d,
        ExpiryBucket::NoTtl,
    ];

    /// Short label.
    pub fn name(self) -> &'static str {
        match self {
            ExpiryBucket::Expired => "expired",
            ExpiryBucket::Under1h => "<1h",
            ExpiryBucket::Hour1ToDay1 => "1h-1d",
            ExpiryBucket::Day1ToDay7 => "1d-7d",
            ExpiryBucket::Day7ToDay30 => "7d-30d",
            ExpiryBucket::Over30d => ">30d",
            ExpiryBucket::NoTtl => "no_ttl",
        }
    }

    /// The bucket of a key expiring at `expire_at_ms`, seen at `now_ms`.
    pub fn of(expire_at_ms: Option<i64>, now_ms: i64) -> ExpiryBucket {
        const HOUR: i64 = 3_600_000;
        const DAY: i64 = 24 * HOUR;
        let Some(at) = expire_at_ms else {
            return ExpiryBucket::NoTtl;
        };
        let left = at.saturating_sub(now_ms);
        match left {
            ..=0 => ExpiryBucket::Expired,
            1..HOUR => ExpiryBucket::Under1h,
            HOUR..DAY => ExpiryBucket::Hour1ToDay1,
            DAY..=604_799_999 => ExpiryBucket::Day1ToDay7,
            604_800_000..=2_591_999_999 => ExpiryBucket::Day7ToDay30,
            _ => ExpiryBucket::Over30d,
        }
    }
}

/// A key kept for the big-key report (its bytes copied out of the file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BigKey {
    /// Database.
    pub db: u64,
    /// The key.
    pub key: Box<[u8]>,
    /// Type.
    pub type_key: TypeKey,
    /// Predicted encoding.
    pub encoding: ObjEncoding,
    /// Estimated memory.
    pub memory_bytes: u64,
    /// String length or element count.
    pub elements: u64,
    /// Record size in the file.
    pub rdb_bytes: u64,
    /// Largest element.
    pub max_element_bytes: u64,
    /// Expire time, ms since the epoch.
    pub expire_at_ms: Option<i64>,
    /// LFU counter, when the file has it.
    pub lfu_freq: Option<u8>,
    /// LRU idle seconds, when the file has them.
    pub idle_seconds: Option<u64>,
}

impl BigKey {
    pub(crate) fn of(f: &KeyFacts<'_>, memory: u64) -> BigKey {
        BigKey {
            db: f.db,
            key: f.key.into(),
            type_key: TypeKey {
                kind: f.kind,
                module: f.module,
            },
            encoding: f.encoding,
            memory_bytes: memory,
            elements: f.elements,
            rdb_bytes: f.rdb_bytes,
            max_element_bytes: f.max_element_bytes,
            expire_at_ms: f.expire_at_ms,
            lfu_freq: f.lfu_freq,
            idle_seconds: f.idle_seconds,
        }
    }
}

/// What the file says about itself (read before the parallel pass).
#[derive(Clone, Debug)]
pub struct FileMeta {
    /// `REDIS` or `VALKEY`.
    pub magic: &'static str,
    /// RDB format version.
    pub rdb_version: u32,
    /// Size of the file.
    pub size_bytes: u64,
    /// Aux fields at the start of the file (lossy UTF-8), in file order.
    pub aux: Vec<(String, String)>,
    /// `redis-ver` aux field.
    pub redis_ver: Option<String>,
    /// `ctime` aux field: when the snapshot was taken, seconds since the epoch.
    pub ctime: Option<i64>,
    /// `used-mem` aux field: the server's memory when it saved, bytes.
    pub used_mem: Option<u64>,
    /// `valkey-ver` aux field (Valkey 8+).
    pub valkey_ver: Option<String>,
    /// The (Redis-compatible) version encodings and memory were modelled for.
    pub target_version: RedisVersion,
    /// When the file is modelled as loaded into Valkey: its version.
    pub target_valkey: Option<RedisVersion>,
    /// "Now" used for expiry buckets, ms since the epoch.
    pub now_ms: i64,
    /// With `--allocator auto`: which allocator was picked, and how close
    /// each candidate came to `used-mem`.
    pub allocator_choice: Option<AllocatorChoice>,
}

/// The outcome of `--allocator auto`.
#[derive(Clone, Debug, PartialEq)]
pub struct AllocatorChoice {
    /// The allocator the estimates use.
    pub chosen: crate::memory::Allocator,
    /// Why: `used-mem` (the closest candidate) or `no used-mem` (the
    /// jemalloc fallback).
    pub reason: &'static str,
    /// Every candidate, in [`crate::memory::Allocator::ALL`] order.
    pub candidates: Vec<AllocatorCandidate>,
}

/// One allocator tried by `--allocator auto`.
#[derive(Clone, Debug, PartialEq)]
pub struct AllocatorCandidate {
    /// The allocator.
    pub allocator: crate::memory::Allocator,
    /// Modelled total of every key, bytes.
    pub modelled_bytes: u64,
    /// The server's fixed overhead added to it (empty server, keyspace
    /// tables), bytes.
    pub overhead_bytes: u64,
    /// (modelled + overhead − used-mem) / used-mem; `None` without used-mem.
    pub distance: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_buckets() {
        let now = 1_000_000_000_000;
        let h = 3_600_000;
        assert_eq!(ExpiryBucket::of(None, now), ExpiryBucket::NoTtl);
        assert_eq!(ExpiryBucket::of(Some(now), now), ExpiryBucket::Expired);
        assert_eq!(ExpiryBucket::of(Some(now + 1), now), ExpiryBucket::Under1h);
        assert_eq!(
            ExpiryBucket::of(Some(now + h), now),
            ExpiryBucket::Hour1ToDay1
        );
        assert_eq!(
            ExpiryBucket::of(Some(now + 24 * h), now),
            ExpiryBucket::Day1ToDay7
        );
        assert_eq!(
            ExpiryBucket::of(Some(now + 7 * 24 * h), now),
            ExpiryBucket::Day7ToDay30
        );
        assert_eq!(
            ExpiryBucket::of(Some(now + 30 * 24 * h), now),
            ExpiryBucket::Over30d
        );
        for (i, b) in ExpiryBucket::ALL.iter().enumerate() {
            assert_eq!(*b as usize, i);
        }
    }
}
