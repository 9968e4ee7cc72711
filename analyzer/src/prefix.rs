//! Key prefixes: every key is turned into a *pattern* by splitting it on
//! separator bytes and replacing the segments that look like identifiers
//! by `*` (`user:1234:profile` → `user:*:profile`), then patterns are
//! counted per worker and aggregated into a tree at the end.
//!
//! Separators ([`Separators`]): `auto` (the default) splits on `:`, `|` and
//! `/`; `.`, `-` and `_` are *not* separators (Redis' own naming advice
//! uses them inside a field, `comment:4321:reply.to`, and they occur inside
//! dates, UUIDs and floats). Explicit separators (`--separators ":|"`)
//! replace that set; templating applies in both modes.
//!
//! Identifier rules, for a segment (checked whole first, then for each part
//! of it between `-`, `_`, `.`, `@`, `+`, `=`, `,`, `#` or a space):
//! - decimal numbers, and "numeric" tokens: digits with `-._+,TZ` between
//!   them and at least as many digits as other characters (`2024-01-31`,
//!   `20240131`, `1700000000`, `3.14`, `10.0.0.1`, `2024-01-31T10:00Z`'s parts);
//! - UUIDs (`8-4-4-4-12` hex digits);
//! - hex strings of 8 or more characters, or of 4 or more containing both a
//!   digit and a letter (`9f86d081884c7d65`, `a1b2`);
//! - random-looking tokens: letters and digits (and `+/=`) with at least one
//!   of each, 12 characters or more, or 8 or more alternating between
//!   letters and digits at least 3 times (`k3j4h5g6`);
//! - e-mail addresses (a `@` with something on both sides);
//! - segments longer than 64 bytes, and segments with control bytes or
//!   invalid UTF-8 (binary ids).
//!
//! A segment whose parts all became `*` becomes one `*` (`2024-01-31` →
//! `*`, not `*-*-*`). Plain words are kept (`profile`, `reply.to`,
//! `v2`). Keys with more than [`MAX_DEPTH`] segments: the last kept
//! segment is `*` and stands for the rest.
//!
//! Tree: a pattern of `d` segments is counted at every depth `1..=d`, under
//! its first `k` segments (`user`, `user:*`, `user:*:profile`); the row of
//! a node counts the keys whose pattern is that node or lies under it.
//!
//! Bounded memory, deterministic whatever the threads: the number of
//! distinct patterns an accumulator holds never passes the cap. When it
//! would, every pattern is cut one level coarser (depth 8 → 7 → … → 1, then
//! the first segment cut to 2 bytes + `*` (kept when 2 bytes or less), then `*` alone) and the map is
//! rebuilt. A worker only coarsens when the keys *it* saw exceed the cap at
//! that level, so the whole file does too; merging takes the coarser level
//! of the two and coarsens further while over the cap. The result is
//! always the finest level at which the whole file fits the cap, whatever
//! the split into chunks and threads. `keys.parquet`'s `prefix` column is
//! never coarsened (it is computed per key).

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use rdb_parser::Kind;

use crate::analyzer::{Bucket, ExpiryBucket};

/// Most segments a pattern keeps.
pub const MAX_DEPTH: usize = 8;
/// Segments longer than this are replaced by `*`.
pub const MAX_SEGMENT_BYTES: usize = 64;
/// Default cap on distinct patterns ([`PrefixConfig::cap`]).
pub const DEFAULT_CAP: usize = 100_000;

/// Bytes that split a segment into parts for the identifier rules (not
/// segment separators).
const INNER: &[u8] = b"-_.@+=,# ";

/// How keys are split into segments.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Separators {
    /// `:`, `|` and `/`.
    #[default]
    Auto,
    /// These bytes.
    Chars(Vec<u8>),
}

impl Separators {
    /// `auto`, or the separator characters themselves: at least one,
    /// ASCII, not `*` (which stands for identifiers in patterns).
    pub fn parse(s: &str) -> Option<Separators> {
        match s {
            "auto" => Some(Separators::Auto),
            s if s.is_empty() || !s.is_ascii() || s.contains('*') => None,
            s => Some(Separators::Chars(s.as_bytes().to_vec())),
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Separators::Auto => b":|/",
            Separators::Chars(c) => c,
        }
    }
}

/// Settings of the prefix analysis (a lookup table, cheap to copy).
#[derive(Clone, Copy, Debug)]
pub struct PrefixConfig {
    /// Per byte: [`F_SEP`] for separators, else the `F_*` classes it lacks.
    fast: [u8; 256],
    inner: [bool; 256],
    /// Most distinct patterns an accumulator holds.
    pub cap: usize,
    /// Depth of the prefixes shown in the report and given per-prefix expiry rows.
    pub depth: usize,
}

impl PrefixConfig {
    /// A config splitting on `seps`, holding at most `cap` patterns.
    pub fn new(seps: &Separators, cap: usize, depth: usize) -> PrefixConfig {
        let mut sep = [false; 256];
        for &b in seps.bytes() {
            sep[b as usize] = true;
        }
        let mut inner = [false; 256];
        for &b in INNER {
            inner[b as usize] = !sep[b as usize];
        }
        let mut fast = [0u8; 256];
        for (b, f) in fast.iter_mut().enumerate() {
            let b = b as u8;
            let class = if b.is_ascii_digit() {
                F_DIGIT | F_HEX | F_ALNUM
            } else if b.is_ascii_hexdigit() {
                F_LETTER | F_HEX | F_ALNUM
            } else if b.is_ascii_alphabetic() {
                F_LETTER | F_ALNUM
            } else {
                0
            };
            *f = if sep[b as usize] {
                F_SEP
            } else {
                F_CLASSES & !class
            };
        }
        PrefixConfig {
            fast,
            inner,
            cap: cap.max(1),
            depth: depth.max(1),
        }
    }

    fn is_sep(&self, b: u8) -> bool {
        self.fast[b as usize] & F_SEP != 0
    }

