//! The per-worker [`Accumulator`]: everything one worker gathers from the
//! keys it reads, merged with the other workers' at the end; and
//! [`FileReport`], a file's merged accumulator with its header facts.

use std::collections::BTreeMap;

use rdb_parser::{Kind, UNKNOWN_DB};

use crate::facts::{KeyFacts, MemoryModel};
use crate::model::{BigKey, Bucket, DbStat, ExpiryBucket, FileMeta, TypeKey, TypeStat};
use crate::prefix::{CliffAcc, KeyStat, PatternSlot, PrefixAcc, PrefixConfig};
use crate::server::{EncodingLimits, ObjEncoding};
use crate::slot::SLOTS;

mod dense;
mod hash_tags;
mod savings;
mod top;

use dense::{dense_db, dense_kind, Dense, DENSE_DBS, DENSE_KINDS, ENCODINGS};
use hash_tags::HashTagAcc;
pub(crate) use hash_tags::HASH_TAG_CAP;
pub use savings::{
    Saving, SavingsAcc, COMPRESSIBLE_MIN_BYTES, COMPRESSIBLE_RATIO, LIMITED_KINDS,
    NEAR_LIMIT_FACTOR,
};
use top::{Ranked, TopN};

/// Limits an accumulator applies (copied from the analysis's `Options`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) top_n: usize,
    pub(crate) bigkey_bytes: u64,
    pub(crate) bigkey_elements: u64,
    pub(crate) now_ms: i64,
    pub(crate) prefix: PrefixConfig,
    /// The loading server's listpack limits (for [`SavingsAcc`]).
    pub(crate) encoding: EncodingLimits,
}

/// Everything one worker gathers; workers' accumulators are merged at the
/// end. Updating it never locks and never allocates per key, except when
/// a key enters a top-N list or passes a big-key threshold.
#[derive(Debug)]
pub struct Accumulator {
    limits: Limits,
    /// Keys.
    pub keys: u64,
    /// Keys with a TTL.
    pub expires: u64,
    /// Keys preceded by Redis Enterprise's per-key opcodes (107, 121).
    pub enterprise_opcode_keys: u64,
    /// Elements (string bytes for strings).
    pub elements: u64,
    /// Bytes of key records in the file.
    pub rdb_bytes: u64,
    /// Estimated memory of all keys.
    pub memory_bytes: u64,
    /// Per (type, encoding).
    pub types: BTreeMap<(TypeKey, ObjEncoding), TypeStat>,
    /// Per database.
    pub dbs: BTreeMap<u64, DbStat>,
    /// Per expiry bucket, in [`ExpiryBucket::ALL`] order.
    pub expiry: [Bucket; 7],
    /// Per cluster slot (empty until the first key).
    pub slots: Vec<Bucket>,
    top_memory: BTreeMap<TypeKey, TopN>,
    top_elements: BTreeMap<TypeKey, TopN>,
    /// Highest LFU counters (files saved under an LFU maxmemory policy).
    hot_lfu: TopN,
    /// Smallest LRU idle times (files saved under an LRU policy).
    hot_lru: TopN,
    /// Keys over the big-key thresholds (in no particular order).
    pub over_threshold: Vec<BigKey>,
    /// Tallies not yet in `types`, `dbs`, `top_memory`, `top_elements`
    /// (empty outside `analyze_rdb`'s fold).
    dense: Box<Dense>,
    /// Key patterns ([`crate::prefix`]).
    pub prefixes: PrefixAcc,
    /// Keys per minute of expiry, within 30 days of the snapshot.
    pub cliffs: CliffAcc,
    /// Keys and memory per cluster hash tag (`{...}` in the key).
    pub hash_tags: HashTagAcc,
    /// Memory a raised limit or compression would save.
    pub savings: SavingsAcc,
    pattern_buf: Vec<u8>,
}

