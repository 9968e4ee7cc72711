//! The memory model: what `MEMORY USAGE key SAMPLES 0` answers for a key once
//! the server that wrote the file has loaded it.
//!
//! The server re-applies its encoding rules when it loads a snapshot (old
//! ziplists become listpacks, small hash tables become listpacks, ...), so
//! the model first decides the encoding *after load*, then adds up the
//! allocations Redis counts for it, each rounded to the allocator's size
//! class where Redis measures the allocation rather than the bytes.
//! Skip-list node levels are random on the server: their expected size is
//! used, which is the only irreducible error for Redis.

use rdb_parser::{
    parse_canonical_i64, Element, Entry, Kind, QuicklistNode, RdbString, Scalar, Scratch, StreamId,
    StreamVisitor, Value, ValueType,
};

use crate::facts::{EncodingLimits, ObjEncoding, RedisVersion};

/// How the server's allocator rounds a request up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allocator {
    /// jemalloc as Redis and Valkey vendor it (8-byte quantum: 8, 16, 24, 32, 40, 48, 56, 64, 80, ...).
    Jemalloc,
    /// A distribution's shared jemalloc (16-byte quantum: 8, 16, 32, 48, 64, 80, ...), e.g. Debian's redis-server.
    Jemalloc16,
    /// glibc malloc (`MALLOC=libc` builds): usable size max(24, roundup16(n + 8) - 8).
    Libc,
}

impl Allocator {
    /// Usable size of an allocation of `n` bytes.
    #[inline]
    pub fn usable(self, n: u64) -> u64 {
        match self {
            Allocator::Libc => {
                let r = (n + 8).div_ceil(16) * 16 - 8;
                r.max(24)
            }
            Allocator::Jemalloc | Allocator::Jemalloc16 => {
                if n <= 8 {
                    return 8;
                }
                // The quantum-spaced range, then four classes per doubling.
                // Every step is a power of two: rounding up is a mask (a
                // division by a step known only at run time costs tens of
                // cycles, and this runs per element).
                let (quantum, top) = if self == Allocator::Jemalloc {
                    (8, 64)
                } else {
                    (16, 128)
                };
                let step = if n <= top {
                    quantum
                } else {
                    let g = 63 - (n - 1).leading_zeros(); // 2^g < n <= 2^(g+1)
                    1u64 << (g - 2)
                };
                n.saturating_add(step - 1) & !(step - 1)
            }
        }
    }

    /// Parses `jemalloc`, `jemalloc16` or `libc`.
    pub fn from_name(s: &str) -> Option<Allocator> {
        match s {
            "jemalloc" => Some(Allocator::Jemalloc),
            "jemalloc16" => Some(Allocator::Jemalloc16),
            "libc" => Some(Allocator::Libc),
            _ => None,
        }
    }
}

/// Families of servers whose `MEMORY USAGE` arithmetic is the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Era {
    /// Redis 6.x: ziplists, raw byte counts for embstr, ziplist and intset.
    Redis6,
    /// Redis 7.0: listpacks everywhere; allocations rounded.
    Redis70,
    /// Redis 7.2: listpack sets, single-node lists as listpacks.
    Redis72,
    /// Redis 7.4 to 8.0: hash field expiry.
    Redis74,
    /// Valkey 8.0 (key embedded in the dict entry).
    Valkey80,
    /// Valkey 8.1 and 9.x (key embedded in the object, own hash table).
    Valkey9,
}

/// Everything the model needs to know about the server.
#[derive(Clone, Copy, Debug)]
pub struct Profile {
    /// Arithmetic family (private: `sds_small` is made from it).
    era: Era,
    /// Allocator rounding (private, likewise).
    allocator: Allocator,
    /// Cluster mode (adds per-key metadata in Redis 7.0 and 7.2).
    pub cluster: bool,
    /// Encoding thresholds.
    pub limits: EncodingLimits,
    /// Model a server that has just loaded this file (exact-size stream
    /// nodes, presized tables) rather than one that built its data with
    /// commands (the default: a stream's tail node preallocated to 4 KB,
    /// sets grown member by member on Redis <= 7.0).
    pub fresh_load: bool,
    /// Expected usable size of one skip-list node (depends on the allocator).
    skiplist_node: f64,
    /// Usable size of the 32-level skip-list header node.
    skiplist_header: u64,
    /// [`Profile::sds`] of lengths below 256 (every short element and
    /// key): one load instead of the header and size-class arithmetic.
    sds_small: [u16; 256],
}

impl Profile {
    /// A profile for `era` and `allocator` with the given thresholds.
    pub fn new(era: Era, allocator: Allocator, cluster: bool, limits: EncodingLimits) -> Profile {
        // Levels: P(L = l) = 0.75 * 0.25^(l-1), capped at 32.
        let mut expected = 0.0;
        let mut p = 0.75;
        for level in 1..=32u64 {
            let prob = if level == 32 { p / 0.75 } else { p };
            expected += prob * allocator.usable(24 + 16 * level) as f64;
            p *= 0.25;
        }
        let mut p = Profile {
            era,
            allocator,
            cluster,
            limits,
            fresh_load: false,
            skiplist_node: expected,
            skiplist_header: allocator.usable(24 + 16 * 32),
            sds_small: [0; 256],
        };
        let mut table = [0u16; 256];
        for (len, v) in (0u64..).zip(table.iter_mut()) {
            *v = u16::try_from(p.sds_computed(len)).expect("a short sds is under 64 KB");
        }
        p.sds_small = table;
        p
    }

    /// The arithmetic family.
    pub fn era(&self) -> Era {
        self.era
    }

    /// The allocator.
    pub fn allocator(&self) -> Allocator {
        self.allocator
    }

    /// The profile of the server that loads the file: a Redis version, or
    /// a Valkey version when `valkey` is given.
    pub fn for_target(
        redis: RedisVersion,
        valkey: Option<RedisVersion>,
        allocator: Allocator,
        limits: EncodingLimits,
    ) -> Profile {
        let era = match valkey {
            Some(v) if v >= RedisVersion::new(8, 1) => Era::Valkey9,
            Some(v) if v >= RedisVersion::new(8, 0) => Era::Valkey80,
            Some(_) => Era::Redis72,
            None if redis < RedisVersion::new(7, 0) => Era::Redis6,
            None if redis < RedisVersion::new(7, 2) => Era::Redis70,
            None if redis < RedisVersion::new(7, 4) => Era::Redis72,
            None => Era::Redis74,
        };
        Profile::new(era, allocator, false, limits)
    }

    /// The same server, just restarted from this file (see `fresh_load`).
    pub fn freshly_loaded(self) -> Profile {
        Profile {
            fresh_load: true,
            ..self
        }
    }

    #[inline]
    fn j(&self, n: u64) -> u64 {
        self.allocator.usable(n)
    }

    /// sds header size for a string of `len` bytes.
    #[inline]
    fn sds_hdr(&self, len: u64) -> u64 {
        let regime_b = self.era >= Era::Valkey80;
        if len < 32 {
            1
        } else if len < 256 && !(regime_b && len > 252) {
            3
        } else if len < 65536 && !(regime_b && len > 65530) {
            5
        } else if len < (1 << 32) {
            9
        } else {
            17
        }
    }

    /// Usable size of a standalone sds of `len` bytes (never type 5 when empty).
    #[inline]
    fn sds(&self, len: u64) -> u64 {
        match self.sds_small.get(len as usize) {
            Some(&v) => u64::from(v),
            None => self.sds_computed(len),
        }
    }

