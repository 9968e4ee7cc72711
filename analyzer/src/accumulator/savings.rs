//! Memory that a setting or the application could save, found key by key:
//! hashes, sets and sorted sets just over their `*-max-listpack-entries`
//! limit (a raised limit would keep them compact), and strings the file's
//! own LZF compression halved (the application could store them compressed).

use rdb_parser::Kind;

use super::top::{Ranked, TopN};
use crate::facts::KeyFacts;
use crate::model::BigKey;
use crate::server::{EncodingLimits, ObjEncoding};

/// A collection counts as "just over" its entries limit up to this many
/// times the limit.
pub const NEAR_LIMIT_FACTOR: u64 = 2;
/// Strings shorter than this are not worth compressing.
pub const COMPRESSIBLE_MIN_BYTES: u64 = 1024;
/// A string counts as compressible when its record in the file is at most
/// this share of its length (Redis compresses strings with LZF on save).
pub const COMPRESSIBLE_RATIO: f64 = 0.5;
/// Listpack bytes per element beyond its data (encoding byte and back
/// length, for short elements).
const LISTPACK_ENTRY_OVERHEAD: u64 = 2;
/// What a small compact key costs besides its listpack: the value object,
/// the key's sds and its dict entry, rounded up.
const COMPACT_KEY_OVERHEAD: u64 = 64;

/// Keys, their memory now, and what they would take after the change.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Saving {
    /// Keys.
    pub keys: u64,
    /// Estimated memory now.
    pub memory_bytes: u64,
    /// Estimated memory after the change.
    pub after_bytes: u64,
}

impl Saving {
    fn add(&mut self, memory: u64, after: u64) {
        self.keys += 1;
        self.memory_bytes += memory;
        self.after_bytes += after.min(memory);
    }

    fn merge(&mut self, o: Saving) {
        self.keys += o.keys;
        self.memory_bytes += o.memory_bytes;
        self.after_bytes += o.after_bytes;
    }

    /// Memory the change would free.
    pub fn saved_bytes(&self) -> u64 {
        self.memory_bytes.saturating_sub(self.after_bytes)
    }
}

/// The collection types with a listpack limit, in [`SavingsAcc::near_limit`] order.
pub const LIMITED_KINDS: [Kind; 3] = [Kind::Hash, Kind::Set, Kind::Zset];

/// Per worker; merged like the rest of the accumulator.
#[derive(Debug, Default)]
pub struct SavingsAcc {
    /// Per [`LIMITED_KINDS`] entry: collections over the entries limit by at
    /// most [`NEAR_LIMIT_FACTOR`] whose elements all fit the value limit.
    pub near_limit: [Saving; 3],
    /// Strings of [`COMPRESSIBLE_MIN_BYTES`] or more stored at most
    /// [`COMPRESSIBLE_RATIO`] of their length.
    pub compressible: Saving,
    top_near: TopN,
    top_compressible: TopN,
}

impl SavingsAcc {
    /// Looks at one key: most are strings too short to compress, turned
    /// away here without a call.
    #[inline(always)]
    pub(crate) fn add(&mut self, f: &KeyFacts<'_>, memory: u64, limits: &EncodingLimits, n: usize) {
        if f.kind == Kind::String && f.elements < COMPRESSIBLE_MIN_BYTES {
            return;
        }
        self.add_candidate(f, memory, limits, n);
    }

    #[inline(never)]
    fn add_candidate(&mut self, f: &KeyFacts<'_>, memory: u64, limits: &EncodingLimits, n: usize) {
        match f.kind {
            Kind::String
                if f.elements >= COMPRESSIBLE_MIN_BYTES
                    && (f.rdb_bytes as f64) <= COMPRESSIBLE_RATIO * f.elements as f64 =>
            {
                // Stored compressed, the value would take about what its
                // record takes in the file.
                let after = memory.saturating_sub(f.elements - f.rdb_bytes);
                self.compressible.add(memory, after);
                self.top_compressible
                    .offer(n, memory - after.min(memory), f, memory);
            }
            Kind::Hash | Kind::Set | Kind::Zset => {
                let Some((i, entries, value)) = limit_of(f, limits) else {
                    return;
                };
                if f.elements > entries
                    && f.elements <= entries.saturating_mul(NEAR_LIMIT_FACTOR)
                    && f.max_element_bytes <= value
                {
                    let after = compact_estimate(f);
                    self.near_limit[i].add(memory, after);
                    self.top_near
                        .offer(n, memory.saturating_sub(after), f, memory);
                }
            }
            _ => {}
        }
    }

    /// Adds another worker's findings.
    pub(crate) fn merge(&mut self, o: SavingsAcc, n: usize) {
        for (a, b) in self.near_limit.iter_mut().zip(o.near_limit) {
            a.merge(b);
        }
        self.compressible.merge(o.compressible);
        self.top_near.merge(n, o.top_near);
        self.top_compressible.merge(n, o.top_compressible);
    }

    /// The near-limit collections that would save the most, with what each saves.
    pub fn top_near_limit(&self) -> Vec<(&BigKey, u64)> {
        sorted(&self.top_near)
    }