impl Accumulator {
    pub(crate) fn new(limits: Limits) -> Accumulator {
        Accumulator {
            limits,
            keys: 0,
            expires: 0,
            enterprise_opcode_keys: 0,
            elements: 0,
            rdb_bytes: 0,
            memory_bytes: 0,
            types: BTreeMap::new(),
            dbs: BTreeMap::new(),
            expiry: [Bucket::default(); 7],
            slots: Vec::new(),
            top_memory: BTreeMap::new(),
            top_elements: BTreeMap::new(),
            hot_lfu: TopN::default(),
            hot_lru: TopN::default(),
            over_threshold: Vec::new(),
            dense: Box::default(),
            prefixes: PrefixAcc::new(limits.prefix),
            cliffs: CliffAcc::default(),
            hash_tags: HashTagAcc::default(),
            savings: SavingsAcc::default(),
            pattern_buf: Vec::new(),
        }
    }

    /// Adds one key with its estimated memory.
    pub fn observe(&mut self, f: &KeyFacts<'_>, memory: u64) {
        let mut buf = std::mem::take(&mut self.pattern_buf);
        let pattern = self.limits.prefix.template(f.key, &mut buf);
        self.observe_with_pattern(f, memory, pattern);
        self.pattern_buf = buf;
    }

    /// [`Accumulator::observe`] for a key whose pattern
    /// ([`PrefixConfig::template`]) is already known.
    pub fn observe_with_pattern(&mut self, f: &KeyFacts<'_>, memory: u64, pattern: &[u8]) {
        self.tally::<false>(f, memory, pattern);
    }

    /// [`Accumulator::observe_with_pattern`]; with `DENSE`, the common
    /// types' and databases' totals are left in [`Dense`] until
    /// [`Accumulator::settle`]. Returns the pattern's number
    /// ([`PrefixAcc::add`]).
    #[inline(always)]
    pub(crate) fn tally<const DENSE: bool>(
        &mut self,
        f: &KeyFacts<'_>,
        memory: u64,
        pattern: &[u8],
    ) -> Option<PatternSlot> {
        self.keys += 1;
        self.enterprise_opcode_keys += u64::from(f.enterprise_opcodes);
        self.elements += f.elements;
        self.rdb_bytes += f.rdb_bytes;
        self.memory_bytes += memory;
        let tk = TypeKey {
            kind: f.kind,
            module: f.module,
        };
        let dense_kind = if DENSE { dense_kind(tk) } else { None };
        let t = match dense_kind {
            Some(k) => &mut self.dense.types[k][f.encoding as usize],
            None => self.types.entry((tk, f.encoding)).or_default(),
        };
        t.keys += 1;
        t.memory_bytes += memory;
        t.rdb_bytes += f.rdb_bytes;
        t.elements += f.elements;
        let d = match dense_db(f.db) {
            Some(i) if DENSE => &mut self.dense.dbs[i],
            _ => self.dbs.entry(f.db).or_default(),
        };
        d.keys += 1;
        d.memory_bytes += memory;
        d.rdb_bytes += f.rdb_bytes;
        if f.expire_at_ms.is_some() {
            d.expires += 1;
            self.expires += 1;
        }
        let b = ExpiryBucket::of(f.expire_at_ms, self.limits.now_ms);
        self.expiry[b as usize].add(memory);
        let slot = self.prefixes.add(
            f.key,
            pattern,
            &KeyStat {
                kind: f.kind,
                memory_bytes: memory,
                rdb_bytes: f.rdb_bytes,
                has_ttl: f.expire_at_ms.is_some(),
                bucket: b,
            },
        );
        if let Some(at) = f.expire_at_ms {
            self.cliffs.add(at, self.limits.now_ms, memory);
        }
        if self.slots.is_empty() {
            self.slots = vec![Bucket::default(); SLOTS];
        }
        self.slots[usize::from(f.slot)].add(memory);
        self.hash_tags.add(f.hash_tag, memory);
        let n = self.limits.top_n;
        self.savings.add(f, memory, &self.limits.encoding, n);
        match dense_kind {
            Some(k) => self.dense.top_memory[k].get_or_insert_default(),
            None => self.top_memory.entry(tk).or_default(),
        }
        .offer(n, memory, f, memory);
        if f.kind != Kind::Module {
            match dense_kind {
                Some(k) => self.dense.top_elements[k].get_or_insert_default(),
                None => self.top_elements.entry(tk).or_default(),
            }
            .offer(n, f.elements, f, memory);
        }
        if let Some(freq) = f.lfu_freq {
            self.hot_lfu.offer(n, u64::from(freq), f, memory);
        }
        if let Some(idle) = f.idle_seconds {
            // Least idle ranks first.
            self.hot_lru.offer(n, u64::MAX - idle, f, memory);
        }
        let big = match f.kind {
            Kind::String => f.elements > self.limits.bigkey_bytes,
            Kind::Module => false,
            _ => f.elements > self.limits.bigkey_elements,
        };
        if big {
            self.over_threshold.push(BigKey::of(f, memory));
        }
        slot
    }