    fn sds_computed(&self, len: u64) -> u64 {
        let hdr = if len == 0 { 3 } else { self.sds_hdr(len) };
        self.j(hdr + len + 1)
    }

    fn dict_struct(&self) -> u64 {
        if self.era == Era::Redis6 {
            96
        } else {
            56
        }
    }

    /// Bytes charged for the key itself (its sds and the dict entry).
    /// (Valkey 8.1+ embeds the key in the object: see `valkey9_adjust`.)
    fn key_cost(&self, klen: u64) -> u64 {
        match self.era {
            Era::Redis6 | Era::Redis74 => self.sds(klen) + 24,
            Era::Redis70 => self.sds(klen) + 24 + if self.cluster { 16 } else { 0 },
            Era::Redis72 => self.sds(klen) + 24 + if self.cluster { 8 } else { 0 },
            Era::Valkey80 => self.j(17 + self.sds_hdr(klen) + klen + 1),
            Era::Valkey9 => 0,
        }
    }
}

/// What the model found for one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Measure {
    /// Encoding after load, as `OBJECT ENCODING` says it.
    pub encoding: ObjEncoding,
    /// Estimated `MEMORY USAGE`.
    pub memory_bytes: u64,
    /// String length for strings, else the element count.
    pub elements: u64,
    /// Longest element (member, field or value) in bytes.
    pub max_element_bytes: u64,
}

/// Adds to `total` the expected allocation of a Valkey 9 skip-list node
/// for a member of `len` bytes, over the node's random level (1 to 32,
/// each a quarter as likely as the one before). Out of line: the
/// per-element walk stays small where it is inlined.
#[inline(never)]
fn add_valkey_skiplist_node(p: &Profile, len: u64, total: &mut f64) {
    let tail = p.sds_hdr(len) + len + 1;
    let mut prob = 0.75;
    for level in 1..=32u64 {
        let pl = if level == 32 { prob / 0.75 } else { prob };
        *total += pl * p.j(VK_NODE_BASE + 16 * level + tail) as f64;
        prob *= 0.25;
    }
}

/// Listpack entry size (encoding, data and back length) for one element.
#[inline]
fn lp_entry(s: Scalar<'_>) -> u64 {
    lp_entry_of(as_canonical_int(s), s.len())
}

/// The element as the integer Redis would store it, if it is one.
#[inline]
fn as_canonical_int(s: Scalar<'_>) -> Option<i64> {
    match s {
        Scalar::Int(i) => Some(i),
        Scalar::Bytes(b) => parse_canonical_i64(b),
    }
}

/// Listpack entry size of an element already parsed by [`as_canonical_int`].
#[inline]
fn lp_entry_of(as_int: Option<i64>, len: u64) -> u64 {
    if let Some(v) = as_int {
        let enc = if (0..=127).contains(&v) {
            1
        } else if (-4096..=4095).contains(&v) {
            2
        } else if i16::try_from(v).is_ok() {
            3
        } else if (-(1 << 23)..(1 << 23)).contains(&v) {
            4
        } else if i32::try_from(v).is_ok() {
            5
        } else {
            9
        };
        return enc + 1;
    }
    let enc = if len <= 63 {
        1 + len
    } else if len <= 4095 {
        2 + len
    } else {
        5 + len
    };
    enc + backlen_bytes(enc)
}

#[inline]
fn backlen_bytes(l: u64) -> u64 {
    if l <= 127 {
        1
    } else if l < 16383 {
        2
    } else if l < 2097151 {
        3
    } else if l < 268435455 {
        4
    } else {
        5
    }
}

/// Ziplist entry size for one element (previous-length field, encoding, data).
#[inline]
fn zl_entry(s: Scalar<'_>, prev: u64) -> u64 {
    let prevlen = if prev < 254 { 1 } else { 5 };
    let as_int = match s {
        Scalar::Int(i) => Some(i),
        Scalar::Bytes(b) if b.len() <= 32 => parse_canonical_i64(b),
        Scalar::Bytes(_) => None,
    };
    if let Some(v) = as_int {
        let size = if (0..=12).contains(&v) {
            1
        } else if i8::try_from(v).is_ok() {
            2
        } else if i16::try_from(v).is_ok() {
            3
        } else if (-(1 << 23)..(1 << 23)).contains(&v) {
            4
        } else if i32::try_from(v).is_ok() {
            5
        } else {
            9
        };
        return prevlen + size;
    }
    let len = s.len();
    let hdr = if len <= 63 {
        1
    } else if len <= 16383 {
        2
    } else {
        5
    };
    prevlen + hdr + len
}

/// Running totals over the elements of a collection.
#[derive(Default)]
struct Walk {
    count: u64,
    max_len: u64,
    /// Listpack bytes if the elements were appended to one listpack.
    lp_bytes: u64,
    /// Ziplist bytes likewise (Redis 6).
    zl_bytes: u64,
    zl_prev: u64,
    all_int: bool,
    int_width: u64,
    /// Sum of standalone sds sizes of the members / fields.
    sds_a: u64,
    /// Sum of standalone sds sizes of values (hashes).
    sds_b: u64,
    /// Hash fields carrying a TTL, and the sum of their mstr sizes.
    mstr: u64,
    any_ttl: bool,
    /// Hash fields with their own expire time.
    ttl_fields: u64,
    /// Valkey 8.1+ hash entries (field and value embedded when small).
    vk_entries: u64,
    /// Valkey 9.1 skip-list nodes with the member embedded (expected size).
    vk_nodes: f64,
    /// Whether to add up Valkey 9.1 skip-list nodes (sorted-set members only).
    want_nodes: bool,
    /// Index of the first hash entry whose field or value is longer than
    /// the listpack limit (where a load converts to a hash table).
    first_long: Option<u64>,
    /// Past this many elements the value cannot be compact after load, so
    /// the listpack and ziplist sizes stop being added up.
    compact_limit: u64,
    /// Whether to track if every member is an integer (sets only).
    track_ints: bool,
}

impl Walk {
    fn new() -> Walk {
        Walk {
            lp_bytes: 7,
            zl_bytes: 11,
            all_int: true,
            int_width: 2,
            compact_limit: u64::MAX,
            ..Walk::default()
        }
    }

    /// A walk whose compact sizes stop after `compact_limit` elements.
    fn limited(compact_limit: u64) -> Walk {
        Walk {
            compact_limit,
            ..Walk::new()
        }
    }

    /// Adds one member, field or value (the caller has counted it).
    #[inline(always)]
    fn scalar(&mut self, p: &Profile, s: Scalar<'_>, value_side: bool) {
        let len = s.len();
        self.max_len = self.max_len.max(len);
        self.shape(p, s, len, value_side);
    }

    /// The per-element arithmetic that does not depend on the longest
    /// element: compact sizes, integer shape and allocation sums.
    #[inline(always)]
    fn shape(&mut self, p: &Profile, s: Scalar<'_>, len: u64, value_side: bool) {
        let compact = self.count <= self.compact_limit;
        let track_int = self.track_ints && !value_side && self.all_int;
        if compact || track_int {
            let int = as_canonical_int(s);
            if compact {
                self.add_compact(p, s, int, len);
            }
            if track_int {
                match int {
                    Some(v) => {
                        let w = if i16::try_from(v).is_ok() {
                            2
                        } else if i32::try_from(v).is_ok() {
                            4
                        } else {
                            8
                        };
                        self.int_width = self.int_width.max(w);
                    }
                    _ => self.all_int = false,
                }
            }
        }
        if value_side {
            self.sds_b += p.sds(len);
        } else {
            self.sds_a += p.sds(len);
            if self.want_nodes && p.era >= Era::Valkey9 {
                add_valkey_skiplist_node(p, len, &mut self.vk_nodes);
            }
        }
    }

