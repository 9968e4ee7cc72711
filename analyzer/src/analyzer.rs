//! The per-worker [`Accumulator`], its merge, and the driver that runs one
//! parallel pass over a file ([`analyze_file`]).

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rdb_parser::{
    ErrorKind, Kind, Magic, ModuleId, Rdb, Record, Scratch, SpeculativeFold, DEFAULT_CHUNK_BYTES,
    UNKNOWN_DB,
};

use crate::error::{Error, Result};
use crate::facts::{self, EncodingLimits, FactsContext, KeyFacts, ObjEncoding, RedisVersion};
use crate::memory::{Allocator, Profile};
use crate::output::parquet::{
    EncodedRowGroup, KeysCompression, KeysEncoder, KeysFileWriter, PageBuffers,
};
use crate::prefix::{CliffAcc, KeyStat, PatternSlot, PrefixAcc, PrefixConfig, Separators};
use crate::slot::SLOTS;

/// Settings of an analysis.
#[derive(Clone, Debug)]
pub struct Options {
    /// Keys kept per type in each top-N list (by memory, by elements).
    pub top_n: usize,
    /// Strings longer than this many bytes are big keys.
    pub bigkey_bytes: u64,
    /// Collections with more elements than this are big keys.
    pub bigkey_elements: u64,
    /// Version the file is assumed to be loaded into; `None` = the
    /// `redis-ver` aux field, else a guess from the RDB version.
    pub redis_version: Option<RedisVersion>,
    /// The server's encoding limits.
    pub limits: EncodingLimits,
    /// The server's allocator (jemalloc as Redis vendors it, unless told).
    pub allocator: Allocator,
    /// Model a server freshly restarted from the file instead of one that
    /// built its data with commands.
    pub fresh_load: bool,
    /// Target chunk size for parallel reading.
    pub chunk_bytes: u64,
    /// "Now" for expiry buckets, ms since the epoch; `None` = the `ctime`
    /// aux field (when the snapshot was taken), else the clock.
    pub now_ms: Option<i64>,
    /// How keys are split into prefix segments ([`crate::prefix`]).
    pub separators: Separators,
    /// Most distinct key patterns kept; beyond, patterns are cut coarser
    /// (see [`crate::prefix`]).
    pub prefix_cap: usize,
    /// Prefix depth of the report's tree and of the per-prefix expiry rows.
    pub prefix_depth: usize,
    /// Codec of `keys.parquet`.
    pub keys_compression: KeysCompression,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            top_n: 10,
            bigkey_bytes: 100 * 1024,
            bigkey_elements: 50_000,
            redis_version: None,
            limits: EncodingLimits::default(),
            allocator: Allocator::Jemalloc,
            fresh_load: false,
            chunk_bytes: DEFAULT_CHUNK_BYTES,
            now_ms: None,
            separators: Separators::Auto,
            prefix_cap: crate::prefix::DEFAULT_CAP,
            prefix_depth: 3,
            keys_compression: KeysCompression::default(),
        }
    }
}

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
    fn merge(&mut self, o: &TypeStat) {
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
    fn merge(&mut self, o: &DbStat) {
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
    fn add(&mut self, memory: u64) {
        self.keys += 1;
        self.memory_bytes += memory;
    }

    fn merge(&mut self, o: Bucket) {
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
    fn of(f: &KeyFacts<'_>, memory: u64) -> BigKey {
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

/// A big key ranked by one metric; "greater" means "ranks higher": larger
/// metric, then smaller (db, key), so results do not depend on threads.
#[derive(Debug)]
struct Ranked {
    metric: u64,
    key: BigKey,
}

fn rank(metric: u64, db: u64, key: &[u8], o_metric: u64, o_db: u64, o_key: &[u8]) -> Ordering {
    metric
        .cmp(&o_metric)
        .then_with(|| (o_db, o_key).cmp(&(db, key)))
}

impl Ord for Ranked {
    fn cmp(&self, o: &Ranked) -> Ordering {
        rank(
            self.metric,
            self.key.db,
            &self.key.key,
            o.metric,
            o.key.db,
            &o.key.key,
        )
    }
}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, o: &Ranked) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl PartialEq for Ranked {
    fn eq(&self, o: &Ranked) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Ranked {}

/// The `n` highest-ranked keys seen; a min-heap whose top is the one to evict.
#[derive(Debug, Default)]
struct TopN {
    heap: BinaryHeap<Reverse<Ranked>>,
    /// The evictee's metric once the list is full (0 before): a key below
    /// it is turned away without a look at the heap.
    floor: u64,
}

impl TopN {
    /// Offers a key; copies its bytes only if it makes the list.
    #[inline(always)]
    fn offer(&mut self, n: usize, metric: u64, f: &KeyFacts<'_>, memory: u64) {
        if metric < self.floor {
            return;
        }
        self.offer_checked(n, metric, f, memory);
    }

    fn offer_checked(&mut self, n: usize, metric: u64, f: &KeyFacts<'_>, memory: u64) {
        if n == 0 {
            return;
        }
        if self.heap.len() >= n {
            let worst = &self.heap.peek().expect("non-empty").0;
            if rank(
                metric,
                f.db,
                f.key,
                worst.metric,
                worst.key.db,
                &worst.key.key,
            ) != Ordering::Greater
            {
                return;
            }
            self.heap.pop();
        }
        self.heap.push(Reverse(Ranked {
            metric,
            key: BigKey::of(f, memory),
        }));
        self.set_floor(n);
    }

    fn set_floor(&mut self, n: usize) {
        if self.heap.len() >= n {
            self.floor = self.heap.peek().map_or(0, |w| w.0.metric);
        }
    }

    fn offer_ranked(&mut self, n: usize, r: Ranked) {
        if n == 0 {
            return;
        }
        if self.heap.len() >= n {
            if self.heap.peek().is_some_and(|w| r <= w.0) {
                return;
            }
            self.heap.pop();
        }
        self.heap.push(Reverse(r));
        self.set_floor(n);
    }

    fn merge(&mut self, n: usize, o: TopN) {
        for Reverse(r) in o.heap {
            self.offer_ranked(n, r);
        }
    }
}

/// Limits an accumulator applies (copied from [`Options`]).
#[derive(Clone, Copy, Debug)]
struct Limits {
    top_n: usize,
    bigkey_bytes: u64,
    bigkey_elements: u64,
    now_ms: i64,
    prefix: PrefixConfig,
}

/// The data types counted in arrays: every [`Kind`] but modules, in
/// declaration order (`kind as usize` indexes them).
const DENSE_KINDS: [Kind; 6] = [
    Kind::String,
    Kind::List,
    Kind::Set,
    Kind::Zset,
    Kind::Hash,
    Kind::Stream,
];

/// Every [`ObjEncoding`], in declaration order (`encoding as usize`
/// indexes them).
const ENCODINGS: [ObjEncoding; 13] = [
    ObjEncoding::Int,
    ObjEncoding::Embstr,
    ObjEncoding::Raw,
    ObjEncoding::Listpack,
    ObjEncoding::ListpackEx,
    ObjEncoding::Quicklist,
    ObjEncoding::Ziplist,
    ObjEncoding::Linkedlist,
    ObjEncoding::Intset,
    ObjEncoding::Hashtable,
    ObjEncoding::Skiplist,
    ObjEncoding::Stream,
    ObjEncoding::Module,
];

/// Databases below this number are counted in an array, and so is the
/// placeholder [`UNKNOWN_DB`] (in the last slot): a parallel read labels the
/// keys of a segment read from a guessed start with it until it knows
/// their database, which is most keys of most segments.
const DENSE_DBS: usize = 64;

/// The slot of database `db` in [`Dense::dbs`], if it has one.
#[inline(always)]
fn dense_db(db: u64) -> Option<usize> {
    match usize::try_from(db) {
        Ok(i) if i < DENSE_DBS => Some(i),
        _ if db == UNKNOWN_DB => Some(DENSE_DBS),
        _ => None,
    }
}

/// The index in [`DENSE_KINDS`] of a type counted in arrays (`None`:
/// module types, counted in the maps).
fn dense_kind(tk: TypeKey) -> Option<usize> {
    (tk.module.is_none() && tk.kind != Kind::Module).then_some(tk.kind as usize)
}

/// The per-key tallies of the common types and databases, indexed instead
/// of looked up in [`Accumulator`]'s maps, and folded into them by
/// [`Accumulator::settle`]. A slot stands for a map entry when it counted
/// a key (`keys > 0`, `Some`).
#[derive(Debug)]
struct Dense {
    types: [[TypeStat; ENCODINGS.len()]; DENSE_KINDS.len()],
    dbs: [DbStat; DENSE_DBS + 1],
    top_memory: [Option<TopN>; DENSE_KINDS.len()],
    top_elements: [Option<TopN>; DENSE_KINDS.len()],
}

impl Default for Dense {
    fn default() -> Dense {
        Dense {
            types: [[TypeStat::default(); ENCODINGS.len()]; DENSE_KINDS.len()],
            dbs: [DbStat::default(); DENSE_DBS + 1],
            top_memory: Default::default(),
            top_elements: Default::default(),
        }
    }
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
    /// (empty outside [`analyze_rdb`]'s fold).
    dense: Box<Dense>,
    /// Key patterns ([`crate::prefix`]).
    pub prefixes: PrefixAcc,
    /// Keys per minute of expiry, within 30 days of the snapshot.
    pub cliffs: CliffAcc,
    /// Keys and memory per cluster hash tag (`{...}` in the key).
    pub hash_tags: HashTagAcc,
    pattern_buf: Vec<u8>,
}

/// Most distinct hash tags tracked; beyond, the table is dropped and the
/// report says so (the slots table still has everything).
pub(crate) const HASH_TAG_CAP: usize = 100_000;

/// Keys and memory per hash tag: exact while the file has at most
/// [`HASH_TAG_CAP`] distinct tags, otherwise marked overflowed, so the
/// result does not depend on how the work was split.
#[derive(Clone, Debug, Default)]
pub struct HashTagAcc {
    tags: std::collections::HashMap<Box<[u8]>, Bucket>,
    overflowed: bool,
}

impl HashTagAcc {
    /// Counts a key whose hash tag is `tag` (none: nothing to count; most
    /// keys have none, so that test is inlined).
    #[inline(always)]
    fn add(&mut self, tag: Option<&[u8]>, memory: u64) {
        if let Some(tag) = tag {
            self.add_tag(tag, memory);
        }
    }

    fn add_tag(&mut self, tag: &[u8], memory: u64) {
        if self.overflowed {
            return;
        }
        let len = self.tags.len();
        if let Some(b) = self.tags.get_mut(tag) {
            b.add(memory);
        } else if len < HASH_TAG_CAP {
            let mut b = Bucket::default();
            b.add(memory);
            self.tags.insert(tag.into(), b);
        } else {
            self.overflowed = true;
            self.tags.clear();
        }
    }

    fn merge(&mut self, o: HashTagAcc) {
        if self.overflowed || o.overflowed {
            self.overflowed = true;
            self.tags.clear();
            return;
        }
        for (t, b) in o.tags {
            self.tags.entry(t).or_default().merge(b);
        }
        if self.tags.len() > HASH_TAG_CAP {
            self.overflowed = true;
            self.tags.clear();
        }
    }

    /// Whether the file had more distinct tags than the cap.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// Number of distinct tags (0 when overflowed).
    pub fn len(&self) -> usize {
        self.tags.len()
    }

    /// True when no key has a hash tag (or the cap was passed).
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }

    /// The `n` tags holding the most memory, most first (ties by tag).
    pub fn top(&self, n: usize) -> Vec<(&[u8], Bucket)> {
        let mut v: Vec<(&[u8], Bucket)> = self.tags.iter().map(|(t, b)| (&t[..], *b)).collect();
        v.sort_by(|a, b| {
            b.1.memory_bytes
                .cmp(&a.1.memory_bytes)
                .then(b.1.keys.cmp(&a.1.keys))
                .then(a.0.cmp(b.0))
        });
        v.truncate(n);
        v
    }
}

impl Accumulator {
    fn new(limits: Limits) -> Accumulator {
        Accumulator {
            limits,
            keys: 0,
            expires: 0,
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
    fn tally<const DENSE: bool>(
        &mut self,
        f: &KeyFacts<'_>,
        memory: u64,
        pattern: &[u8],
    ) -> Option<PatternSlot> {
        self.keys += 1;
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
    fn prefetch_slot(&self, slot: u16) {
        if let Some(b) = self.slots.get(usize::from(slot)) {
            rdb_parser::mmap::prefetch(b);
        }
    }

    /// Folds the tallies held in [`Dense`] into the maps.
    fn settle(&mut self) {
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
    fn set_db(&mut self, db: u64) {
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
        self
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

/// Where workers send the `keys.parquet` row groups they encoded (one
/// writer thread appends them). Bounded: workers wait when the writer
/// falls behind.
#[derive(Clone, Debug)]
pub struct KeysSink {
    tx: SyncSender<EncodedRowGroup>,
    compression: KeysCompression,
    /// Page buffers the writer has written out.
    page_buffers: Arc<PageBuffers>,
    /// Encoders of merged workers, to be used again: a parallel read
    /// makes a worker per segment read from a guess (dozens per
    /// gigabyte), and fresh buffers cost page faults.
    spare_encoders: Arc<Mutex<Vec<KeysEncoder>>>,
}

/// Most idle encoders kept ([`KeysSink`]): a few per thread are in use
/// at once.
const SPARE_ENCODERS: usize = 4;

impl KeysSink {
    fn send(&self, group: EncodedRowGroup) -> bool {
        self.tx.send(group).is_ok()
    }

    fn spare_encoder(&self, held: bool) -> KeysEncoder {
        let spare = self
            .spare_encoders
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop();
        match spare {
            Some(mut k) => {
                k.reuse(held);
                k
            }
            None if held => KeysEncoder::held(self.compression)
                .with_page_buffers(Arc::clone(&self.page_buffers)),
            None => {
                KeysEncoder::new(self.compression).with_page_buffers(Arc::clone(&self.page_buffers))
            }
        }
    }

    fn encoder(&self) -> KeysEncoder {
        self.spare_encoder(false)
    }

    /// An encoder for rows read from a guess ([`KeysEncoder::held`]).
    fn held_encoder(&self) -> KeysEncoder {
        self.spare_encoder(true)
    }

    /// Keeps a finished encoder (all its rows sent) for later workers.
    fn recycle(&self, k: KeysEncoder) {
        let mut spare = self
            .spare_encoders
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if spare.len() < SPARE_ENCODERS {
            spare.push(k);
        }
    }
}

/// A previous `keys.parquet`, moved aside when a new one took its place
/// ([`with_keys_writer`]), and removed when this is dropped. Removing a
/// file of a hundred megabytes takes the file system 10-30 ms (ext4 frees
/// its blocks and cached pages): a caller can drop this on another thread
/// while it writes its other outputs.
#[derive(Debug)]
pub struct Superseded(Option<PathBuf>);

impl Drop for Superseded {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// `path` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// Writes `path` (`keys.parquet`): runs `f` with a sink whose row groups a
/// writer thread appends to it, then closes the file. Returns `f`'s result,
/// the rows written and the previous file, to be removed. If the writer
/// fails, its error wins over the "writer stopped" error the workers then
/// see.
///
/// The file is written as `<path>.partial` and renamed to `path` once
/// complete: a run that fails leaves no partial file and the previous
/// `path` as it was. (Nor is the previous file overwritten in place: ext4
/// flushes a file truncated and written again when it is closed, 80 ms of
/// a 0.9 s run; nor renamed over, which flushes too. The previous file is
/// moved aside first, as [`Superseded`].)
pub fn with_keys_writer<R>(
    path: &Path,
    compression: KeysCompression,
    f: impl FnOnce(&KeysSink) -> Result<R>,
) -> Result<(R, u64, Superseded)> {
    let partial = with_suffix(path, ".partial");
    let mut writer = KeysFileWriter::create(&partial)?;
    // At most two encoded row groups wait for the writer, plus one open row
    // group per worker state not yet merged (a few per thread), each at
    // most WORKER_ROW_GROUP_BYTES: memory stays bounded whatever the file
    // size. Kept to be filled again on top of that, also bounded: written
    // buffers (PageBuffers::PER_COLUMN per column) and idle encoders
    // (SPARE_ENCODERS).
    let (tx, rx) = sync_channel::<EncodedRowGroup>(2);
    let page_buffers = Arc::new(PageBuffers::default());
    std::thread::scope(|s| {
        let written_out = Arc::clone(&page_buffers);
        let handle = s.spawn(move || -> Result<u64> {
            for group in rx {
                written_out.give_back(writer.append(group)?);
            }
            writer.close()
        });
        let sink = KeysSink {
            tx,
            compression,
            page_buffers,
            spare_encoders: Arc::default(),
        };
        let result = f(&sink);
        drop(sink);
        let written = handle
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        let outcome = match (result, written) {
            (Ok(r), Ok(rows)) => {
                // The old file goes aside first: renamed over, ext4 would
                // flush the new one then and there.
                let aside = with_suffix(path, ".superseded");
                let mut superseded = match std::fs::rename(path, &aside) {
                    Ok(()) => Superseded(Some(aside)),
                    Err(_) => {
                        let _ = std::fs::remove_file(path);
                        Superseded(None)
                    }
                };
                match std::fs::rename(&partial, path) {
                    Ok(()) => return Ok((r, rows, superseded)),
                    Err(e) => {
                        // The previous file stays.
                        if let Some(a) = superseded.0.take() {
                            let _ = std::fs::rename(a, path);
                        }
                        Error::io(path, e)
                    }
                }
            }
            (_, Err(e)) => e,
            (Err(e), Ok(_)) => e,
        };
        let _ = std::fs::remove_file(&partial);
        Err(outcome)
    })
}

/// Segments of the parallel read ([`Rdb::par_fold_speculative`]), in
/// chunks ([`Options::chunk_bytes`]): each read from a guess costs an
/// accumulator (with its keys.parquet rows held back) until checked and
/// merged, so they are larger than chunks (16 MB by default; 8 MB and
/// 32 MB were no faster on the 1 GB benchmark file).
const SEGMENT_CHUNKS: u64 = 4;

/// One worker's state in the fold.
struct Worker<'s> {
    acc: Accumulator,
    scratch: Scratch,
    key_buf: Vec<u8>,
    pattern_buf: Vec<u8>,
    keys: Option<KeysEncoder>,
    sink: Option<&'s KeysSink>,
    /// Set when a send failed in `merge` (which cannot return errors).
    send_failed: bool,
}

impl Worker<'_> {
    /// Encodes and sends the pending rows, if any; false if the writer is gone.
    fn flush(&mut self) -> Result<bool> {
        if let (Some(k), Some(sink)) = (self.keys.as_mut(), self.sink) {
            if let Some(group) = k.finish()? {
                return Ok(sink.send(group));
            }
        }
        Ok(true)
    }
}

/// Merges two workers: `b`'s pending rows are sent, its totals folded in
/// (and its encoder kept for another worker).
fn merge_workers<'s>(mut a: Worker<'s>, mut b: Worker<'s>) -> Worker<'s> {
    match b.flush() {
        Ok(true) => {
            if let (Some(k), Some(sink)) = (b.keys.take(), b.sink) {
                sink.recycle(k);
            }
        }
        _ => a.send_failed = true,
    }
    a.send_failed |= b.send_failed;
    a.acc = a.acc.merge(b.acc);
    a
}

fn writer_gone(offset: u64) -> rdb_parser::Error {
    rdb_parser::Error::new(
        ErrorKind::Io("the keys.parquet writer stopped".into()),
        offset,
    )
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Reads the aux fields at the start of the file (sequentially, up to the
/// first record that is not one).
fn read_meta(rdb: &Rdb<'_>, opts: &Options, source: &str) -> Result<FileMeta> {
    let mut aux = Vec::new();
    let mut buf = Vec::new();
    let mut buf2 = Vec::new();
    for r in rdb.records() {
        match r.map_err(|e| Error::parse(source, e))? {
            Record::Aux { name, value } => {
                let n = name.bytes(&mut buf).map_err(|e| Error::parse(source, e))?;
                let v = value
                    .bytes(&mut buf2)
                    .map_err(|e| Error::parse(source, e))?;
                aux.push((
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                ));
            }
            _ => break,
        }
    }
    let get = |k: &str| aux.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let redis_ver = get("redis-ver");
    let ctime = get("ctime").and_then(|v| v.parse().ok());
    let used_mem = get("used-mem").and_then(|v| v.parse().ok());
    let valkey_ver = get("valkey-ver");
    // An explicit --redis-version targets Redis. Otherwise a file written
    // by Valkey (valkey-ver aux, or the VALKEY magic of 9.0+) is modelled
    // as loaded into that Valkey, whose encodings follow Redis 7.2.
    let target_valkey = match opts.redis_version {
        Some(_) => None,
        None => valkey_ver
            .as_deref()
            .and_then(RedisVersion::parse)
            .or((rdb.magic() == Magic::Valkey).then_some(RedisVersion::new(9, 0))),
    };
    let target_version = match (opts.redis_version, target_valkey) {
        (Some(v), _) => v,
        (None, Some(_)) => RedisVersion::new(7, 2),
        (None, None) => redis_ver
            .as_deref()
            .and_then(RedisVersion::parse)
            .unwrap_or_else(|| RedisVersion::from_rdb_version(rdb.magic(), rdb.version())),
    };
    let now_ms = opts
        .now_ms
        .or(ctime.map(|c: i64| c.saturating_mul(1000)))
        .unwrap_or_else(now_ms);
    Ok(FileMeta {
        magic: match rdb.magic() {
            Magic::Redis => "REDIS",
            Magic::Valkey => "VALKEY",
        },
        rdb_version: rdb.version(),
        size_bytes: rdb.data().len() as u64,
        aux,
        redis_ver,
        valkey_ver,
        ctime,
        used_mem,
        target_version,
        target_valkey,
        now_ms,
    })
}

/// Analyzes one RDB file held in memory, in one parallel pass on the
/// current rayon pool. `source` names the input in every output row. When
/// `keys` is given, one `keys.parquet` row per key is sent to it.
pub fn analyze_file(
    data: &[u8],
    source: &str,
    opts: &Options,
    keys: Option<&KeysSink>,
) -> Result<FileReport> {
    let rdb = Rdb::new(data).map_err(|e| Error::parse(source, e))?;
    analyze_rdb(rdb, source, opts, keys, None)
}

/// [`analyze_file`] on an opened [`Rdb`] (which may give its pages back as
/// they are read: [`Rdb::with_page_release`]), adding the bytes done to
/// `progress` as chunks finish.
pub fn analyze_rdb(
    rdb: Rdb<'_>,
    source: &str,
    opts: &Options,
    keys: Option<&KeysSink>,
    progress: Option<&AtomicU64>,
) -> Result<FileReport> {
    let started = Instant::now();
    let no_progress = AtomicU64::new(0);
    let meta = read_meta(&rdb, opts, source)?;
    let ctx = FactsContext {
        profile: {
            let p = Profile::for_target(
                meta.target_version,
                meta.target_valkey,
                opts.allocator,
                opts.limits,
            );
            if opts.fresh_load {
                p.freshly_loaded()
            } else {
                p
            }
        },
    };
    let limits = Limits {
        top_n: opts.top_n,
        bigkey_bytes: opts.bigkey_bytes,
        bigkey_elements: opts.bigkey_elements,
        now_ms: meta.now_ms,
        prefix: PrefixConfig::new(&opts.separators, opts.prefix_cap, opts.prefix_depth),
    };
    let worker = |keys_encoder: Option<KeysEncoder>| Worker {
        acc: Accumulator::new(limits),
        scratch: Scratch::new(),
        key_buf: Vec::new(),
        pattern_buf: Vec::new(),
        keys: keys_encoder,
        sink: keys,
        send_failed: false,
    };
    let init = || worker(keys.map(KeysSink::encoder));
    let fold = |w: &mut Worker<'_>, r: &Record<'_>| -> rdb_parser::Result<()> {
        let Record::Entry(e) = r else {
            return Ok(());
        };
        let key: &[u8] = match e.key.as_raw() {
            Some(k) => k,
            None => e.key.bytes(&mut w.key_buf)?,
        };
        // The slot's counter is picked by the key's hash, one of 16384: its
        // load starts now and is done by the time the value is measured.
        let slot_and_tag = crate::slot::slot_and_tag(key);
        w.acc.prefetch_slot(slot_and_tag.0);
        // A `match`, not `map_err`: `map_err` moved the facts from one
        // `Result` into another.
        let f = match KeyFacts::with_slot(e, key, slot_and_tag, &ctx, &mut w.scratch) {
            Ok(f) => f,
            Err(x) => return Err(x.with_key(key)),
        };
        let memory = f.memory_bytes;
        let pattern = limits.prefix.template(key, &mut w.pattern_buf);
        let slot = w.acc.tally::<true>(&f, memory, pattern);
        if let Some(k) = w.keys.as_mut() {
            // An encoding error here would be a schema bug; report it as a
            // stopped writer rather than panic.
            match k.append(source, &f, memory, pattern, slot) {
                Ok(None) => {}
                Ok(Some(group)) => {
                    let sink = w.sink.expect("encoder implies sink");
                    if !sink.send(group) {
                        return Err(writer_gone(e.record_start));
                    }
                }
                Err(_) => return Err(writer_gone(e.record_start)),
            }
        }
        Ok(())
    };
    let progress = progress.unwrap_or(&no_progress);
    // Threads guess where records start and the guesses are checked
    // afterwards: what a guessed segment's worker encodes for keys.parquet
    // stays with it (its `db` column open) until it is merged.
    let init_guessed = || worker(keys.map(KeysSink::held_encoder));
    let folded = rdb.par_fold_speculative(
        opts.chunk_bytes.saturating_mul(SEGMENT_CHUNKS),
        progress,
        SpeculativeFold {
            init,
            init_guessed,
            fold,
            merge: merge_workers,
            relabel: |w: &mut Worker<'_>, db| {
                w.acc.set_db(db);
                if let Some(k) = w.keys.as_mut() {
                    k.set_db(db);
                }
            },
        },
    );
    let mut w = folded.map_err(|e| match e.kind() {
        ErrorKind::Io(_) if keys.is_some() => Error::WriterGone,
        _ => Error::parse(source, e),
    })?;
    if !w.flush()? || w.send_failed {
        return Err(Error::WriterGone);
    }
    w.acc.settle();
    Ok(FileReport {
        source: source.to_owned(),
        meta,
        acc: w.acc,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_tags_are_counted_and_merge_like_one_pass() {
        let keys: Vec<Vec<u8>> = (0..300)
            .map(|i| format!("{{user{}}}:k{i}", i % 7).into_bytes())
            .collect();
        // As from_entry finds them.
        let tag = |k: &[u8]| {
            let t = crate::slot::hash_tag(k);
            (t.len() != k.len()).then(|| t.to_vec())
        };
        let mut whole = HashTagAcc::default();
        let (mut a, mut b) = (HashTagAcc::default(), HashTagAcc::default());
        for (i, k) in keys.iter().enumerate() {
            whole.add(tag(k).as_deref(), 10);
            if i % 2 == 0 {
                a.add(tag(k).as_deref(), 10)
            } else {
                b.add(tag(k).as_deref(), 10)
            }
        }
        whole.add(tag(b"no-tag").as_deref(), 5);
        whole.add(tag(b"empty{}tag").as_deref(), 5);
        a.merge(b);
        assert_eq!(whole.len(), 7);
        assert_eq!(whole.top(10), a.top(10));
        let top = whole.top(1);
        assert_eq!((top[0].0, top[0].1.keys), (&b"user0"[..], 43));
        let mut big = HashTagAcc::default();
        for i in 0..=HASH_TAG_CAP {
            big.add(tag(format!("{{t{i}}}").as_bytes()).as_deref(), 1);
        }
        assert!(big.overflowed() && big.is_empty());
    }

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

#[cfg(test)]
mod dense_tests {
    use super::*;
    use rdb_parser::ValueType;

    #[test]
    fn dense_tables_index_in_declaration_order() {
        for (i, k) in DENSE_KINDS.iter().enumerate() {
            assert_eq!(*k as usize, i);
        }
        assert_eq!(Kind::Module as usize, DENSE_KINDS.len());
        for (i, e) in ENCODINGS.iter().enumerate() {
            assert_eq!(*e as usize, i);
        }
        assert_eq!(ObjEncoding::Module as usize + 1, ENCODINGS.len());
    }

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

#[cfg(test)]
mod sample_tests {
    use super::*;
    use crate::testutil::sample;

    fn run(chunk_bytes: u64) -> FileReport {
        let data = sample();
        let opts = Options {
            chunk_bytes,
            top_n: 3,
            ..Options::default()
        };
        analyze_file(&data, "sample", &opts, None).unwrap()
    }

    #[test]
    fn totals_types_and_buckets() {
        let r = run(DEFAULT_CHUNK_BYTES);
        let a = &r.acc;
        assert_eq!(r.meta.ctime, Some(1_700_000_000));
        assert_eq!(r.meta.target_version, RedisVersion::new(7, 0));
        assert_eq!(r.meta.used_mem, Some(1_000_000));
        assert_eq!(a.keys, 11);
        assert_eq!(a.expires, 3);
        assert_eq!(a.dbs[&0].keys, 9);
        assert_eq!(a.dbs[&3].keys, 2);
        assert_eq!(a.dbs[&3].expires, 1);
        let b = |x: ExpiryBucket| a.expiry[x as usize].keys;
        assert_eq!(b(ExpiryBucket::Expired), 1);
        assert_eq!(b(ExpiryBucket::Under1h), 1);
        assert_eq!(b(ExpiryBucket::Over30d), 1);
        assert_eq!(b(ExpiryBucket::NoTtl), 8);
        let ty = |kind, enc| {
            a.types
                .get(&(TypeKey { kind, module: None }, enc))
                .map_or(0, |t| t.keys)
        };
        assert_eq!(ty(Kind::String, ObjEncoding::Int), 1);
        assert_eq!(ty(Kind::String, ObjEncoding::Embstr), 5);
        assert_eq!(ty(Kind::String, ObjEncoding::Raw), 2);
        assert_eq!(ty(Kind::List, ObjEncoding::Quicklist), 1);
        assert_eq!(ty(Kind::Set, ObjEncoding::Intset), 1);
        assert_eq!(ty(Kind::Hash, ObjEncoding::Listpack), 1);
        // Only the 200 KB string passes a threshold.
        assert_eq!(a.over_threshold.len(), 1);
        assert_eq!(&*a.over_threshold[0].key, b"big");
        let top = a.top_by_memory();
        let strings = &top.iter().find(|(t, _)| t.kind == Kind::String).unwrap().1;
        assert_eq!(strings.len(), 3);
        assert_eq!(&*strings[0].key, b"big");
        assert_eq!(&*strings[1].key, b"long");
        let slot = crate::slot::key_slot(b"user1000") as usize;
        assert_eq!(a.slots[slot].keys, 1);
        assert_eq!(a.slots.iter().map(|s| s.keys).sum::<u64>(), 11);
    }

    #[test]
    fn chunking_does_not_change_results() {
        let one = run(DEFAULT_CHUNK_BYTES);
        // One record per chunk: every key goes through a merge.
        let many = run(1);
        assert_eq!(one.acc.keys, many.acc.keys);
        assert_eq!(one.acc.memory_bytes, many.acc.memory_bytes);
        assert_eq!(one.acc.types, many.acc.types);
        assert_eq!(one.acc.dbs, many.acc.dbs);
        assert_eq!(one.acc.expiry, many.acc.expiry);
        assert_eq!(one.acc.slots, many.acc.slots);
        assert_eq!(
            one.acc.over_threshold_sorted(),
            many.acc.over_threshold_sorted()
        );
        assert_eq!(one.acc.top_by_memory(), many.acc.top_by_memory());
        assert_eq!(one.acc.top_by_elements(), many.acc.top_by_elements());
        assert_eq!(one.acc.hot_keys(), many.acc.hot_keys());
        assert_eq!(one.acc.prefixes.tree().rows, many.acc.prefixes.tree().rows);
        assert_eq!(one.acc.cliffs.top(20), many.acc.cliffs.top(20));
        assert_eq!(
            one.acc
                .prefixes
                .tree()
                .rows
                .iter()
                .filter(|r| r.depth == 1)
                .map(|r| r.stat.keys)
                .sum::<u64>(),
            11
        );
    }
}

#[cfg(test)]
mod speculative_tests {
    use super::*;
    use crate::testutil::{RdbBuilder, TempDir};

    /// Four databases (one past the dense range) holding the same keys
    /// with values of the same sizes, so that the top lists tie on memory
    /// and rank by database; some values read like string records.
    fn tied_dbs() -> Vec<u8> {
        let mut b = RdbBuilder::new().aux("redis-ver", "7.0.15");
        for db in [0, 1, 5, 70] {
            b = b.db(db);
            for i in 0..400 {
                let key = format!("user:{i}:name");
                let value = if i % 3 == 0 {
                    // A run of string records (type byte, key, value).
                    let mut v = Vec::new();
                    for j in 0..(i % 20) {
                        v.extend_from_slice(&[0, 5]);
                        v.extend_from_slice(format!("fk:{:02}", j).as_bytes());
                        v.extend_from_slice(&[3, b'a', b'b', b'c']);
                    }
                    v
                } else {
                    vec![b'v'; i % 50]
                };
                b = b.string(key.as_bytes(), &value);
                if i % 10 == 0 {
                    b = b.hash(format!("h:{i}").as_bytes(), &[(b"f", b"v"), (b"g", b"w")]);
                }
            }
        }
        b.finish()
    }

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a pool")
    }

    /// (key, db, memory) of every row of keys.parquet, sorted.
    fn keys_rows(data: &[u8], threads: usize, chunk_bytes: u64) -> Vec<(Vec<u8>, i32, u64)> {
        use arrow_array::cast::AsArray;
        use arrow_array::types::{Int32Type, UInt64Type};
        use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        let pool = pool(threads);
        let opts = Options {
            chunk_bytes,
            ..Options::default()
        };
        let dir = TempDir::new("speculative-keys");
        let path = dir.0.join("keys.parquet");
        pool.install(|| {
            with_keys_writer(&path, KeysCompression::Snappy, |sink| {
                analyze_file(data, "tied", &opts, Some(sink))
            })
        })
        .expect("analysis");
        let file = std::fs::File::open(&path).expect("keys.parquet");
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("a parquet file")
            .build()
            .expect("a reader");
        let mut rows = Vec::new();
        for batch in reader {
            let batch = batch.expect("a batch");
            let key = batch.column_by_name("key").expect("key").as_binary::<i32>();
            let db = batch
                .column_by_name("db")
                .expect("db")
                .as_primitive::<Int32Type>();
            let memory = batch
                .column_by_name("memory_bytes")
                .expect("memory_bytes")
                .as_primitive::<UInt64Type>();
            for i in 0..batch.num_rows() {
                rows.push((key.value(i).to_vec(), db.value(i), memory.value(i)));
            }
        }
        rows.sort();
        rows
    }

    #[test]
    fn keys_parquet_rows_equal_a_sequential_read_whatever_the_split() {
        let data = tied_dbs();
        let one = keys_rows(&data, 1, DEFAULT_CHUNK_BYTES);
        assert_eq!(one.len(), 4 * 440);
        for db in [0, 1, 5, 70] {
            assert_eq!(one.iter().filter(|r| r.1 == db).count(), 440, "db {db}");
        }
        for (threads, chunk) in [(2, 1), (2, 64), (3, 256), (2, 4096)] {
            let many = keys_rows(&data, threads, chunk);
            assert!(one == many, "{threads} threads, chunks of {chunk}");
        }
    }

    fn run(data: &[u8], threads: usize, chunk_bytes: u64, keys: bool) -> FileReport {
        let pool = pool(threads);
        let opts = Options {
            chunk_bytes,
            top_n: 3,
            ..Options::default()
        };
        pool.install(|| {
            if keys {
                let dir = TempDir::new("speculative");
                let path = dir.0.join("keys.parquet");
                with_keys_writer(&path, KeysCompression::Snappy, |sink| {
                    analyze_file(data, "tied", &opts, Some(sink))
                })
                .expect("analysis")
                .0
            } else {
                analyze_file(data, "tied", &opts, None).expect("analysis")
            }
        })
    }

    #[test]
    fn runs_without_keys_parquet_equal_a_sequential_read_whatever_the_split() {
        let data = tied_dbs();
        let one = run(&data, 1, DEFAULT_CHUNK_BYTES, false);
        let a = &one.acc;
        assert_eq!(a.keys, 4 * 440);
        assert_eq!(
            a.dbs
                .iter()
                .map(|(db, d)| (*db, d.keys))
                .collect::<Vec<_>>(),
            [(0, 440), (1, 440), (5, 440), (70, 440)]
        );
        // Ties on memory rank by database: the top strings are db 0's.
        let top = a.top_by_memory();
        let strings = &top.iter().find(|(t, _)| t.kind == Kind::String).unwrap().1;
        assert!(strings.iter().all(|k| k.db == 0), "{strings:?}");
        for (threads, chunk, keys) in [
            (2, 1, false),
            (2, 64, false),
            (3, 256, false),
            (2, 4096, false),
            (3, 1 << 30, false),
            (2, 256, true),
        ] {
            let many = run(&data, threads, chunk, keys);
            let b = &many.acc;
            let what = format!("{threads} threads, chunks of {chunk}, keys.parquet {keys}");
            assert_eq!(a.keys, b.keys, "{what}");
            assert_eq!(a.memory_bytes, b.memory_bytes, "{what}");
            assert_eq!(a.types, b.types, "{what}");
            assert_eq!(a.dbs, b.dbs, "{what}");
            assert_eq!(a.expiry, b.expiry, "{what}");
            assert_eq!(a.slots, b.slots, "{what}");
            assert_eq!(a.top_by_memory(), b.top_by_memory(), "{what}");
            assert_eq!(a.top_by_elements(), b.top_by_elements(), "{what}");
            assert_eq!(
                a.over_threshold_sorted(),
                b.over_threshold_sorted(),
                "{what}"
            );
            assert_eq!(a.prefixes.tree().rows, b.prefixes.tree().rows, "{what}");
        }
    }
}