    /// Starts loading cluster slot `slot`'s counter, which
    /// [`Accumulator::tally`] will update: the counters (16384 of them)
    /// do not stay in the cache, and waiting for one per key was the
    /// single costliest load of a run.
    #[inline(always)]
    pub(crate) fn prefetch_slot(&self, slot: u16) {
        if let Some(b) = self.slots.get(usize::from(slot)) {
            rdb_parser::mmap::prefetch(b);
        }
    }

    /// Folds the tallies held in [`Dense`] into the maps.
    pub(crate) fn settle(&mut self) {
        let n = self.limits.top_n;
        let dense = &mut *self.dense;
        for (k, &kind) in DENSE_KINDS.iter().enumerate() {
            let tk = TypeKey { kind, module: None };
            for (e, &enc) in ENCODINGS.iter().enumerate() {
                let t = std::mem::take(&mut dense.types[k][e]);
                if t.keys > 0 {
                    self.types.entry((tk, enc)).or_default().merge(&t);
                }
            }
            if let Some(t) = dense.top_memory[k].take() {
                self.top_memory.entry(tk).or_default().merge(n, t);
            }
            if let Some(t) = dense.top_elements[k].take() {
                self.top_elements.entry(tk).or_default().merge(n, t);
            }
        }
        for (i, d) in dense.dbs.iter_mut().enumerate() {
            let d = std::mem::take(d);
            if d.keys > 0 {
                let db = if i == DENSE_DBS { UNKNOWN_DB } else { i as u64 };
                self.dbs.entry(db).or_default().merge(&d);
            }
        }
    }

    /// Labels every key counted with database `db`: for keys read before
    /// the database was known, all counted under one placeholder (so the
    /// order within the top lists, which ties on the database, holds).
    pub(crate) fn set_db(&mut self, db: u64) {
        self.settle();
        let mut all = DbStat::default();
        for d in std::mem::take(&mut self.dbs).into_values() {
            all.merge(&d);
        }
        if all.keys > 0 {
            self.dbs.insert(db, all);
        }
        let relabel = |t: &mut TopN| {
            let mut v = std::mem::take(&mut t.heap).into_vec();
            for r in &mut v {
                r.0.key.db = db;
            }
            t.heap = v.into();
        };
        self.top_memory.values_mut().for_each(relabel);
        self.top_elements.values_mut().for_each(relabel);
        relabel(&mut self.hot_lfu);
        relabel(&mut self.hot_lru);
        for b in &mut self.over_threshold {
            b.db = db;
        }
    }

    /// Folds `o` into `self`.
    pub fn merge(mut self, mut o: Accumulator) -> Accumulator {
        self.settle();
        o.settle();
        self.keys += o.keys;
        self.expires += o.expires;
        self.enterprise_opcode_keys += o.enterprise_opcode_keys;
        self.elements += o.elements;
        self.rdb_bytes += o.rdb_bytes;
        self.memory_bytes += o.memory_bytes;
        for (k, t) in o.types {
            self.types.entry(k).or_default().merge(&t);
        }
        for (k, d) in o.dbs {
            self.dbs.entry(k).or_default().merge(&d);
        }
        for (a, b) in self.expiry.iter_mut().zip(o.expiry) {
            a.merge(b);
        }
        if self.slots.is_empty() {
            self.slots = o.slots;
        } else {
            for (a, b) in self.slots.iter_mut().zip(o.slots) {
                a.merge(b);
            }
        }
        let n = self.limits.top_n;
        for (k, t) in o.top_memory {
            self.top_memory.entry(k).or_default().merge(n, t);
        }
        for (k, t) in o.top_elements {
            self.top_elements.entry(k).or_default().merge(n, t);
        }
        self.hot_lfu.merge(n, o.hot_lfu);
        self.hot_lru.merge(n, o.hot_lru);
        self.over_threshold.extend(o.over_threshold);
        self.prefixes.merge(o.prefixes);
        self.cliffs.merge(o.cliffs);
        self.hash_tags.merge(o.hash_tags);
        self.savings.merge(o.savings, n);
        self
    }