    /// Adds a score's listpack (or ziplist) entry; a score is not an
    /// element, so it counts toward neither the longest element nor the
    /// allocation sums.
    fn score(&mut self, p: &Profile, score: f64) {
        if self.count > self.compact_limit {
            return; // a skip list: the listpack size no longer matters
        }
        // Integral scores that fit are stored as integers (7.2+ takes any
        // that fits a long long); others as text.
        let int_below = if p.era <= Era::Redis70 {
            9.007_199_254_740_992e15
        } else {
            9.223_372_036_854_775e18
        };
        if score.fract() == 0.0 && score.abs() < int_below {
            self.compact_entry(p, Scalar::Int(score as i64));
        } else if score.is_infinite() {
            let text: &[u8] = if score > 0.0 { b"inf" } else { b"-inf" };
            self.compact_entry(p, Scalar::Bytes(text));
        } else {
            let mut buf = [0u8; 32];
            let len = if p.era <= Era::Redis70 {
                // Redis <= 7.0 writes scores with "%.17g".
                format_g17(score, &mut buf)
            } else {
                // 7.2+ (and Valkey) write the shortest text (fpconv).
                format_shortest(score, &mut buf)
            };
            self.compact_entry(p, Scalar::Bytes(&buf[..len]));
        }
    }

    /// Adds an entry to the compact sizes only.
    fn compact_entry(&mut self, p: &Profile, s: Scalar<'_>) {
        self.add_compact(p, s, as_canonical_int(s), s.len());
    }

    /// Adds `s` (whose integer reading is `int`) to the listpack and, for
    /// Redis 6, ziplist sizes.
    fn add_compact(&mut self, p: &Profile, s: Scalar<'_>, int: Option<i64>, len: u64) {
        self.lp_bytes += lp_entry_of(int, len);
        if p.era == Era::Redis6 {
            let z = zl_entry(s, self.zl_prev);
            self.zl_bytes += z;
            self.zl_prev = z;
        }
    }

    fn mstr_field(&mut self, p: &Profile, len: u64, ttl: bool) {
        self.any_ttl |= ttl;
        self.ttl_fields += u64::from(ttl);
        if !(p.era >= Era::Redis74 && p.era < Era::Valkey80) {
            return; // only Redis 7.4+ tables of fields with TTLs use mstrs
        }
        let hdr = if len < 32 {
            1
        } else if len < 65536 {
            3
        } else {
            9
        };
        self.mstr += p.j(if ttl { 18 } else { 0 } + hdr + len + 1);
    }
}

/// The decimal digits of a number formatted in exponent form by `args`
/// (`{:e}` or `{:.16e}` of a non-negative finite value), and the power of
/// ten of the first digit.
struct SciDigits {
    digits: [u8; 24],
    n: usize,
    exp: i32,
}

impl SciDigits {
    fn of(args: std::fmt::Arguments<'_>) -> SciDigits {
        let mut text = [0u8; 40];
        let mut w = &mut text[..];
        let len = match std::io::Write::write_fmt(&mut w, args) {
            Ok(()) => 40 - w.len(),
            Err(_) => 0,
        };
        let text = &text[..len];
        let e_at = text.iter().position(|&b| b == b'e').unwrap_or(len);
        let exp = std::str::from_utf8(text.get(e_at + 1..).unwrap_or_default())
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let mut d = SciDigits {
            digits: [b'0'; 24],
            n: 0,
            exp,
        };
        for &b in text[..e_at].iter().filter(|b| b.is_ascii_digit()) {
            if d.n < d.digits.len() {
                d.digits[d.n] = b;
                d.n += 1;
            }
        }
        d.n = d.n.max(1);
        d
    }

    fn digits(&self) -> &[u8] {
        &self.digits[..self.n]
    }
}

/// Score text being written into a fixed buffer.
struct ScoreText<'b> {
    out: &'b mut [u8; 32],
    len: usize,
}

impl ScoreText<'_> {
    fn push(&mut self, b: u8) {
        if let Some(slot) = self.out.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    fn extend(&mut self, bytes: &[u8]) {
        bytes.iter().for_each(|&b| self.push(b));
    }

    /// `d[.ddd]e<sign><exponent>`, with at least `min_exp_digits` digits.
    fn exponent_form(&mut self, digits: &[u8], exp: i32, min_exp_digits: u32) {
        self.push(digits[0]);
        if digits.len() > 1 {
            self.push(b'.');
            self.extend(&digits[1..]);
        }
        self.push(b'e');
        self.push(if exp < 0 { b'-' } else { b'+' });
        let e = exp.unsigned_abs();
        let width = e.checked_ilog10().unwrap_or(0) + 1;
        for i in (0..width.max(min_exp_digits)).rev() {
            self.push(b'0' + (e / 10u32.pow(i) % 10) as u8);
        }
    }
}

/// Formats a finite `x` as C's `printf("%.17g", x)` does (how Redis <= 7.0
/// turns a non-integral score into listpack text) into `out`; returns the
/// length. 17 significant digits, trailing zeros dropped; exponent form
/// (at least two exponent digits) below 1e-4 and from 1e17.
fn format_g17(x: f64, out: &mut [u8; 32]) -> usize {
    let mut sci = SciDigits::of(format_args!("{:.16e}", x.abs()));
    while sci.n > 1 && sci.digits[sci.n - 1] == b'0' {
        sci.n -= 1;
    }
    let (digits, exp) = (sci.digits(), sci.exp);
    let mut t = ScoreText { out, len: 0 };
    if x < 0.0 {
        t.push(b'-');
    }
    if !(-4..17).contains(&exp) {
        t.exponent_form(digits, exp, 2);
    } else if exp >= 0 {
        let whole = exp as usize + 1;
        (0..whole).for_each(|i| t.push(digits.get(i).copied().unwrap_or(b'0')));
        if digits.len() > whole {
            t.push(b'.');
            t.extend(&digits[whole..]);
        }
    } else {
        t.extend(b"0.");
        (0..(-exp - 1)).for_each(|_| t.push(b'0'));
        t.extend(digits);
    }
    t.len
}

/// Formats a finite `x` as Redis 7.2+ turns a non-integral score into
/// listpack text (`fpconv_dtoa`): the shortest digits that read back as
/// `x`, plain while the exponent is small, else `d.ddde+X`; into `out`,
/// returning the length.
fn format_shortest(x: f64, out: &mut [u8; 32]) -> usize {
    let sci = SciDigits::of(format_args!("{:e}", x.abs()));
    let (digits, exp10) = (sci.digits(), sci.exp);
    let n = digits.len() as i32;
    // x = digits * 10^k
    let k = exp10 - (n - 1);
    let exp = exp10.abs();
    let mut t = ScoreText { out, len: 0 };
    if x < 0.0 {
        t.push(b'-');
    }
    if k >= 0 && exp < n + 7 {
        t.extend(digits);
        (0..k).for_each(|_| t.push(b'0'));
    } else if k < 0 && (k > -7 || exp < 4) {
        let offset = n + k;
        if offset <= 0 {
            t.extend(b"0.");
            (0..-offset).for_each(|_| t.push(b'0'));
            t.extend(digits);
        } else {
            let offset = offset as usize;
            t.extend(&digits[..offset]);
            t.push(b'.');
            t.extend(&digits[offset..]);
        }
    } else {
        t.exponent_form(digits, exp10, 1);
    }
    t.len
}