    /// Writes the pattern of `key` into `out` (cleared first) and returns it.
    pub fn template<'b>(&self, key: &[u8], out: &'b mut Vec<u8>) -> &'b [u8] {
        out.clear();
        // `key[kept..start]` (kept segments and separators) is still to be
        // copied to `out`.
        let mut kept = 0;
        let mut start = 0;
        let mut depth = 0;
        loop {
            let (end, lacks) = self.scan(key, start);
            depth += 1;
            let last = end == key.len();
            if depth == MAX_DEPTH && !last {
                out.extend_from_slice(&key[kept..start]);
                out.push(b'*');
                return out;
            }
            let seg = &key[start..end];
            match segment_shape(seg.len(), lacks) {
                Some(false) => {}
                Some(true) => {
                    out.extend_from_slice(&key[kept..start]);
                    out.push(b'*');
                    kept = end;
                }
                None => {
                    out.extend_from_slice(&key[kept..start]);
                    self.template_segment(seg, out);
                    kept = end;
                }
            }
            if last {
                break;
            }
            start = end + 1;
        }
        out.extend_from_slice(&key[kept..]);
        out
    }

    /// The end of the segment starting at `start` (the next separator or
    /// the end of the key), and the `F_*` classes some of its bytes lack.
    #[inline(always)]
    fn scan(&self, key: &[u8], start: usize) -> (usize, u8) {
        let t = &self.fast;
        let mut lacks = 0;
        let mut i = start;
        // Eight bytes at a time; in the chunk holding the separator, the
        // halves' ORs locate it.
        while let Some(c) = key[i..].first_chunk::<8>() {
            let x = [
                t[c[0] as usize],
                t[c[1] as usize],
                t[c[2] as usize],
                t[c[3] as usize],
                t[c[4] as usize],
                t[c[5] as usize],
                t[c[6] as usize],
                t[c[7] as usize],
            ];
            let lo = x[0] | x[1] | x[2] | x[3];
            let hi = x[4] | x[5] | x[6] | x[7];
            if (lo | hi) & F_SEP == 0 {
                lacks |= lo | hi;
                i += 8;
                continue;
            }
            let (p, before) = if lo & F_SEP == 0 {
                let (p, before) = first_sep([x[4], x[5], x[6], x[7]]);
                (p + 4, lo | before)
            } else {
                first_sep([x[0], x[1], x[2], x[3]])
            };
            return (i + p, lacks | before);
        }
        // Fewer than eight bytes left in the key.
        if let Some(c) = key[i..].first_chunk::<4>() {
            let x = [
                t[c[0] as usize],
                t[c[1] as usize],
                t[c[2] as usize],
                t[c[3] as usize],
            ];
            let all = x[0] | x[1] | x[2] | x[3];
            if all & F_SEP != 0 {
                let (p, before) = first_sep(x);
                return (i + p, lacks | before);
            }
            lacks |= all;
            i += 4;
        }
        while let Some(&b) = key.get(i) {
            let x = t[b as usize];
            if x & F_SEP != 0 {
                break;
            }
            lacks |= x;
            i += 1;
        }
        (i, lacks)
    }

    /// The identifier rules on a non-empty segment of at most
    /// [`MAX_SEGMENT_BYTES`] that is neither all letters nor all digits
    /// (the shapes [`segment_shape`] leaves).
    #[inline(never)]
    fn template_segment(&self, seg: &[u8], out: &mut Vec<u8>) {
        let sh = shape(seg);
        if seg.len() > MAX_SEGMENT_BYTES
            || shape_is_identifier(seg, &sh)
            || is_binary(seg, &sh)
            || is_email(seg)
        {
            out.push(b'*');
            return;
        }
        if !seg.iter().any(|&b| self.inner[b as usize]) {
            out.extend_from_slice(seg);
            return;
        }
        // Part by part; one `*` if every non-empty part is an identifier.
        let mark = out.len();
        let mut all_ids = true;
        let mut any_part = false;
        let mut start = 0;
        for i in 0..=seg.len() {
            if i < seg.len() && !self.inner[seg[i] as usize] {
                continue;
            }
            let part = &seg[start..i];
            if !part.is_empty() {
                any_part = true;
                if is_identifier(part) {
                    out.push(b'*');
                } else {
                    all_ids = false;
                    out.extend_from_slice(part);
                }
            }
            if i < seg.len() {
                out.push(seg[i]);
            }
            start = i + 1;
        }
        if all_ids && any_part {
            out.truncate(mark);
            out.push(b'*');
        }
    }
}

impl Default for PrefixConfig {
    fn default() -> PrefixConfig {
        PrefixConfig::new(&Separators::Auto, DEFAULT_CAP, 3)
    }
}

/// The first of four table entries that is a separator (one must be), and
/// the OR of the entries before it.
#[inline(always)]
fn first_sep(x: [u8; 4]) -> (usize, u8) {
    let x01 = x[0] | x[1];
    if x01 & F_SEP == 0 {
        if x[2] & F_SEP != 0 {
            (2, x01)
        } else {
            (3, x01 | x[2])
        }
    } else if x[0] & F_SEP != 0 {
        (0, 0)
    } else {
        (1, x[0])
    }
}

/// The common segment shapes, decided from the length `n` of a segment
/// and the `F_*` classes some of its bytes lack: `Some(true)` for an
/// identifier (`*`), `Some(false)` for a segment kept as is (empty
/// included), `None` for the others, left to
/// [`PrefixConfig::template_segment`].
#[inline(always)]
fn segment_shape(n: usize, lacks: u8) -> Option<bool> {
    if n == 0 {
        Some(false)
    } else if n > MAX_SEGMENT_BYTES || lacks & F_DIGIT == 0 {
        // Too long, or a number.
        Some(true)
    } else if lacks & F_LETTER == 0 {
        // A word, unless it is a long hex string (`deadbeef`).
        Some(n >= 8 && lacks & F_HEX == 0)
    } else if lacks & F_HEX == 0 {
        // Hex digits and letters both: hex from 4 characters, a word
        // below (`a1`).
        Some(n >= 4)
    } else if lacks & F_ALNUM == 0 && n >= 12 {
        // Letters and digits both: a random token.
        Some(true)
    } else {
        None
    }
}

/// Classes of [`PrefixConfig::template`]'s one pass: ASCII digit, letter,
/// hex digit, letter or digit. [`PrefixConfig`]'s table holds the classes
/// a byte does *not* have (so that OR-ing a segment's entries tells the
/// classes some byte lacks), or [`F_SEP`] alone for a separator.
const F_DIGIT: u8 = 1;
const F_LETTER: u8 = 2;
const F_HEX: u8 = 4;
const F_ALNUM: u8 = 8;
const F_CLASSES: u8 = F_DIGIT | F_LETTER | F_HEX | F_ALNUM;
const F_SEP: u8 = 16;

const DIGIT: u8 = 1;
const HEX_LETTER: u8 = 2;
const LETTER: u8 = 4;
/// `-._+,TZ`: between the digits of numbers, dates and times.
const NUM_PUNCT: u8 = 8;
/// `+/=`: in base64 tokens.
const TOK_PUNCT: u8 = 16;
/// Control bytes and non-ASCII bytes.
const ODD: u8 = 32;

const fn classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = if b.is_ascii_digit() {
            DIGIT
        } else if b.is_ascii_hexdigit() {
            HEX_LETTER | LETTER
        } else if b.is_ascii_alphabetic() {
            LETTER
        } else if b < 0x20 || b >= 0x7f {
            ODD
        } else {
            0
        };
        i += 1;
    }
    let num = b"-._+,TZ";
    let mut j = 0;
    while j < num.len() {
        t[num[j] as usize] |= NUM_PUNCT;
        j += 1;
    }
    let tok = b"+/=";
    let mut j = 0;
    while j < tok.len() {
        t[tok[j] as usize] |= TOK_PUNCT;
        j += 1;
    }
    t
}