    /// Keys whose memory is their serialized size
    /// ([`MemoryModel::Serialized`]), and that memory: the loosely
    /// estimated share of [`Accumulator::memory_bytes`].
    pub fn serialized(&self) -> Bucket {
        let mut b = Bucket::default();
        for ((tk, _), t) in &self.types {
            if MemoryModel::of(tk.kind, tk.module) == MemoryModel::Serialized {
                b.keys += t.keys;
                b.memory_bytes += t.memory_bytes;
            }
        }
        b
    }

    /// The listpack limits of the server modelled (those [`SavingsAcc`] judged by).
    pub fn encoding_limits(&self) -> &EncodingLimits {
        &self.limits.encoding
    }

    /// The `n` slots holding the most memory, most first (ties by slot).
    pub fn top_slots(&self, n: usize) -> Vec<(u16, Bucket)> {
        let mut v: Vec<(u16, Bucket)> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, b)| b.keys > 0)
            .map(|(i, b)| (i as u16, *b))
            .collect();
        v.sort_by(|a, b| b.1.memory_bytes.cmp(&a.1.memory_bytes).then(a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }

    /// Why the hot-key lists are empty, and what to do, when they are.
    pub fn hot_keys_note(&self) -> Option<&'static str> {
        let (lfu, lru) = self.hot_keys();
        (lfu.is_empty() && lru.is_empty() && self.keys > 0).then_some(
            "no hot keys: this file carries neither LFU counters nor LRU idle times (the server's maxmemory-policy \
             was not an LFU or LRU policy when it saved). To find hot keys, set maxmemory-policy to allkeys-lfu \
             (or volatile-lfu) before the next snapshot, or file a hotkeys ticket against the live node, which \
             samples OBJECT FREQ or the command stream.",
        )
    }

    /// Hot keys, best first: by LFU counter (highest first) when the file
    /// carries LFU data, and by LRU idle time (lowest first) when it
    /// carries LRU data. Both are empty for files saved without an
    /// LRU/LFU maxmemory policy. The LFU counter is logarithmic and decays;
    /// idle time only says "recently touched", not "often".
    pub fn hot_keys(&self) -> (Vec<&BigKey>, Vec<&BigKey>) {
        (sorted(&self.hot_lfu), sorted(&self.hot_lru))
    }

    /// Top keys by estimated memory, per type, best first.
    pub fn top_by_memory(&self) -> Vec<(TypeKey, Vec<&BigKey>)> {
        top_lists(&self.top_memory)
    }

    /// Top keys by element count (string length for strings), per type, best first.
    pub fn top_by_elements(&self) -> Vec<(TypeKey, Vec<&BigKey>)> {
        top_lists(&self.top_elements)
    }

    /// Keys over the thresholds, sorted by (db, key).
    pub fn over_threshold_sorted(&self) -> Vec<&BigKey> {
        let mut v: Vec<&BigKey> = self.over_threshold.iter().collect();
        v.sort_by(|a, b| (a.db, &a.key).cmp(&(b.db, &b.key)));
        v
    }
}

fn sorted(t: &TopN) -> Vec<&BigKey> {
    let mut v: Vec<&Ranked> = t.heap.iter().map(|r| &r.0).collect();
    v.sort_by(|a, b| b.cmp(a));
    v.into_iter().map(|r| &r.key).collect()
}

