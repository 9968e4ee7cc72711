//! The figures of one pattern or tree node ([`PrefixStat`]), and what a
//! key adds to them ([`KeyStat`]).

use rdb_parser::Kind;

use crate::model::{Bucket, ExpiryBucket};

/// Index of a type in [`PrefixStat::type_keys`].
pub fn kind_index(k: Kind) -> usize {
    match k {
        Kind::String => 0,
        Kind::List => 1,
        Kind::Set => 2,
        Kind::Zset => 3,
        Kind::Hash => 4,
        Kind::Stream => 5,
        Kind::Module => 6,
        Kind::Array => 7,
    }
}

/// Totals of one pattern (or tree node).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PrefixStat {
    /// Keys.
    pub keys: u64,
    /// Estimated memory.
    pub memory_bytes: u64,
    /// Bytes in the file.
    pub rdb_bytes: u64,
    /// Keys per type: string, list, set, zset, hash, stream, module, array.
    pub type_keys: [u64; 8],
    /// Keys with a TTL.
    pub keys_with_ttl: u64,
    /// Per expiry bucket, in [`ExpiryBucket::ALL`] order.
    pub expiry: [Bucket; 7],
}

impl PrefixStat {
    pub(super) fn add(&mut self, k: &KeyStat) {
        self.keys += 1;
        self.memory_bytes += k.memory_bytes;
        self.rdb_bytes += k.rdb_bytes;
        self.type_keys[kind_index(k.kind)] += 1;
        self.keys_with_ttl += u64::from(k.has_ttl);
        let b = &mut self.expiry[k.bucket as usize];
        b.keys += 1;
        b.memory_bytes += k.memory_bytes;
    }

    pub(super) fn merge(&mut self, o: &PrefixStat) {
        self.keys += o.keys;
        self.memory_bytes += o.memory_bytes;
        self.rdb_bytes += o.rdb_bytes;
        for (a, b) in self.type_keys.iter_mut().zip(&o.type_keys) {
            *a += b;
        }
        self.keys_with_ttl += o.keys_with_ttl;
        for (a, b) in self.expiry.iter_mut().zip(&o.expiry) {
            a.keys += b.keys;
            a.memory_bytes += b.memory_bytes;
        }
    }
}

/// What `PrefixAcc::add` needs to know about a key.
#[derive(Clone, Copy, Debug)]
pub struct KeyStat {
    /// Type.
    pub kind: Kind,
    /// Estimated memory.
    pub memory_bytes: u64,
    /// Bytes in the file.
    pub rdb_bytes: u64,
    /// Has a TTL.
    pub has_ttl: bool,
    /// Expiry bucket.
    pub bucket: ExpiryBucket,
}