/// Fixed part of a Valkey 9.1 skip-list node before its levels: score,
/// backward pointer and the header-size byte of the embedded member
/// (fitted to measurements: 17 bytes).
const VK_NODE_BASE: u64 = 17;

/// Bytes XADD preallocates for a new stream node.
const STREAM_NODE_PREALLOC: u64 = 4096;

/// Valkey 9's per-key index of hash fields that have a TTL, fitted to
/// Valkey 9.1 measurements (base and bytes per indexed field).
const VK_VSET_BASE: u64 = 0;
const VK_VSET_PER_FIELD: u64 = 27;

/// Valkey 8.1+ keeps a string inside the object (with the key) while the
/// whole object stays small; measured on Valkey 9.1 (objects up to 128 bytes).
fn valkey_embeds(p: &Profile, key_len: u64, len: u64, ttl: bool) -> bool {
    let size = 8 + u64::from(ttl) * 8 + 1 + p.sds_hdr(key_len) + key_len + 1 + 3 + len + 1;
    size <= 128 + 5
}

/// Valkey 8.1+ `hashtable` (64-byte buckets of 7 slots; a full bucket chains
/// a child bucket) presized for `n` entries on load. Child buckets depend on
/// the hash seed: their expected number is used.
fn valkey_hashtable(n: u64) -> u64 {
    if n == 0 {
        return 72;
    }
    let buckets = next_pow2((5 * n).div_ceil(32)).max(1);
    let lambda = n as f64 / buckets as f64;
    // E[children per bucket] for a Poisson(lambda) load.
    let mut expected = 0.0;
    let mut pm = (-lambda).exp();
    for m in 1..200u64 {
        pm *= lambda / m as f64;
        if m > 7 {
            expected += pm * (m - 7).div_ceil(6) as f64;
        }
    }
    72 + (64.0 * buckets as f64 * (1.0 + expected)).round() as u64
}

/// A hash table presized for `start` entries (`size_for`), then grown by
/// adds to `n` entries with incremental rehashing, one bucket moved per add:
/// it expands to `size_for(used + 1)` when `full(used, size)`, and the old
/// table stays until `steps(old)` adds have moved its buckets. Returns the
/// final table's buckets and the old table's (0 when rehashing finished).
fn grow_table(
    start: u64,
    n: u64,
    size_for: impl Fn(u64) -> u64,
    full: impl Fn(u64, u64) -> bool,
    steps: impl Fn(u64) -> u64,
) -> (u64, u64) {
    let mut size = size_for(start);
    let (mut old, mut steps_left) = (0u64, 0u64);
    for used in start..n {
        if steps_left > 0 {
            steps_left -= 1;
            if steps_left == 0 {
                old = 0;
            }
        } else if full(used, size) {
            old = size;
            size = size_for(used + 1);
            steps_left = steps(old);
        }
    }
    (size, old)
}

/// Buckets of a Redis dict grown from `start` to `n` entries (it expands at
/// load factor 1; about 63 % of the old buckets hold entries then). While it
/// is still rehashing, both tables count.
fn dict_buckets_after_conversion(start: u64, n: u64) -> u64 {
    let (size, old) = grow_table(
        start,
        n,
        dict_buckets,
        |used, size| used >= size,
        |old| (old * 632).div_ceil(1000),
    );
    size + old
}

/// Valkey's hash table grown from `start` to `n` entries (it expands when
/// full at 7 entries a bucket, and every old bucket holds entries).
fn valkey_hashtable_after_conversion(start: u64, n: u64) -> u64 {
    let presized = |m: u64| next_pow2((5 * m).div_ceil(32)).max(1);
    let (size, old) = grow_table(
        start,
        n,
        presized,
        |used, size| used + 1 > 7 * size,
        |old| old,
    );
    // Same child-bucket expectation as a presized table, plus the extra
    // top-level and old buckets.
    valkey_hashtable(n) + 64 * (size.saturating_sub(presized(n)) + old)
}

fn next_pow2(n: u64) -> u64 {
    n.max(1).next_power_of_two()
}

fn dict_buckets(n: u64) -> u64 {
    next_pow2(n).max(4)
}

/// Estimates one key. `key_len` is the key's length in bytes.
pub fn measure(
    p: &Profile,
    e: &Entry<'_>,
    key_len: u64,
    scratch: &mut Scratch,
) -> rdb_parser::Result<Measure> {
    let mut m = measure_value(p, e, key_len, scratch)?;
    m.memory_bytes += p.key_cost(key_len);
    if p.era == Era::Valkey9 && e.kind() != Kind::String {
        m.memory_bytes = valkey9_adjust(p, &m, e, key_len);
    }
    Ok(m)
}

/// Bytes of the key (and expire time) embedded in a Valkey 8.1+ object.
fn valkey_key_part(p: &Profile, key_len: u64, ttl: bool) -> u64 {
    1 + p.sds_hdr(key_len) + key_len + 1 + if ttl { 8 } else { 0 }
}

/// Valkey 8.1+ strings: one allocation holds the object, the key and (for
/// embstr) the value.
fn valkey9_string(p: &Profile, s: RdbString<'_>, is_int: bool, key_len: u64, ttl: bool) -> Measure {
    let len = s.len();
    let key_part = valkey_key_part(p, key_len, ttl);
    let (encoding, bytes) = match s {
        _ if is_int => (ObjEncoding::Int, p.j(16 + key_part)),
        _ if valkey_embeds(p, key_len, len, ttl) => {
            (ObjEncoding::Embstr, p.j(8 + key_part + 3 + len + 1))
        }
        _ => (ObjEncoding::Raw, p.j(16 + key_part) + p.sds(len)),
    };
    Measure {
        encoding,
        memory_bytes: bytes,
        elements: len,
        max_element_bytes: len,
    }
}

fn valkey9_adjust(p: &Profile, m: &Measure, e: &Entry<'_>, key_len: u64) -> u64 {
    // Valkey 8.1+: the key (and its expire time) live inside the value
    // object, which replaces the 16-byte robj counted by the value's cost.
    let key_part = valkey_key_part(p, key_len, e.expire_at_ms.is_some());
    p.j(16 + key_part) + m.memory_bytes.saturating_sub(16)
}