fn top_lists(m: &BTreeMap<TypeKey, TopN>) -> Vec<(TypeKey, Vec<&BigKey>)> {
    m.iter().map(|(k, t)| (*k, sorted(t))).collect()
}

/// The result of analyzing one file.
#[derive(Debug)]
pub struct FileReport {
    /// The name given to this input (`source` column).
    pub source: String,
    /// Header facts.
    pub meta: FileMeta,
    /// Totals, tables and big keys.
    pub acc: Accumulator,
    /// Wall time of the analysis.
    pub seconds: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdb_parser::{ModuleId, ValueType};

    /// The fold's path (arrays for the common types and databases, maps
    /// for module types and large database numbers, settled at merges)
    /// gives what the maps alone give, whatever the split.
    #[test]
    fn dense_tallies_equal_the_maps() {
        let limits = Limits {
            top_n: 2,
            bigkey_bytes: 100,
            bigkey_elements: 100,
            now_ms: 1_000_000,
            prefix: PrefixConfig::default(),
            encoding: EncodingLimits::default(),
        };
        let shapes = [
            (Kind::String, None, ObjEncoding::Embstr),
            (Kind::String, None, ObjEncoding::Int),
            (Kind::List, None, ObjEncoding::Quicklist),
            (Kind::Hash, None, ObjEncoding::Listpack),
            (Kind::Stream, None, ObjEncoding::Stream),
            (Kind::Module, Some(ModuleId(7 << 10)), ObjEncoding::Module),
            (Kind::Module, Some(ModuleId(9 << 10)), ObjEncoding::Module),
            // Not produced by the parser; still counted in the maps.
            (Kind::String, Some(ModuleId(1)), ObjEncoding::Raw),
        ];
        let dbs = [0, 3, 63, 64, 1000, u64::MAX];
        let keys: Vec<Vec<u8>> = (0..500).map(|i| format!("k:{i}").into_bytes()).collect();
        let facts = |i: usize| {
            let (kind, module, encoding) = shapes[i * 7 % shapes.len()];
            KeyFacts {
                db: dbs[i * 5 % dbs.len()],
                key: &keys[i],
                kind,
                value_type: ValueType::String,
                module,
                encoding,
                rdb_bytes: 10 + i as u64,
                elements: (i * 37 % 211) as u64,
                max_element_bytes: 1,
                memory_bytes: (i * 53 % 997) as u64,
                expire_at_ms: i.is_multiple_of(3).then_some(1_000_000 + i as i64 * 1000),
                idle_seconds: None,
                lfu_freq: Some((i % 256) as u8),
                enterprise_opcodes: false,
                slot: (i % 16384) as u16,
                hash_tag: None,
            }
        };
        let mut maps = Accumulator::new(limits);
        for i in 0..keys.len() {
            let f = facts(i);
            maps.observe_with_pattern(&f, f.memory_bytes, b"k:*");
        }
        for parts in [1, 2, 7] {
            let mut accs: Vec<Accumulator> = (0..parts).map(|_| Accumulator::new(limits)).collect();
            for i in 0..keys.len() {
                let f = facts(i);
                accs[i % parts].tally::<true>(&f, f.memory_bytes, b"k:*");
            }
            let mut it = accs.into_iter();
            let mut acc = it.next().unwrap();
            for o in it {
                acc = acc.merge(o);
            }
            acc.settle();
            assert_eq!(acc.types, maps.types, "{parts} parts");
            assert_eq!(acc.dbs, maps.dbs, "{parts} parts");
            assert_eq!(acc.top_by_memory(), maps.top_by_memory(), "{parts} parts");
            assert_eq!(
                acc.top_by_elements(),
                maps.top_by_elements(),
                "{parts} parts"
            );
            assert_eq!(acc.keys, maps.keys);
            assert_eq!(acc.expires, maps.expires);
        }
        assert_eq!(maps.dbs.len(), dbs.len());
        assert_eq!(maps.types.len(), shapes.len());
        // Two shapes are plain strings: one top list.
        assert_eq!(maps.top_by_memory().len(), shapes.len() - 1);
    }
}