static CLASS: [u8; 256] = classes();

/// What one pass over a token tells.
#[derive(Default)]
struct Shape {
    digits: usize,
    letters: usize,
    /// OR and AND of the classes of all bytes.
    any: u8,
    /// Bytes that are digits or [`NUM_PUNCT`] / hex / alnum or [`TOK_PUNCT`].
    numeric: usize,
    hex: usize,
    token: usize,
    switches: usize,
}

fn shape(t: &[u8]) -> Shape {
    let mut s = Shape::default();
    let mut prev_digit = None;
    for &b in t {
        let c = CLASS[b as usize];
        s.any |= c;
        let digit = c & DIGIT != 0;
        s.digits += usize::from(digit);
        s.letters += usize::from(c & LETTER != 0);
        s.numeric += usize::from(c & (DIGIT | NUM_PUNCT) != 0);
        s.hex += usize::from(c & (DIGIT | HEX_LETTER) != 0);
        s.token += usize::from(c & (DIGIT | LETTER | TOK_PUNCT) != 0);
        if c & (DIGIT | LETTER) != 0 {
            s.switches += usize::from(prev_digit.is_some_and(|p| p != digit));
            prev_digit = Some(digit);
        }
    }
    s
}

/// The identifier rules for one token (see the module docs).
fn is_identifier(t: &[u8]) -> bool {
    !t.is_empty() && shape_is_identifier(t, &shape(t))
}

fn shape_is_identifier(t: &[u8], s: &Shape) -> bool {
    let n = t.len();
    // Numbers, dates, times, versions, addresses.
    if s.digits > 0
        && s.numeric == n
        && s.digits >= n - s.digits
        && (t[0].is_ascii_digit() || t[0] == b'-')
    {
        return true;
    }
    // Hex.
    if s.hex == n && (n >= 8 || (n >= 4 && s.digits > 0 && s.letters > 0)) {
        return true;
    }
    // Random tokens.
    if s.digits > 0 && s.letters > 0 && s.token == n && (n >= 12 || (n >= 8 && s.switches >= 3)) {
        return true;
    }
    // UUID.
    n == 36
        && t.iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

fn is_email(t: &[u8]) -> bool {
    t.iter()
        .position(|&b| b == b'@')
        .is_some_and(|p| p > 0 && p + 1 < t.len())
}

/// Control bytes, or bytes that are not UTF-8 (`s` is the shape of `t`).
fn is_binary(t: &[u8], s: &Shape) -> bool {
    s.any & ODD != 0
        && (t.iter().any(|&b| b < 0x20 || b == 0x7f) || std::str::from_utf8(t).is_err())
}

/// A multiply-rotate hasher (the Fx hash of rustc) for the per-key map
/// lookups, several times cheaper than SipHash on short patterns; seeded
/// per process so that a file cannot be built to collide.
#[derive(Clone, Copy, Debug)]
pub struct FastHasher(u64);

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FastHasher {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            self.add(tail_word(rest) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        // Spread the high bits (the best mixed) over the low ones, which
        // pick the bucket.
        self.0 ^ (self.0 >> 29)
    }
}

/// The last bytes of a hashed slice (fewer than eight) as a little-endian
/// word, zero-extended: equal to copying them into a zeroed `[u8; 8]`, but
/// with two overlapping loads instead of a `memcpy` call, which cost more
/// than the hashing on short patterns.
#[inline(always)]
pub(crate) fn tail_word(rest: &[u8]) -> u64 {
    let n = rest.len();
    debug_assert!(n < 8);
    match rest {
        [] => 0,
        [a, ..] if n < 4 => {
            u64::from(*a)
                | u64::from(rest[n / 2]) << (n / 2 * 8)
                | u64::from(rest[n - 1]) << ((n - 1) * 8)
        }
        _ => {
            let lo = rest
                .first_chunk::<4>()
                .map_or(0, |c| u32::from_le_bytes(*c));
            let hi = rest.last_chunk::<4>().map_or(0, |c| u32::from_le_bytes(*c));
            u64::from(lo) | u64::from(hi) << ((n - 4) * 8)
        }
    }
}

/// Builds [`FastHasher`]s with this process's seed.
#[derive(Clone, Copy, Debug)]
pub struct FastState(u64);

impl Default for FastState {
    fn default() -> FastState {
        static SEED: OnceLock<u64> = OnceLock::new();
        FastState(*SEED.get_or_init(|| RandomState::new().build_hasher().finish()))
    }
}

impl BuildHasher for FastState {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher(self.0)
    }
}

type FastMap<K, V> = HashMap<K, V, FastState>;

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
    /// Keys per type: string, list, set, zset, hash, stream, module.
    pub type_keys: [u64; 7],
    /// Keys with a TTL.
    pub keys_with_ttl: u64,
    /// Per expiry bucket, in [`ExpiryBucket::ALL`] order.
    pub expiry: [Bucket; 7],
}

impl PrefixStat {
    fn add(&mut self, k: &KeyStat) {
        self.keys += 1;
        self.memory_bytes += k.memory_bytes;
        self.rdb_bytes += k.rdb_bytes;
        self.type_keys[kind_index(k.kind)] += 1;
        self.keys_with_ttl += u64::from(k.has_ttl);
        let b = &mut self.expiry[k.bucket as usize];
        b.keys += 1;
        b.memory_bytes += k.memory_bytes;
    }

    fn merge(&mut self, o: &PrefixStat) {
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

/// What [`PrefixAcc::add`] needs to know about a key.
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

/// Coarsening levels: `1..=MAX_DEPTH` keep that many segments; `0` cuts the
/// first segment to 2 bytes (+ `*`; kept whole if 2 bytes or less); `-1` is `*` alone.
const FINEST: i32 = MAX_DEPTH as i32;

/// `pattern` (at the finest level) cut to `level`, appended to `out`.
fn coarsen(cfg: &PrefixConfig, pattern: &[u8], level: i32, out: &mut Vec<u8>) {
    out.clear();
    if level < 0 {
        out.push(b'*');
        return;
    }
    let first_end = pattern
        .iter()
        .position(|&b| cfg.is_sep(b))
        .unwrap_or(pattern.len());
    if level == 0 {
        let first = &pattern[..first_end];
        if first.len() <= 2 {
            out.extend_from_slice(first);
        } else {
            out.extend_from_slice(&first[..first.len().min(2)]);
            out.push(b'*');
        }
        return;
    }
    let mut segs = 0;
    for (i, &b) in pattern.iter().enumerate() {
        if cfg.is_sep(b) {
            segs += 1;
            if segs == level {
                out.extend_from_slice(&pattern[..i]);
                return;
            }
        }
    }
    out.extend_from_slice(pattern);
}

/// `pattern` as an accumulator at `level` holds it: itself at the finest
/// level, else cut (into `buf`).
#[inline]
fn held_as<'a>(
    cfg: &PrefixConfig,
    level: i32,
    pattern: &'a [u8],
    buf: &'a mut Vec<u8>,
) -> &'a [u8] {
    if level == FINEST {
        pattern
    } else {
        coarsen(cfg, pattern, level, buf);
        buf
    }
}