fn measure_value(
    p: &Profile,
    e: &Entry<'_>,
    key_len: u64,
    scratch: &mut Scratch,
) -> rdb_parser::Result<Measure> {
    let vt = e.value_type();
    let v = &e.value;
    let l = &p.limits;
    let era = p.era;
    let robj = 16;
    if let Some(m) = kept_blob(p, e, scratch) {
        return Ok(m);
    }
    match e.kind() {
        Kind::String => {
            let s = v.as_string()?;
            let len = s.len();
            let is_int = match s {
                RdbString::Int(_) => true,
                RdbString::Raw(b) => b.len() <= 20 && parse_canonical_i64(b).is_some(),
                RdbString::Lzf { .. } => false,
            };
            if era == Era::Valkey9 {
                return Ok(valkey9_string(
                    p,
                    s,
                    is_int,
                    key_len,
                    e.expire_at_ms.is_some(),
                ));
            }
            let (encoding, bytes) = if is_int {
                (ObjEncoding::Int, robj)
            } else if len <= 44 {
                (
                    ObjEncoding::Embstr,
                    if era == Era::Redis6 {
                        len + 18
                    } else {
                        p.j(len + 20)
                    },
                )
            } else {
                (ObjEncoding::Raw, robj + p.sds(len))
            };
            Ok(Measure {
                encoding,
                memory_bytes: bytes,
                elements: len,
                max_element_bytes: len,
            })
        }
        Kind::List => measure_list(p, e, scratch),
        Kind::Set => {
            let lazy = compact_sizes_later(vt);
            let limit = l.set_max_listpack_entries;
            let w = walk_members(p, v, scratch, if lazy { 0 } else { limit })?;
            let blob = blob_len(e)?;
            let n = w.count;
            let ht = |w: &Walk| {
                if era >= Era::Valkey9 {
                    return robj + valkey_hashtable(n) + w.sds_a;
                }
                // Built by SADD on Redis <= 7.0, a table grows one member at
                // a time (from the intset when every member is an integer)
                // and may still be rehashing; 7.2+ presizes it for a bulk add.
                let buckets = if !p.fresh_load && era <= Era::Redis70 {
                    let start = if w.all_int {
                        l.set_max_intset_entries.min(n)
                    } else {
                        0
                    };
                    dict_buckets_after_conversion(start, n)
                } else {
                    dict_buckets(n)
                };
                robj + p.dict_struct() + 8 * buckets + 24 * n + w.sds_a
            };
            let (encoding, bytes) = match vt {
                ValueType::SetIntset if n <= l.set_max_intset_entries => (
                    ObjEncoding::Intset,
                    robj + if era == Era::Redis6 { blob } else { p.j(blob) },
                ),
                ValueType::SetListpack
                    if n <= l.set_max_listpack_entries && w.max_len <= l.set_max_listpack_value =>
                {
                    (ObjEncoding::Listpack, robj + p.j(blob))
                }
                ValueType::Set if n <= l.set_max_intset_entries && w.all_int => {
                    let raw = 8 + w.int_width * n;
                    (
                        ObjEncoding::Intset,
                        robj + if era == Era::Redis6 { raw } else { p.j(raw) },
                    )
                }
                ValueType::Set
                    if era >= Era::Redis72
                        && n <= l.set_max_listpack_entries
                        && w.max_len <= l.set_max_listpack_value =>
                {
                    let lp_bytes = if lazy {
                        walk_members(p, v, scratch, limit)?.lp_bytes
                    } else {
                        w.lp_bytes
                    };
                    (ObjEncoding::Listpack, robj + p.j(lp_bytes))
                }
                _ => (ObjEncoding::Hashtable, ht(&w)),
            };
            Ok(Measure {
                encoding,
                memory_bytes: bytes,
                elements: n,
                max_element_bytes: w.max_len,
            })
        }
        Kind::Zset => {
            let lazy = compact_sizes_later(vt);
            let limit = l.zset_max_listpack_entries;
            let w = walk_members(p, v, scratch, if lazy { 0 } else { limit })?;
            let n = w.count;
            let compact_ok =
                n <= l.zset_max_listpack_entries && w.max_len <= l.zset_max_listpack_value;
            let blob = blob_len(e)?;
            let (encoding, bytes) = match vt {
                ValueType::ZsetZiplist if era == Era::Redis6 && compact_ok => {
                    (ObjEncoding::Ziplist, robj + blob)
                }
                ValueType::ZsetListpack if compact_ok => (ObjEncoding::Listpack, robj + p.j(blob)),
                _ if compact_ok => {
                    let c = if lazy {
                        &walk_members(p, v, scratch, limit)?
                    } else {
                        &w
                    };
                    if era == Era::Redis6 {
                        (ObjEncoding::Ziplist, robj + c.zl_bytes)
                    } else {
                        (ObjEncoding::Listpack, robj + p.j(c.lp_bytes))
                    }
                }
                _ if era >= Era::Valkey9 => {
                    // 9.1: members live inside the skip-list nodes; the
                    // zset's hash table points at the nodes.
                    let nodes = w.vk_nodes.round() as u64;
                    (
                        ObjEncoding::Skiplist,
                        robj + 16 + 32 + valkey_hashtable(n) + p.skiplist_header + nodes,
                    )
                }
                _ => {
                    let nodes = (n as f64 * p.skiplist_node).round() as u64;
                    let per_member = if era >= Era::Valkey9 { 0 } else { 24 };
                    (
                        ObjEncoding::Skiplist,
                        robj + 16
                            + 32
                            + p.dict_struct()
                            + 8 * dict_buckets(n)
                            + p.skiplist_header
                            + w.sds_a
                            + per_member * n
                            + nodes,
                    )
                }
            };
            Ok(Measure {
                encoding,
                memory_bytes: bytes,
                elements: n,
                max_element_bytes: w.max_len,
            })
        }
        Kind::Hash => {
            let lazy = compact_sizes_later(vt);
            let limit = l.hash_max_listpack_entries;
            let (w, lpex) = walk_hash(p, v, vt, scratch, if lazy { 0 } else { limit })?;
            let n = w.count;
            let compact_ok =
                n <= l.hash_max_listpack_entries && w.max_len <= l.hash_max_listpack_value;
            // A hash the file stored as a table but small enough to start as
            // a listpack is converted at its first long entry, presized for
            // the entries read so far; it may still be rehashing at the end.
            let converted_at = match (vt, w.first_long) {
                (ValueType::Hash, Some(i)) if n <= l.hash_max_listpack_entries => Some(i),
                _ => None,
            };
            let buckets = 8 * match converted_at {
                Some(i) => dict_buckets_after_conversion(i, n),
                // Built by HSET on Redis <= 7.0, a big hash becomes a table
                // at its 513th field and grows from there.
                None if !p.fresh_load && era <= Era::Redis70 && n > l.hash_max_listpack_entries => {
                    dict_buckets_after_conversion(l.hash_max_listpack_entries, n)
                }
                None => dict_buckets(n),
            };
            let (encoding, bytes) = if vt.has_field_expiry()
                && era >= Era::Redis74
                && era < Era::Valkey80
            {
                if compact_ok {
                    let lp = match vt {
                        ValueType::HashListpackEx | ValueType::HashListpackExPreGa => blob_len(e)?,
                        _ => lpex,
                    };
                    (ObjEncoding::ListpackEx, robj + p.j(32) + p.j(lp))
                } else {
                    (
                        ObjEncoding::Hashtable,
                        robj + p.dict_struct() + buckets + w.mstr + w.sds_b + 24 * n,
                    )
                }
            } else if era >= Era::Valkey9 && w.any_ttl {
                // Valkey keeps any hash with a field TTL as a table, and
                // indexes those fields in a per-key volatile set.
                let table = valkey_hashtable(n);
                let vset = VK_VSET_BASE + VK_VSET_PER_FIELD * w.ttl_fields;
                (ObjEncoding::Hashtable, robj + table + w.vk_entries + vset)
            } else if compact_ok {
                match vt {
                    ValueType::HashZiplist if era == Era::Redis6 => {
                        (ObjEncoding::Ziplist, robj + blob_len(e)?)
                    }
                    ValueType::HashListpack => (ObjEncoding::Listpack, robj + p.j(blob_len(e)?)),
                    _ => {
                        let c = if lazy {
                            &walk_hash(p, v, vt, scratch, limit)?.0
                        } else {
                            &w
                        };
                        if era == Era::Redis6 {
                            (ObjEncoding::Ziplist, robj + c.zl_bytes)
                        } else {
                            (ObjEncoding::Listpack, robj + p.j(c.lp_bytes))
                        }
                    }
                }
            } else if era >= Era::Valkey9 {
                let table = match converted_at {
                    Some(i) => valkey_hashtable_after_conversion(i, n),
                    None => valkey_hashtable(n),
                };
                (ObjEncoding::Hashtable, robj + table + w.vk_entries)
            } else {
                (
                    ObjEncoding::Hashtable,
                    robj + p.dict_struct() + buckets + w.sds_a + w.sds_b + 24 * n,
                )
            };
            Ok(Measure {
                encoding,
                memory_bytes: bytes,
                elements: n,
                max_element_bytes: w.max_len,
            })
        }
        Kind::Stream => measure_stream(p, e, scratch),
        Kind::Module => {
            // Modules report their own usage; the serialized size is the best
            // offline stand-in.
            Ok(Measure {
                encoding: ObjEncoding::Module,
                memory_bytes: robj + v.serialized_len(),
                elements: 1,
                max_element_bytes: 0,
            })
        }
    }
}