    /// The compressible strings that would save the most, with what each saves.
    pub fn top_compressible(&self) -> Vec<(&BigKey, u64)> {
        sorted(&self.top_compressible)
    }
}

/// The (index, entries limit, value limit) of a collection in a table
/// encoding; `None` for compact encodings and other types.
fn limit_of(f: &KeyFacts<'_>, l: &EncodingLimits) -> Option<(usize, u64, u64)> {
    match (f.kind, f.encoding) {
        (Kind::Hash, ObjEncoding::Hashtable) => {
            Some((0, l.hash_max_listpack_entries, l.hash_max_listpack_value))
        }
        (Kind::Set, ObjEncoding::Hashtable) => {
            Some((1, l.set_max_listpack_entries, l.set_max_listpack_value))
        }
        (Kind::Zset, ObjEncoding::Skiplist) => {
            Some((2, l.zset_max_listpack_entries, l.zset_max_listpack_value))
        }
        _ => None,
    }
}

/// About what the collection takes as one listpack: its elements (the
/// record in the file holds them with a length byte each) plus a listpack
/// entry's overhead each, and the compact key's fixed cost.
fn compact_estimate(f: &KeyFacts<'_>) -> u64 {
    let per_element = match f.kind {
        // A hash's and a sorted set's element is a field and a value (a
        // member and a score).
        Kind::Hash | Kind::Zset => 2 * LISTPACK_ENTRY_OVERHEAD,
        _ => LISTPACK_ENTRY_OVERHEAD,
    };
    f.rdb_bytes + f.elements * per_element + COMPACT_KEY_OVERHEAD
}

fn sorted(t: &TopN) -> Vec<(&BigKey, u64)> {
    let mut v: Vec<&Ranked> = t.heap.iter().map(|r| &r.0).collect();
    v.sort_by(|a, b| b.cmp(a));
    v.into_iter().map(|r| (&r.key, r.metric)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdb_parser::ValueType;

    fn facts(
        kind: Kind,
        encoding: ObjEncoding,
        elements: u64,
        max: u64,
        rdb: u64,
    ) -> KeyFacts<'static> {
        KeyFacts {
            db: 0,
            key: b"k",
            kind,
            value_type: ValueType::String,
            module: None,
            encoding,
            rdb_bytes: rdb,
            elements,
            max_element_bytes: max,
            memory_bytes: 0,
            expire_at_ms: None,
            idle_seconds: None,
            lfu_freq: None,
            slot: 0,
            hash_tag: None,
            enterprise_opcodes: false,
        }
    }

    #[test]
    fn collections_just_over_the_limit_count_once_with_their_saving() {
        let l = EncodingLimits::default();
        let mut a = SavingsAcc::default();
        // 600 fields of 10 bytes: over 512, under 1024, values fit.
        a.add(
            &facts(Kind::Hash, ObjEncoding::Hashtable, 600, 10, 13_000),
            60_000,
            &l,
            10,
        );
        // Too many fields, a value too long, or compact already: not counted.
        a.add(
            &facts(Kind::Hash, ObjEncoding::Hashtable, 5_000, 10, 130_000),
            600_000,
            &l,
            10,
        );
        a.add(
            &facts(Kind::Hash, ObjEncoding::Hashtable, 600, 65, 40_000),
            90_000,
            &l,
            10,
        );
        a.add(
            &facts(Kind::Hash, ObjEncoding::Listpack, 100, 10, 2_000),
            3_000,
            &l,
            10,
        );
        assert_eq!(a.near_limit[0].keys, 1);
        assert_eq!(a.near_limit[0].memory_bytes, 60_000);
        assert_eq!(a.near_limit[0].after_bytes, 13_000 + 600 * 4 + 64);
        let top = a.top_near_limit();
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].1, a.near_limit[0].saved_bytes());
    }

    #[test]
    fn strings_the_file_compressed_by_half_are_compressible() {
        let l = EncodingLimits::default();
        let mut a = SavingsAcc::default();
        a.add(
            &facts(Kind::String, ObjEncoding::Raw, 10_000, 10_000, 1_000),
            10_300,
            &l,
            10,
        );
        a.add(
            &facts(Kind::String, ObjEncoding::Raw, 10_000, 10_000, 9_000),
            10_300,
            &l,
            10,
        );
        a.add(
            &facts(Kind::String, ObjEncoding::Embstr, 40, 40, 10),
            64,
            &l,
            10,
        );
        assert_eq!(a.compressible.keys, 1);
        assert_eq!(a.compressible.saved_bytes(), 9_000);
        let mut b = SavingsAcc::default();
        b.add(
            &facts(Kind::String, ObjEncoding::Raw, 4_000, 4_000, 100),
            4_200,
            &l,
            10,
        );
        a.merge(b, 10);
        assert_eq!(a.compressible.keys, 2);
        let top = a.top_compressible();
        assert_eq!(top.iter().map(|t| t.1).collect::<Vec<_>>(), [9_000, 3_900]);
    }
}
