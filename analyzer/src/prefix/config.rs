//! Separator detection: how keys are split into segments
//! ([`Separators`]), and [`PrefixConfig`]'s byte table, which finds a
//! segment's end and the character classes its bytes lack in one pass.

/// Most segments a pattern keeps.
pub const MAX_DEPTH: usize = 8;
/// Segments longer than this are split on `.`/`-`/`_` further, to a bounded length.
pub const MAX_SEGMENT_BYTES: usize = 64;
/// Default cap on distinct patterns ([`PrefixConfig::cap`]).
pub const DEFAULT_CAP: usize = 100_000;

/// What the terminal report and report.html say when `summary.json`'s
/// `prefix_cut_by_memory` is true: a worker passed the memory bound (8 ×
/// `--prefix-cap` patterns) before the whole file was seen.
pub const CUT_BY_MEMORY_NOTE: &str = "patterns were cut by the memory bound (a worker held 8 x \
     --prefix-cap patterns before the whole file was seen), so the cut may depend on --threads \
     and key order; a higher --prefix-cap avoids it";

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

    pub(super) fn bytes(&self) -> &[u8] {
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
    pub(super) fast: [u8; 256],
    pub(super) inner: [bool; 256],
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

    pub(super) fn is_sep(&self, b: u8) -> bool {
        self.fast[b as usize] & F_SEP != 0
    }

    /// The end of the segment starting at `start` (the next separator or
    /// the end of the key), and the `F_*` classes some of its bytes lack.
    #[inline(always)]
    pub(super) fn scan(&self, key: &[u8], start: usize) -> (usize, u8) {
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

/// Classes of [`PrefixConfig::template`]'s one pass: ASCII digit, letter,
/// hex digit, letter or digit. [`PrefixConfig`]'s table holds the classes
/// a byte does *not* have (so that OR-ing a segment's entries tells the
/// classes some byte lacks), or [`F_SEP`] alone for a separator.
pub(super) const F_DIGIT: u8 = 1;
pub(super) const F_LETTER: u8 = 2;
pub(super) const F_HEX: u8 = 4;
pub(super) const F_ALNUM: u8 = 8;
const F_CLASSES: u8 = F_DIGIT | F_LETTER | F_HEX | F_ALNUM;
const F_SEP: u8 = 16;