/// Whether a value of type `vt` has its listpack (or ziplist) size added up
/// only once it is known to stay compact: types the file stores as hash
/// tables or skip lists, which are almost never small enough for that, so
/// the first walk leaves out the per-element compact arithmetic (and a
/// second walk does it in the rare case it is needed).
fn compact_sizes_later(vt: ValueType) -> bool {
    matches!(
        vt,
        ValueType::Set | ValueType::Zset | ValueType::Zset2 | ValueType::Hash
    )
}

/// A set's members, or a sorted set's members and scores; compact sizes
/// for the first `compact_limit` only.
fn walk_members(
    p: &Profile,
    v: &Value<'_>,
    scratch: &mut Scratch,
    compact_limit: u64,
) -> rdb_parser::Result<Walk> {
    let sorted = v.kind() == Kind::Zset;
    let mut w = Walk {
        track_ints: !sorted,
        want_nodes: sorted,
        ..Walk::limited(compact_limit)
    };
    v.for_each_element(scratch, |el| match el {
        Element::Member(s) => {
            w.count += 1;
            w.scalar(p, s, false);
        }
        Element::Scored { member, score } => {
            w.count += 1;
            w.scalar(p, member, false);
            w.score(p, score);
        }
        _ => {}
    })?;
    Ok(w)
}

/// A hash's fields and values, and the listpack size with field expire
/// times (`listpackex`); compact sizes for the first `compact_limit` only.
fn walk_hash(
    p: &Profile,
    v: &Value<'_>,
    vt: ValueType,
    scratch: &mut Scratch,
    compact_limit: u64,
) -> rdb_parser::Result<(Walk, u64)> {
    let mut w = Walk::limited(compact_limit);
    let mut lpex = 7u64;
    v.for_each_element(scratch, |el| {
        if let Element::Field {
            field,
            value,
            expire_at_ms,
        } = el
        {
            if w.first_long.is_none()
                && (field.len() > p.limits.hash_max_listpack_value
                    || value.len() > p.limits.hash_max_listpack_value)
            {
                w.first_long = Some(w.count);
            }
            w.count += 1;
            w.scalar(p, field, false);
            w.scalar(p, value, true);
            w.mstr_field(p, field.len(), expire_at_ms.is_some());
            if p.era >= Era::Valkey80 {
                let (f, v) = (field.len(), value.len());
                let ttl = if expire_at_ms.is_some() { 8 } else { 0 };
                let fsz = p.sds_hdr(f).max(if ttl > 0 { 3 } else { 1 }) + f + 1;
                w.vk_entries += if fsz + v + 4 + ttl <= 128 {
                    p.j(ttl + fsz + v + 4)
                } else {
                    p.j(ttl + 8 + p.sds_hdr(f).max(3) + f + 1) + p.sds(v)
                };
            }
            if w.count <= w.compact_limit && vt.has_field_expiry() {
                lpex += lp_entry(field)
                    + lp_entry(value)
                    + lp_entry(Scalar::Int(expire_at_ms.unwrap_or(0)));
            }
        }
    })?;

    Ok((w, lpex))
}

/// A set, sorted set or hash that the server keeps as the file's blob on
/// load costs the blob's allocation: decided from the blob's shape alone
/// (entry count and longest entry), without the per-element arithmetic.
/// `None` when the server converts it, or when the blob is malformed (the
/// full walk then reports where).
fn kept_blob(p: &Profile, e: &Entry<'_>, scratch: &mut Scratch) -> Option<Measure> {
    let l = &p.limits;
    let redis6 = p.era == Era::Redis6;
    let vt = e.value_type();
    match vt {
        ValueType::SetIntset
        | ValueType::SetListpack
        | ValueType::ZsetListpack
        | ValueType::HashListpack => {}
        ValueType::ZsetZiplist | ValueType::HashZiplist if redis6 => {}
        _ => return None,
    }
    let shape = e.value.compact_shape(scratch).ok()??;
    let both = shape.max_even.max(shape.max_odd);
    let pairs = shape.entries / 2;
    let (encoding, elements, max_len) = match vt {
        ValueType::SetIntset if shape.entries <= l.set_max_intset_entries => {
            (ObjEncoding::Intset, shape.entries, both)
        }
        ValueType::SetListpack
            if shape.entries <= l.set_max_listpack_entries && both <= l.set_max_listpack_value =>
        {
            (ObjEncoding::Listpack, shape.entries, both)
        }
        ValueType::ZsetListpack | ValueType::ZsetZiplist
            if shape.entries.is_multiple_of(2)
                && pairs <= l.zset_max_listpack_entries
                && shape.max_even <= l.zset_max_listpack_value =>
        {
            (ObjEncoding::Listpack, pairs, shape.max_even)
        }
        ValueType::HashListpack | ValueType::HashZiplist
            if shape.entries.is_multiple_of(2)
                && pairs <= l.hash_max_listpack_entries
                && both <= l.hash_max_listpack_value =>
        {
            (ObjEncoding::Listpack, pairs, both)
        }
        _ => return None,
    };
    // Redis 6 counts ziplists and intsets by their bytes, later servers by
    // their allocation.
    let (encoding, blob) = match vt {
        ValueType::ZsetZiplist | ValueType::HashZiplist => (ObjEncoding::Ziplist, shape.blob_len),
        ValueType::SetIntset if redis6 => (encoding, shape.blob_len),
        _ => (encoding, p.j(shape.blob_len)),
    };
    Some(Measure {
        encoding,
        memory_bytes: 16 + blob,
        elements,
        max_element_bytes: max_len,
    })
}

/// Length of the single blob (listpack, ziplist, intset, zipmap) of a compact value.
fn blob_len(e: &Entry<'_>) -> rdb_parser::Result<u64> {
    let mut cur = rdb_parser::Cursor::new(e.value.raw(), e.value.offset());
    if matches!(
        e.value_type(),
        ValueType::HashListpackEx | ValueType::HashMetadata
    ) {
        cur.skip(8, "a minimum expire time")?;
    }
    match e.value_type() {
        ValueType::SetIntset
        | ValueType::SetListpack
        | ValueType::ZsetListpack
        | ValueType::ZsetZiplist
        | ValueType::HashListpack
        | ValueType::HashZiplist
        | ValueType::HashZipmap
        | ValueType::ListZiplist
        | ValueType::HashListpackEx
        | ValueType::HashListpackExPreGa => Ok(RdbString::read(&mut cur, "a container")?.len()),
        _ => Ok(0),
    }
}