/// One worker's pattern counts: at most `cap` patterns.
#[derive(Debug)]
pub struct PrefixAcc {
    cfg: PrefixConfig,
    level: i32,
    map: FastMap<Box<[u8]>, Counted>,
    buf: Vec<u8>,
    /// Names this accumulator's numbering of patterns ([`PatternSlot`]);
    /// a new one whenever that numbering may change.
    epoch: u64,
}

impl Clone for PrefixAcc {
    fn clone(&self) -> PrefixAcc {
        PrefixAcc {
            cfg: self.cfg,
            level: self.level,
            map: self.map.clone(),
            buf: Vec::new(),
            // The copy numbers its new patterns on its own.
            epoch: new_epoch(),
        }
    }
}

/// A pattern's totals and its number in its accumulator.
#[derive(Clone, Copy, Debug)]
struct Counted {
    stat: PrefixStat,
    slot: u32,
}

/// A full pattern's number in one [`PrefixAcc`], while that accumulator's
/// `epoch` lasts: it lets `keys.parquet`'s prefix column find the
/// pattern's dictionary entry without hashing it again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PatternSlot {
    /// Which numbering (unique in the process).
    pub epoch: u64,
    /// The pattern's number in it (dense from 0).
    pub index: u32,
}

fn new_epoch() -> u64 {
    static EPOCHS: AtomicU64 = AtomicU64::new(0);
    EPOCHS.fetch_add(1, Ordering::Relaxed)
}

impl PrefixAcc {
    /// Empty, at the finest level.
    pub fn new(cfg: PrefixConfig) -> PrefixAcc {
        PrefixAcc {
            cfg,
            level: FINEST,
            map: FastMap::default(),
            buf: Vec::new(),
            epoch: new_epoch(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &PrefixConfig {
        &self.cfg
    }

    /// The coarsening level (see the module docs): `MAX_DEPTH` when no
    /// pattern was cut.
    pub fn level(&self) -> i32 {
        self.level
    }

    /// Distinct patterns held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no key was added.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Counts one key whose full pattern ([`PrefixConfig::template`]) is
    /// `pattern`; returns the pattern's number while patterns are held
    /// uncut (none once coarsened).
    #[inline]
    pub fn add(&mut self, pattern: &[u8], k: &KeyStat) -> Option<PatternSlot> {
        let finest = self.level == FINEST;
        let p = held_as(&self.cfg, self.level, pattern, &mut self.buf);
        if let Some(s) = self.map.get_mut(p) {
            s.stat.add(k);
            return finest.then_some(PatternSlot {
                epoch: self.epoch,
                index: s.slot,
            });
        }
        self.add_new(pattern, k)
    }

    #[cold]
    fn add_new(&mut self, pattern: &[u8], k: &KeyStat) -> Option<PatternSlot> {
        if self.map.len() >= self.cfg.cap {
            self.coarsen_until_fits(Some(pattern));
            return self.add(pattern, k);
        }
        let finest = self.level == FINEST;
        let p = held_as(&self.cfg, self.level, pattern, &mut self.buf);
        let slot = self.map.len() as u32;
        let mut stat = PrefixStat::default();
        stat.add(k);
        self.map.insert(p.into(), Counted { stat, slot });
        finest.then_some(PatternSlot {
            epoch: self.epoch,
            index: slot,
        })
    }

    /// Puts `stat` (of pattern `p`) in, merged with what `p` already has.
    fn put(&mut self, p: &[u8], stat: &PrefixStat) {
        match self.map.get_mut(p) {
            Some(t) => t.stat.merge(stat),
            None => {
                let slot = self.map.len() as u32;
                self.map.insert(p.into(), Counted { stat: *stat, slot });
            }
        }
    }

    /// Coarsens while the patterns held (plus `pending`, a pattern about
    /// to be added) are more than the cap.
    fn coarsen_until_fits(&mut self, pending: Option<&[u8]>) {
        let mut buf = Vec::new();
        loop {
            let pending_new = pending.is_some_and(|p| {
                coarsen(&self.cfg, p, self.level, &mut buf);
                !self.map.contains_key(&buf[..])
            });
            if self.map.len() + usize::from(pending_new) <= self.cfg.cap || self.level < 0 {
                return;
            }
            self.level -= 1;
            self.epoch = new_epoch();
            let old = std::mem::take(&mut self.map);
            for (p, s) in old {
                coarsen(&self.cfg, &p, self.level, &mut buf);
                self.put(&buf, &s.stat);
            }
        }
    }

    /// Re-cuts every pattern to `level` (coarser than the current one).
    fn coarsen_to(&mut self, level: i32) {
        if level >= self.level {
            return;
        }
        let mut buf = Vec::new();
        let old = std::mem::take(&mut self.map);
        // Coarsening the finer patterns straight to `level` equals going
        // level by level (each level is a function of the previous one)
        // as long as patterns were cut from the full pattern: cutting an
        // already-cut pattern gives the same result by construction.
        self.level = level;
        self.epoch = new_epoch();
        for (p, s) in old {
            coarsen(&self.cfg, &p, level, &mut buf);
            self.put(&buf, &s.stat);
        }
    }

    /// Folds `o` in: the coarser level of the two, then coarser while over the cap.
    pub fn merge(&mut self, mut o: PrefixAcc) {
        let level = self.level.min(o.level);
        self.coarsen_to(level);
        o.coarsen_to(level);
        // The numbering changes (the maps may swap).
        self.epoch = new_epoch();
        if self.map.len() < o.map.len() {
            std::mem::swap(&mut self.map, &mut o.map);
        }
        for (p, s) in o.map {
            self.put(&p, &s.stat);
        }
        self.coarsen_until_fits(None);
    }

    /// The patterns held and their totals, sorted by pattern.
    pub fn patterns(&self) -> Vec<(&[u8], &PrefixStat)> {
        let mut v: Vec<(&[u8], &PrefixStat)> =
            self.map.iter().map(|(p, s)| (&**p, &s.stat)).collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        v
    }

    /// The tree: every pattern counted at each of its depths.
    pub fn tree(&self) -> PrefixTree {
        let mut nodes: BTreeMap<Vec<u8>, (usize, PrefixStat)> = BTreeMap::new();
        for (p, s) in &self.map {
            let s = &s.stat;
            let mut depth = 0;
            let mut add = |end: usize, depth: usize| match nodes.get_mut(&p[..end]) {
                Some(n) => n.1.merge(s),
                None => {
                    nodes.insert(p[..end].to_vec(), (depth, *s));
                }
            };
            for (i, &b) in p.iter().enumerate() {
                if self.cfg.is_sep(b) {
                    depth += 1;
                    add(i, depth);
                }
            }
            add(p.len(), depth + 1);
        }
        let rows = nodes
            .into_iter()
            .map(|(pattern, (depth, stat))| PrefixRow {
                pattern,
                depth,
                stat,
            })
            .collect();
        PrefixTree {
            rows,
            cfg: self.cfg,
        }
    }
}

/// One node of the prefix tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixRow {
    /// The first `depth` segments of patterns (lossy UTF-8 on output).
    pub pattern: Vec<u8>,
    /// Segments.
    pub depth: usize,
    /// Totals of the keys whose pattern is this one or lies under it.
    pub stat: PrefixStat,
}

/// The prefix tree, rows sorted by pattern.
#[derive(Clone, Debug)]
pub struct PrefixTree {
    /// Every node.
    pub rows: Vec<PrefixRow>,
    cfg: PrefixConfig,
}

impl PrefixTree {
    /// Rows by (depth, memory descending, pattern): the order of `prefixes.parquet`.
    pub fn by_depth_and_memory(&self) -> Vec<&PrefixRow> {
        let mut v: Vec<&PrefixRow> = self.rows.iter().collect();
        v.sort_by(|a, b| {
            a.depth
                .cmp(&b.depth)
                .then(b.stat.memory_bytes.cmp(&a.stat.memory_bytes))
                .then_with(|| a.pattern.cmp(&b.pattern))
        });
        v
    }

    /// The `n` rows of depth `1..=max_depth` with the most memory (then
    /// shallower, then by pattern).
    pub fn top_by_memory(&self, max_depth: usize, n: usize) -> Vec<&PrefixRow> {
        let mut v: Vec<&PrefixRow> = self.rows.iter().filter(|r| r.depth <= max_depth).collect();
        v.sort_by(|a, b| {
            b.stat
                .memory_bytes
                .cmp(&a.stat.memory_bytes)
                .then(a.depth.cmp(&b.depth))
                .then_with(|| a.pattern.cmp(&b.pattern))
        });
        v.truncate(n);
        v
    }

    /// The children of `parent` (`None`: the depth-1 nodes), by memory
    /// descending then pattern.
    pub fn children(&self, parent: Option<&PrefixRow>) -> Vec<&PrefixRow> {
        let mut v: Vec<&PrefixRow> = match parent {
            None => self.rows.iter().filter(|r| r.depth == 1).collect(),
            Some(p) => self
                .rows
                .iter()
                .filter(|r| {
                    r.depth == p.depth + 1
                        && r.pattern.len() > p.pattern.len()
                        && r.pattern.starts_with(&p.pattern)
                        && self.cfg.is_sep(r.pattern[p.pattern.len()])
                })
                .collect(),
        };
        v.sort_by(|a, b| {
            b.stat
                .memory_bytes
                .cmp(&a.stat.memory_bytes)
                .then_with(|| a.pattern.cmp(&b.pattern))
        });
        v
    }
}

/// Expiry "cliffs": keys per UTC minute of their expire time, for keys
/// expiring within 30 days after the snapshot time (at most 43,200 minutes).
#[derive(Clone, Debug, Default)]
pub struct CliffAcc {
    minutes: FastMap<i64, Bucket>,
}

/// Minutes counted after "now".
pub const CLIFF_HORIZON_MS: i64 = 30 * 24 * 3_600_000;

impl CliffAcc {
    /// Counts a key expiring at `at` (ms), seen at `now` (ms).
    pub fn add(&mut self, at: i64, now: i64, memory: u64) {
        if at <= now || at - now > CLIFF_HORIZON_MS {
            return;
        }
        let b = self.minutes.entry(at.div_euclid(60_000)).or_default();
        b.keys += 1;
        b.memory_bytes += memory;
    }

    /// Folds `o` in.
    pub fn merge(&mut self, o: CliffAcc) {
        if self.minutes.len() < o.minutes.len() {
            let mine = std::mem::replace(&mut self.minutes, o.minutes);
            return self.merge(CliffAcc { minutes: mine });
        }
        for (m, b) in o.minutes {
            let t = self.minutes.entry(m).or_default();
            t.keys += b.keys;
            t.memory_bytes += b.memory_bytes;
        }
    }

    /// The `n` minutes (start, ms since the epoch) with the most keys
    /// expiring, most first (ties: more memory, then earlier).
    pub fn top(&self, n: usize) -> Vec<(i64, Bucket)> {
        let mut v: Vec<(i64, Bucket)> =
            self.minutes.iter().map(|(m, b)| (m * 60_000, *b)).collect();
        v.sort_by(|a, b| {
            b.1.keys
                .cmp(&a.1.keys)
                .then(b.1.memory_bytes.cmp(&a.1.memory_bytes))
                .then(a.0.cmp(&b.0))
        });
        v.truncate(n);
        v
    }
}

/// `2024-01-31 10:05 UTC` for a time in ms since the epoch.
pub fn utc_minute(ms: i64) -> String {
    let mins = ms.div_euclid(60_000);
    let days = mins.div_euclid(1440);
    let (h, m) = (mins.rem_euclid(1440) / 60, mins.rem_euclid(60));
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{m:02} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(key: &[u8]) -> String {
        let cfg = PrefixConfig::default();
        let mut buf = Vec::new();
        String::from_utf8_lossy(cfg.template(key, &mut buf)).into_owned()
    }

    #[test]
    fn tail_word_equals_a_zero_extended_copy() {
        let bytes = [0x81u8, 0x02, 0xf3, 0x04, 0x95, 0x06, 0xa7];
        for start in 0..bytes.len() {
            for end in start..bytes.len() {
                let rest = &bytes[start..end];
                if rest.len() >= 8 {
                    continue;
                }
                let mut w = [0u8; 8];
                w[..rest.len()].copy_from_slice(rest);
                assert_eq!(tail_word(rest), u64::from_le_bytes(w), "{rest:?}");
            }
        }
    }

    #[test]
    fn templating() {
        assert_eq!(t(b"user:1234:profile"), "user:*:profile");
        assert_eq!(t(b"user:98:profile"), "user:*:profile");
        assert_eq!(t(b"session:9f86d081884c7d65"), "session:*");
        assert_eq!(t(b"cache:item:17"), "cache:item:*");
        assert_eq!(t(b"config"), "config");
        assert_eq!(
            t(b"obj:123e4567-e89b-12d3-a456-426614174000:meta"),
            "obj:*:meta"
        );
        assert_eq!(t(b"stats:2024-01-31:hits"), "stats:*:hits");
        assert_eq!(t(b"stats:20240131"), "stats:*");
        assert_eq!(t(b"ts:1700000000123"), "ts:*");
        assert_eq!(t(b"tok:aGVsbG8gd29ybGQ9PQ"), "tok:*");
        assert_eq!(t(b"tok:k3j4h5g6"), "tok:*");
        assert_eq!(t(b"h:deadbeef"), "h:*");
        assert_eq!(t(b"h:a1b2"), "h:*");
        assert_eq!(t(b"comment:4321:reply.to"), "comment:*:reply.to");
        assert_eq!(t(b"lock:order-12345"), "lock:order-*");
        assert_eq!(t(b"api|v2|users"), "api|v2|users");
        assert_eq!(t(b"user:alice@example.com"), "user:*");
        assert_eq!(t(b"feature_flags:dark_mode"), "feature_flags:dark_mode");
        assert_eq!(t(b"face:cafe"), "face:cafe");
        assert_eq!(t(b"address2"), "address2");
        assert_eq!(t(b"12345"), "*");
        assert_eq!(t(b"a::b:"), "a::b:");
        assert_eq!(t(b""), "");
        assert_eq!(t(b"{user3}.ttl:5"), "{user3}.ttl:*");
        // Binary segments are identifiers; valid non-ASCII UTF-8 is kept.
        assert_eq!(t(b"bin:\x00\xff"), "bin:*");
        assert_eq!(t("键:名字".as_bytes()), "键:名字");
        // Depth is bounded: the 8th segment stands for the rest.
        assert_eq!(t(b"a:b:c:d:e:f:g:h:i:j"), "a:b:c:d:e:f:g:*");
        assert_eq!(t(b"a:b:c:d:e:f:g:h"), "a:b:c:d:e:f:g:h");
        let long = format!("blob:{}", "x".repeat(100));
        assert_eq!(t(long.as_bytes()), "blob:*");
        // Explicit separators.
        assert_eq!(Separators::parse("auto"), Some(Separators::Auto));
        assert_eq!(
            Separators::parse(":|"),
            Some(Separators::Chars(b":|".to_vec()))
        );
        assert_eq!(Separators::parse(""), None);
        assert_eq!(Separators::parse("*"), None);
        assert_eq!(Separators::parse("→"), None);
        let cfg = PrefixConfig::new(&Separators::Chars(b".".to_vec()), 10, 3);
        let mut buf = Vec::new();
        assert_eq!(cfg.template(b"app.users.42", &mut buf), b"app.users.*");
        assert_eq!(cfg.template(b"a:b.c", &mut buf), b"a:b.c");
    }

    fn stat(mem: u64) -> KeyStat {
        KeyStat {
            kind: Kind::String,
            memory_bytes: mem,
            rdb_bytes: 1,
            has_ttl: false,
            bucket: ExpiryBucket::NoTtl,
        }
    }

    fn keys() -> Vec<String> {
        let mut v = Vec::new();
        for i in 0..50 {
            v.push(format!("user:{i}:profile"));
            v.push(format!("user:{i}:settings"));
            v.push(format!("word{}:x", (b'a' + (i % 26) as u8) as char));
        }
        v.push("config".into());
        v
    }

    fn run(keys: &[String], cap: usize, parts: usize) -> PrefixAcc {
        let cfg = PrefixConfig::new(&Separators::Auto, cap, 3);
        let mut buf = Vec::new();
        let mut accs: Vec<PrefixAcc> = (0..parts).map(|_| PrefixAcc::new(cfg)).collect();
        for (i, k) in keys.iter().enumerate() {
            let p = cfg.template(k.as_bytes(), &mut buf).to_vec();
            accs[i % parts].add(&p, &stat(i as u64));
        }
        // Merge in an uneven order.
        let mut it = accs.into_iter().rev();
        let mut a = it.next().unwrap();
        for b in it {
            a.merge(b);
        }
        a
    }

    fn flat(a: &PrefixAcc) -> Vec<(String, usize, u64, u64)> {
        a.tree()
            .rows
            .iter()
            .map(|r| {
                (
                    String::from_utf8_lossy(&r.pattern).into_owned(),
                    r.depth,
                    r.stat.keys,
                    r.stat.memory_bytes,
                )
            })
            .collect()
    }

    #[test]
    fn tree_rows() {
        let a = run(&keys(), 1000, 1);
        assert_eq!(a.level(), MAX_DEPTH as i32);
        let rows = flat(&a);
        let get = |p: &str| rows.iter().find(|r| r.0 == p).cloned();
        assert_eq!(get("user").map(|r| (r.1, r.2)), Some((1, 100)));
        assert_eq!(get("user:*").map(|r| (r.1, r.2)), Some((2, 100)));
        assert_eq!(get("user:*:profile").map(|r| (r.1, r.2)), Some((3, 50)));
        assert_eq!(get("config").map(|r| (r.1, r.2)), Some((1, 1)));
        let total: u64 = rows.iter().filter(|r| r.1 == 1).map(|r| r.2).sum();
        assert_eq!(total, 151);
        let tree = a.tree();
        let top = tree.children(None);
        assert_eq!(top[0].pattern, b"user");
        let kids = tree.children(Some(top[0]));
        assert_eq!(kids.len(), 1);
        assert_eq!(tree.children(Some(kids[0])).len(), 2);
    }

    #[test]
    fn folding_under_a_tiny_cap() {
        let ks = keys();
        // 2 user patterns + 26 word patterns + config = 29 at full depth.
        assert_eq!(run(&ks, 29, 1).level(), MAX_DEPTH as i32);
        // Over the cap: one level coarser (depth 2: user:*, 26 words, config).
        let a = run(&ks, 28, 1);
        assert_eq!(a.level(), 2);
        assert_eq!(a.len(), 28);
        // Depth 1 has 28 patterns too: under 28, the first segment is cut
        // to 2 bytes: us*, wo*, co*.
        let a = run(&ks, 27, 1);
        assert_eq!(a.level(), 0);
        let pats: Vec<&[u8]> = a.patterns().into_iter().map(|(p, _)| p).collect();
        assert_eq!(pats, [&b"co*"[..], b"us*", b"wo*"]);
        let a = run(&ks, 2, 1);
        assert_eq!(a.level(), -1);
        assert_eq!(a.patterns()[0].1.keys, 151);
        assert_eq!(a.patterns()[0].1.memory_bytes, (0..151).sum::<u64>());
    }

    #[test]
    fn merge_equals_one_pass() {
        let ks = keys();
        for cap in [1, 2, 5, 27, 28, 29, 1000] {
            let one = flat(&run(&ks, cap, 1));
            for parts in [2, 3, 7, 151] {
                let many = run(&ks, cap, parts);
                assert_eq!(one, flat(&many), "cap {cap}, {parts} parts");
            }
        }
    }

    #[test]
    fn utc_minutes() {
        assert_eq!(utc_minute(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_minute(1_700_000_000_000), "2023-11-14 22:13 UTC");
        assert_eq!(utc_minute(951_782_400_000), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn cliffs() {
        let now = 1_700_000_000_000;
        let mut a = CliffAcc::default();
        let mut b = CliffAcc::default();
        for i in 0..10 {
            a.add(now + 120_000 + i, now, 10);
        }
        for i in 0..5 {
            b.add(now + 600_000 + i * 1000, now, 1);
        }
        b.add(now - 1, now, 1); // expired: not counted
        b.add(now + CLIFF_HORIZON_MS + 1, now, 1); // too far
        a.merge(b);
        let top = a.top(20);
        assert_eq!(top.len(), 2);
        assert_eq!(top[0].0, (now + 120_000) / 60_000 * 60_000);
        assert_eq!(top[0].1.keys, 10);
        assert_eq!(top[1].1.keys, 5);
    }
}

/// [`PrefixConfig::template`] against a frozen copy of its first,
/// straightforward implementation, on many generated keys of varied shapes.
#[cfg(test)]
mod reference_tests {
    use super::*;

    // ---- The reference: the original implementation, kept verbatim in
    // behaviour (own tables and helpers, so later changes to the module's
    // helpers cannot change it).

    struct RefConfig {
        sep: [bool; 256],
        inner: [bool; 256],
    }

    impl RefConfig {
        fn new(seps: &Separators) -> RefConfig {
            let mut sep = [false; 256];
            for &b in seps.bytes() {
                sep[b as usize] = true;
            }
            let mut inner = [false; 256];
            for &b in b"-_.@+=,# " {
                inner[b as usize] = !sep[b as usize];
            }
            RefConfig { sep, inner }
        }
    }

    const R_DIGIT: u8 = 1;
    const R_HEX_LETTER: u8 = 2;
    const R_LETTER: u8 = 4;
    const R_NUM_PUNCT: u8 = 8;
    const R_TOK_PUNCT: u8 = 16;
    const R_ODD: u8 = 32;

    fn r_class(b: u8) -> u8 {
        let mut c = if b.is_ascii_digit() {
            R_DIGIT
        } else if b.is_ascii_hexdigit() {
            R_HEX_LETTER | R_LETTER
        } else if b.is_ascii_alphabetic() {
            R_LETTER
        } else if !(0x20..0x7f).contains(&b) {
            R_ODD
        } else {
            0
        };
        if b"-._+,TZ".contains(&b) {
            c |= R_NUM_PUNCT;
        }
        if b"+/=".contains(&b) {
            c |= R_TOK_PUNCT;
        }
        c
    }

    #[derive(Default)]
    struct RShape {
        digits: usize,
        letters: usize,
        any: u8,
        numeric: usize,
        hex: usize,
        token: usize,
        switches: usize,
    }

    fn r_shape(t: &[u8]) -> RShape {
        let mut s = RShape::default();
        let mut prev_digit = None;
        for &b in t {
            let c = r_class(b);
            s.any |= c;
            let digit = c & R_DIGIT != 0;
            s.digits += usize::from(digit);
            s.letters += usize::from(c & R_LETTER != 0);
            s.numeric += usize::from(c & (R_DIGIT | R_NUM_PUNCT) != 0);
            s.hex += usize::from(c & (R_DIGIT | R_HEX_LETTER) != 0);
            s.token += usize::from(c & (R_DIGIT | R_LETTER | R_TOK_PUNCT) != 0);
            if c & (R_DIGIT | R_LETTER) != 0 {
                s.switches += usize::from(prev_digit.is_some_and(|p| p != digit));
                prev_digit = Some(digit);
            }
        }
        s
    }

    fn r_is_identifier(t: &[u8]) -> bool {
        !t.is_empty() && r_shape_is_identifier(t, &r_shape(t))
    }

    fn r_shape_is_identifier(t: &[u8], s: &RShape) -> bool {
        let n = t.len();
        if s.digits > 0
            && s.numeric == n
            && s.digits >= n - s.digits
            && (t[0].is_ascii_digit() || t[0] == b'-')
        {
            return true;
        }
        if s.hex == n && (n >= 8 || (n >= 4 && s.digits > 0 && s.letters > 0)) {
            return true;
        }
        if s.digits > 0 && s.letters > 0 && s.token == n && (n >= 12 || (n >= 8 && s.switches >= 3))
        {
            return true;
        }
        n == 36
            && t.iter().enumerate().all(|(i, &b)| match i {
                8 | 13 | 18 | 23 => b == b'-',
                _ => b.is_ascii_hexdigit(),
            })
    }

    fn r_is_email(t: &[u8]) -> bool {
        t.iter()
            .position(|&b| b == b'@')
            .is_some_and(|p| p > 0 && p + 1 < t.len())
    }

    fn r_is_binary(t: &[u8], s: &RShape) -> bool {
        s.any & R_ODD != 0
            && (t.iter().any(|&b| b < 0x20 || b == 0x7f) || std::str::from_utf8(t).is_err())
    }

    fn r_template_segment(cfg: &RefConfig, seg: &[u8], out: &mut Vec<u8>) {
        if seg.is_empty() {
            return;
        }
        if seg.len() <= MAX_SEGMENT_BYTES {
            if seg.iter().all(u8::is_ascii_alphabetic) {
                if seg.len() >= 8 && seg.iter().all(u8::is_ascii_hexdigit) {
                    out.push(b'*');
                } else {
                    out.extend_from_slice(seg);
                }
                return;
            }
            if seg.iter().all(u8::is_ascii_digit) {
                out.push(b'*');
                return;
            }
        }
        let sh = r_shape(seg);
        if seg.len() > MAX_SEGMENT_BYTES
            || r_shape_is_identifier(seg, &sh)
            || r_is_binary(seg, &sh)
            || r_is_email(seg)
        {
            out.push(b'*');
            return;
        }
        if !seg.iter().any(|&b| cfg.inner[b as usize]) {
            out.extend_from_slice(seg);
            return;
        }
        let mark = out.len();
        let mut all_ids = true;
        let mut any_part = false;
        let mut start = 0;
        for i in 0..=seg.len() {
            if i < seg.len() && !cfg.inner[seg[i] as usize] {
                continue;
            }
            let part = &seg[start..i];
            if !part.is_empty() {
                any_part = true;
                if r_is_identifier(part) {
                    out.push(b'*');
                } else {
                    all_ids = false;
                    out.extend_from_slice(part);
                }
            }
            if i < seg.len() {
                out.push(seg[i]);
            }
            start = i + 1;
        }
        if all_ids && any_part {
            out.truncate(mark);
            out.push(b'*');
        }
    }

    fn reference_template(cfg: &RefConfig, key: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut start = 0;
        let mut depth = 0;
        loop {
            let end = key[start..]
                .iter()
                .position(|&b| cfg.sep[b as usize])
                .map_or(key.len(), |p| start + p);
            depth += 1;
            if depth == MAX_DEPTH && end < key.len() {
                out.push(b'*');
                break;
            }
            r_template_segment(cfg, &key[start..end], &mut out);
            if end >= key.len() {
                break;
            }
            out.push(key[end]);
            start = end + 1;
        }
        out
    }

    // ---- A deterministic generator of keys.

    use crate::testutil::Rng;

    const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
    const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const DIGITS: &[u8] = b"0123456789";
    const HEX: &[u8] = b"0123456789abcdef";
    const HEX_UPPER: &[u8] = b"0123456789ABCDEF";
    const HEX_LETTERS: &[u8] = b"abcdefABCDEF";
    const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
    /// Bytes that sit on the edges of the rules.
    const TRICKY: &[u8] = b"aAfFgGzZtTxX09-_.@+=,# :|/{}[]*!~\t\x00\x7f\x80\xc3\xa9\xff";

    fn len(r: &mut Rng) -> usize {
        match r.below(10) {
            0 => r.below(3),
            1..=6 => 1 + r.below(14),
            7 | 8 => 8 + r.below(30),
            _ => 60 + r.below(10),
        }
    }

    /// One segment (it may contain separators or inner bytes itself).
    fn segment(r: &mut Rng) -> Vec<u8> {
        let n = len(r);
        match r.below(24) {
            0 => Vec::new(),
            1 => r.chars(LOWER, n),
            2 => r.chars(ALPHA, n),
            3 => r.chars(DIGITS, n),
            4 => r.chars(HEX, n),
            5 => r.chars(HEX_UPPER, n),
            6 => r.chars(HEX_LETTERS, n),
            7 => r.chars(ALNUM, n),
            8 => r.chars(B64, n),
            9 => r.chars(TRICKY, n),
            10 => (0..n).map(|_| r.next() as u8).collect(),
            11 => {
                let h = r.chars(HEX, 32);
                let mut u = Vec::new();
                for (i, b) in h.into_iter().enumerate() {
                    if [8, 12, 16, 20].contains(&i) {
                        u.push(b'-');
                    }
                    u.push(b);
                }
                if r.below(4) == 0 {
                    let i = r.below(u.len());
                    u[i] = r.pick(TRICKY);
                }
                u
            }
            12 => {
                let (a, b) = (r.below(8), r.below(8));
                let mut e = r.chars(LOWER, a);
                e.push(b'@');
                e.extend(r.chars(LOWER, b));
                if r.below(2) == 0 {
                    e.extend_from_slice(b".com");
                }
                e
            }
            13 => format!(
                "{:04}-{:02}-{:02}{}",
                r.below(3000),
                r.below(13),
                r.below(32),
                ["", "T10:00Z", "T10", " 10.5"][r.below(4)]
            )
            .into_bytes(),
            14 => format!("{}.{}", r.below(1000), r.below(100_000)).into_bytes(),
            15 => format!(
                "{}.{}.{}.{}",
                r.below(256),
                r.below(256),
                r.below(256),
                r.below(256)
            )
            .into_bytes(),
            16 => {
                // Alternating letters and digits (k3j4h5g6).
                (0..n)
                    .map(|i| {
                        if (i + r.below(2)).is_multiple_of(2) {
                            r.pick(LOWER)
                        } else {
                            r.pick(DIGITS)
                        }
                    })
                    .collect()
            }
            17 => {
                // Words and ids joined by inner bytes.
                let parts = 1 + r.below(4);
                let mut v = Vec::new();
                for i in 0..parts {
                    if i > 0 {
                        v.push(r.pick(b"-_.@+=,# "));
                    }
                    let m = len(r) % 16;
                    let set: &[u8] = [LOWER, DIGITS, HEX, ALNUM, TRICKY][r.below(5)];
                    v.extend(r.chars(set, m));
                }
                v
            }
            18 => "名字é".repeat(1 + r.below(30)).into_bytes(),
            19 => {
                // A word with a digit or a T/Z somewhere.
                let mut v = r.chars(LOWER, n.max(1));
                let i = r.below(v.len());
                v[i] = r.pick(b"0123456789TZ");
                v
            }
            20 => {
                // Digits with a letter or punctuation somewhere.
                let mut v = r.chars(DIGITS, n.max(1));
                let i = r.below(v.len());
                v[i] = r.pick(b"TZaxf-._+,/=@ ");
                v
            }
            21 => {
                // Lengths around the limits.
                let m = [3, 4, 7, 8, 11, 12, 35, 36, 37, 63, 64, 65, 200][r.below(13)];
                let set: &[u8] = [LOWER, DIGITS, HEX, HEX_LETTERS, ALNUM, B64][r.below(6)];
                r.chars(set, m)
            }
            22 => r.chars(b"0123456789-._+,TZ", n),
            _ => {
                let w = [
                    "user",
                    "session",
                    "cache",
                    "item",
                    "profile",
                    "page",
                    "html",
                    "order",
                    "reply.to",
                    "v2",
                    "api",
                    "feature_flags",
                    "dark_mode",
                    "{user3}",
                    "face",
                    "deadbeef",
                    "cafe",
                    "T",
                    "Z",
                    "-1",
                    "-",
                    "@",
                    "a@b",
                ];
                w[r.below(w.len())].as_bytes().to_vec()
            }
        }
    }

    fn key(r: &mut Rng, seps: &[u8]) -> Vec<u8> {
        let segs = match r.below(10) {
            0 => 1,
            1..=7 => 1 + r.below(4),
            _ => 1 + r.below(12),
        };
        let mut k = Vec::new();
        for i in 0..segs {
            if i > 0 {
                k.push(r.pick(seps));
            }
            k.extend(segment(r));
        }
        k
    }

    #[test]
    fn template_matches_the_reference() {
        let configs = [
            Separators::Auto,
            Separators::Chars(b":".to_vec()),
            Separators::Chars(b".".to_vec()),
            Separators::Chars(b"-_".to_vec()),
            Separators::Chars(b" @#".to_vec()),
            Separators::Chars(b"a0".to_vec()),
            Separators::Chars(b"\x00\x7f".to_vec()),
        ];
        let mut r = Rng(42);
        let mut out = Vec::new();
        for seps in &configs {
            let cfg = PrefixConfig::new(seps, DEFAULT_CAP, 3);
            let reference = RefConfig::new(seps);
            let mut sep_bytes = seps.bytes().to_vec();
            // Keys split on the config's separators and on others.
            sep_bytes.extend_from_slice(b":|/.");
            for i in 0..60_000 {
                let k = if i % 3 == 0 {
                    key(&mut r, seps.bytes())
                } else {
                    key(&mut r, &sep_bytes)
                };
                let want = reference_template(&reference, &k);
                let got = cfg.template(&k, &mut out);
                assert!(
                    got == want,
                    "{seps:?} key {:?}: got {:?}, want {:?}",
                    String::from_utf8_lossy(&k),
                    String::from_utf8_lossy(got),
                    String::from_utf8_lossy(&want),
                );
            }
        }
        // Every single byte and every pair, alone and between separators.
        let cfg = PrefixConfig::default();
        let reference = RefConfig::new(&Separators::Auto);
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                for k in [vec![a], vec![a, b], vec![b'x', b':', a, b, b'1', b'2']] {
                    let want = reference_template(&reference, &k);
                    assert_eq!(cfg.template(&k, &mut out), &want[..], "{k:?}");
                }
            }
        }
    }
}