fn measure_list(p: &Profile, e: &Entry<'_>, scratch: &mut Scratch) -> rdb_parser::Result<Measure> {
    let era = p.era;
    let node_struct = if era == Era::Redis6 { 32 } else { 40 };
    let robj = 16;
    let quicklist = 40;
    let j = |n| p.allocator.usable(n);
    // Nodes after load: how many, their summed cost, and the only node's
    // size and kind while there is just one (7.2+ makes that a listpack).
    let mut nodes = 0u64;
    let mut nodes_cost = 0u64;
    let mut single: Option<(u64, bool)> = None;
    let mut add_node = |bytes: u64, plain: bool| {
        nodes += 1;
        nodes_cost += node_struct + if era == Era::Redis6 { bytes } else { j(bytes) };
        single = (nodes == 1).then_some((bytes, plain));
    };
    let mut count = 0u64;
    let mut max_len = 0u64;
    match e.value_type() {
        ValueType::ListQuicklist2 | ValueType::ListQuicklist => {
            let v2 = e.value_type() == ValueType::ListQuicklist2;
            e.value.for_each_quicklist_node(scratch, |node| {
                let blob = match node {
                    QuicklistNode::Plain(b) => {
                        count += 1;
                        max_len = max_len.max(b.len() as u64);
                        add_node(b.len() as u64, true);
                        return Ok(());
                    }
                    QuicklistNode::Packed(b) => b,
                };
                if v2 {
                    // The listpack is kept as it is: only lengths matter.
                    count += rdb_parser::Listpack::for_each_len(blob, |len| {
                        max_len = max_len.max(len);
                    })?;
                    add_node(blob.len() as u64, false);
                } else {
                    let mut lp = 7u64;
                    for it in rdb_parser::Ziplist::new(blob)? {
                        let s = it?;
                        count += 1;
                        max_len = max_len.max(s.len());
                        lp += lp_entry(s);
                    }
                    // 7.x converts each ziplist node to a listpack; 6.x keeps it.
                    add_node(
                        if era == Era::Redis6 {
                            blob.len() as u64
                        } else {
                            lp
                        },
                        false,
                    );
                }
                Ok(())
            })?;
        }
        _ => {
            // Rebuilt by pushes into nodes of at most `list_max_listpack_bytes`.
            let limit = p.limits.list_max_listpack_bytes;
            let empty = if era == Era::Redis6 { 11 } else { 7 };
            let mut cur_bytes = empty;
            let mut prev = 0;
            e.value.for_each_element(scratch, |el| {
                if let Element::Member(s) = el {
                    count += 1;
                    max_len = max_len.max(s.len());
                    let add = if era == Era::Redis6 {
                        zl_entry(s, prev)
                    } else {
                        lp_entry(s)
                    };
                    if cur_bytes + add > limit && cur_bytes > empty {
                        add_node(cur_bytes, false);
                        cur_bytes = empty;
                    }
                    cur_bytes += add;
                    prev = add;
                }
            })?;
            if cur_bytes > empty {
                add_node(cur_bytes, false);
            }
        }
    }
    let (encoding, bytes) = match single {
        Some((b, false))
            if era >= Era::Redis72 && nodes == 1 && b <= p.limits.list_max_listpack_bytes =>
        {
            (ObjEncoding::Listpack, robj + j(b))
        }
        _ => (ObjEncoding::Quicklist, robj + quicklist + nodes_cost),
    };
    Ok(Measure {
        encoding,
        memory_bytes: bytes,
        elements: count,
        max_element_bytes: max_len,
    })
}

/// One node of a rax built by inserting sorted, distinct 16-byte keys in
/// order (the shape a freshly written stream's trees have).
enum RaxNode {
    /// The (empty) node that marks a key and holds its value pointer.
    Key,
    /// A compressed run of this many bytes leading to one child.
    Run(u64),
    /// A branching node with this many children.
    Branch(u64),
}

/// Visits every node of the rax holding `keys` (sorted, distinct).
fn walk_rax(keys: &[[u8; 16]], visit: &mut impl FnMut(RaxNode)) {
    fn walk(keys: &[[u8; 16]], depth: usize, visit: &mut impl FnMut(RaxNode)) {
        if keys.len() == 1 {
            if depth < 16 {
                visit(RaxNode::Run((16 - depth) as u64));
            }
            visit(RaxNode::Key);
            return;
        }
        let (first, last) = (&keys[0], &keys[keys.len() - 1]);
        let mut lcp = depth;
        while lcp < 16 && first[lcp] == last[lcp] {
            lcp += 1;
        }
        if lcp > depth {
            visit(RaxNode::Run((lcp - depth) as u64));
        }
        let mut children = 0u64;
        let mut start = 0;
        while start < keys.len() {
            let b = keys[start][lcp];
            let mut end = start + 1;
            while end < keys.len() && keys[end][lcp] == b {
                end += 1;
            }
            walk(&keys[start..end], lcp + 1, visit);
            children += 1;
            start = end;
        }
        visit(RaxNode::Branch(children));
    }
    if !keys.is_empty() {
        walk(keys, 0, visit);
    }
}

/// Number of nodes of a rax holding the given sorted, distinct 16-byte keys
/// (an empty rax has its root).
pub fn rax_nodes(keys: &[[u8; 16]]) -> u64 {
    let mut n = 0;
    walk_rax(keys, &mut |_| n += 1);
    n.max(1)
}

/// Allocated bytes of a rax built from sorted 16-byte keys, as Valkey 8.1+
/// tracks them: the rax struct plus each node (key nodes carry a value pointer).
pub fn rax_alloc(keys: &[[u8; 16]], j: &dyn Fn(u64) -> u64) -> u64 {
    let pad = |n: u64| n.div_ceil(8) * 8;
    if keys.is_empty() {
        return j(32) + j(8);
    }
    let mut total = j(32);
    walk_rax(keys, &mut |node| {
        total += match node {
            RaxNode::Key => j(16),
            RaxNode::Run(len) => j(pad(4 + len) + 8),
            RaxNode::Branch(d) => j(pad(4 + d) + 8 * d),
        }
    });
    total
}

fn id_key(id: StreamId) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&id.ms.to_be_bytes());
    k[8..].copy_from_slice(&id.seq.to_be_bytes());
    k
}

/// What a stream's memory depends on, gathered in one walk.
#[derive(Default)]
struct StreamCost {
    allocator: Option<Allocator>,
    prealloc: u64,
    /// The last node seen (the stream's tail, once the walk is done).
    tail: Option<u64>,
    node_keys: Vec<[u8; 16]>,
    /// Listpack nodes, each rounded to its allocation.
    lp_rounded: u64,
    max_len: u64,
    groups: Vec<GroupCost>,
}

/// A consumer group's pending ids, and each consumer's name length and ids.
#[derive(Default)]
struct GroupCost {
    pending: Vec<[u8; 16]>,
    consumers: Vec<(u64, Vec<[u8; 16]>)>,
}

impl StreamVisitor for StreamCost {
    fn node(&mut self, master: StreamId, listpack_bytes: u64) {
        self.node_keys.push(id_key(master));
        // The previous node was shrunk when this one started.
        if let Some(prev) = self.tail.replace(listpack_bytes) {
            self.lp_rounded += self.allocator.map_or(prev, |a| a.usable(prev));
        }
    }
    fn entry(&mut self, _id: StreamId, fields: &[(Scalar<'_>, Scalar<'_>)]) {
        for (f, v) in fields {
            self.max_len = self.max_len.max(f.len()).max(v.len());
        }
    }
    fn group(&mut self, _name: &[u8], _last: StreamId, _read: Option<i64>, _pending: u64) {
        self.groups.push(GroupCost::default());
    }
    fn group_pending(&mut self, id: StreamId, _t: i64, _c: u64) {
        if let Some(g) = self.groups.last_mut() {
            g.pending.push(id_key(id));
        }
    }
    fn consumer(&mut self, name: &[u8], _seen: i64, _active: Option<i64>, _pending: u64) {
        if let Some(g) = self.groups.last_mut() {
            g.consumers.push((name.len() as u64, Vec::new()));
        }
    }
    fn consumer_pending(&mut self, id: StreamId) {
        if let Some(c) = self.groups.last_mut().and_then(|g| g.consumers.last_mut()) {
            c.1.push(id_key(id));
        }
    }
}

fn measure_stream(
    p: &Profile,
    e: &Entry<'_>,
    scratch: &mut Scratch,
) -> rdb_parser::Result<Measure> {
    // XADD creates a node with 4 KB preallocated and shrinks it only when
    // the next node starts; a load allocates nodes at their exact size.
    let prealloc = if p.fresh_load {
        0
    } else {
        STREAM_NODE_PREALLOC
    };
    let mut c = StreamCost {
        allocator: Some(p.allocator),
        prealloc,
        ..StreamCost::default()
    };
    let meta = e.value.walk_stream(scratch, &mut c)?;
    let j = |n: u64| p.allocator.usable(n);
    // Only the tail node keeps XADD's preallocation.
    if let Some(tail) = c.tail.take() {
        c.lp_rounded += j(tail.max(c.prealloc));
    }
    let rax = |keys: &mut Vec<[u8; 16]>| -> u64 {
        keys.sort_unstable();
        keys.dedup();
        if p.era >= Era::Valkey9 {
            rax_alloc(keys, &j)
        } else {
            16 * keys.len() as u64 + 244 * rax_nodes(keys)
        }
    };
    let (stream_struct, cg_struct, consumer_struct) = match p.era {
        Era::Redis6 => (40, 32, 24),
        Era::Redis70 => (80, 40, 24),
        _ => (80, 40, 32),
    };
    let mut bytes = 16 + stream_struct + rax(&mut c.node_keys) + c.lp_rounded;
    for g in &mut c.groups {
        bytes += cg_struct + 24 * g.pending.len() as u64 + rax(&mut g.pending);
        for (name_len, cpel) in g.consumers.iter_mut() {
            bytes += consumer_struct + *name_len + rax(cpel);
        }
    }
    Ok(Measure {
        encoding: ObjEncoding::Stream,
        memory_bytes: bytes,
        elements: meta.length,
        max_element_bytes: c.max_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_format_as_printf_g17() {
        // What Redis 7.0 replies (it formats scores with "%.17g").
        for (x, want) in [
            (0.1, "0.10000000000000001"),
            (2.5, "2.5"),
            (-2.5, "-2.5"),
            (1e-5, "1.0000000000000001e-05"),
            (1.5e300, "1.5000000000000001e+300"),
            (123456.789, "123456.789"),
            (0.0001, "0.0001"),
            (1.5e17, "1.5e+17"),
            (1.25e16, "12500000000000000"),
            (-3.0e-10, "-3e-10"),
            (7.0e-300, "7.0000000000000003e-300"),
            (1.5e-105, "1.5e-105"),
            (1e100, "1e+100"),
            (-9.87654321e-5, "-9.8765432099999994e-05"),
        ] {
            let mut buf = [0u8; 32];
            let n = format_g17(x, &mut buf);
            assert_eq!(std::str::from_utf8(&buf[..n]).unwrap(), want, "{x}");
        }
    }

    #[test]
    fn scores_format_as_redis_7_2_does() {
        // What Redis 7.4 replies (it formats scores with fpconv_dtoa).
        for (x, want) in [
            (1e-7, "1e-7"),
            (1e-5, "0.00001"),
            (0.000123, "0.000123"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (123456.789, "123456.789"),
            (1.5e20, "1.5e+20"),
            (1e21, "1e+21"),
            (1.5e300, "1.5e+300"),
            (-3.25e-100, "-3.25e-100"),
            (1e100, "1e+100"),
            (1.05e105, "1.05e+105"),
        ] {
            let mut buf = [0u8; 32];
            let n = format_shortest(x, &mut buf);
            assert_eq!(std::str::from_utf8(&buf[..n]).unwrap(), want, "{x}");
        }
    }

    #[test]
    fn size_classes() {
        let j = |n| Allocator::Jemalloc.usable(n);
        let got: Vec<u64> = [
            1, 8, 9, 17, 33, 41, 57, 65, 81, 129, 161, 257, 536, 1025, 14337,
        ]
        .iter()
        .map(|&n| j(n))
        .collect();
        assert_eq!(
            got,
            [8, 8, 16, 24, 40, 48, 64, 80, 96, 160, 192, 320, 640, 1280, 16384]
        );
        let j16 = |n| Allocator::Jemalloc16.usable(n);
        assert_eq!(
            [j16(20), j16(5), j16(49), j16(100), j16(129)],
            [32, 8, 64, 112, 160]
        );
        let l = |n| Allocator::Libc.usable(n);
        assert_eq!([l(5), l(18), l(25), l(40), l(41)], [24, 24, 40, 40, 56]);
        // The masks equal rounding up by division, class by class.
        let by_division = |a: Allocator, n: u64| {
            let (quantum, top) = if a == Allocator::Jemalloc {
                (8, 64)
            } else {
                (16, 128)
            };
            let step = match n {
                0..=8 => return 8,
                _ if n <= top => quantum,
                _ => 1 << (63 - (n - 1).leading_zeros() - 2),
            };
            n.div_ceil(step) * step
        };
        let big = (0..40).map(|s| (1u64 << s) * 3 + s);
        for n in (0..70_000).chain(big) {
            for a in [Allocator::Jemalloc, Allocator::Jemalloc16] {
                assert_eq!(a.usable(n), by_division(a, n), "{a:?} {n}");
            }
        }
    }

    #[test]
    fn short_sds_table_equals_the_arithmetic() {
        let eras = [
            Era::Redis6,
            Era::Redis70,
            Era::Redis72,
            Era::Redis74,
            Era::Valkey80,
            Era::Valkey9,
        ];
        for era in eras {
            for a in [Allocator::Jemalloc, Allocator::Jemalloc16, Allocator::Libc] {
                let p = Profile::new(era, a, false, EncodingLimits::default());
                for len in 0..400 {
                    assert_eq!(p.sds(len), p.sds_computed(len), "{era:?} {a:?} {len}");
                }
                // The table is not a copy of one size class: it grows.
                assert!(p.sds(255) > p.sds(31) && p.sds(31) > p.sds(0));
            }
        }
    }

    #[test]
    fn rax_shapes() {
        assert_eq!(rax_nodes(&[]), 1);
        assert_eq!(rax_nodes(&[[0; 16]]), 2);
        let mut a = [0u8; 16];
        let mut b = [0u8; 16];
        a[15] = 1;
        b[15] = 2;
        // compressed 0..15, branch at 15, two key nodes.
        assert_eq!(rax_nodes(&[a, b]), 4);
    }
}
