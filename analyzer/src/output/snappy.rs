//! Snappy for pages of keys, matched key by key.
//!
//! Hand-written because it measured about half the cost of a general
//! Snappy encoder on the key pages (1.40 GiB/s against 0.60 GiB/s in
//! `cargo bench --bench analyze -- key_pages`; see `benches/RESULTS.md`).
//!
//! The key column of `keys.parquet` is `PLAIN`: each key is a 4-byte
//! length and its bytes. A general Snappy encoder hashes every byte of
//! that in search of repeats; on the benchmark file it was 14 % of a
//! whole run's time, the costliest step after the fold itself. Yet what
//! repeats in keys is their template: `user:` and `:profile` come back,
//! the ids between them do not. So [`KeyPageSnappy`] looks once per key:
//! it pairs the key with the latest earlier key of the same length and
//! first four bytes, and copies their common start and common end from
//! it; whatever lies between is a literal. A key that ends as the paired
//! key ends, followed by one that starts as the key after the pair did,
//! extends one copy across both.
//!
//! That costs about half as much per page and keeps most of the ratio
//! (1.73 against Snappy's 1.89 on the benchmark file's keys: ids that
//! share four digits with an earlier id are left as literals). The output
//! is an ordinary Snappy block (literals, and copies with 1- or 2-byte
//! offsets, never more than 65 535 back) that any reader decodes. Every
//! copy is checked byte for byte, so any input, records or not, comes
//! back exactly.

/// Bits of the table of earlier keys (4096 entries, 16 KiB: it stays in
/// the L1 cache).
const TABLE_BITS: u32 = 12;
/// Farthest back a copy reaches (a 2-byte offset).
const MAX_OFFSET: usize = u16::MAX as usize;
/// Shortest copy worth its tag.
const MIN_COPY: usize = 4;

/// A page compressor, reused page after page (it keeps its table).
pub struct KeyPageSnappy {
    /// Per hash of a key's length and first bytes: the position of the
    /// latest such key in the page, plus one (0: none yet).
    table: Box<[u32; 1 << TABLE_BITS]>,
}

impl Default for KeyPageSnappy {
    fn default() -> KeyPageSnappy {
        KeyPageSnappy::new()
    }
}

impl std::fmt::Debug for KeyPageSnappy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPageSnappy").finish_non_exhaustive()
    }
}

/// The most bytes [`KeyPageSnappy::compress`] writes for `n` input bytes
/// (Snappy's own bound).
pub fn max_compressed_len(n: usize) -> usize {
    32 + n + n / 6
}

impl KeyPageSnappy {
    /// A compressor with an empty table.
    pub fn new() -> KeyPageSnappy {
        KeyPageSnappy {
            table: Box::new([0; 1 << TABLE_BITS]),
        }
    }

    /// Writes `page` as one raw Snappy block to the start of `out`, and
    /// returns its length. `out` is grown to [`max_compressed_len`] plus
    /// 16 bytes if shorter (never shrunk: bytes past the block are
    /// scratch). `page` should be `PLAIN` byte arrays (a little-endian
    /// `u32` length, then that many bytes, repeated); bytes that are not
    /// are stored as literals. Pages of 4 GiB or more are stored whole as
    /// literals.
    pub fn compress(&mut self, page: &[u8], out: &mut Vec<u8>) -> usize {
        let room = max_compressed_len(page.len()) + 16;
        if out.len() < room {
            out.resize(room, 0);
        }
        let mut block = Block { buf: out, len: 0 };
        let mut n = page.len() as u64;
        while n >= 0x80 {
            block.push(n as u8 | 0x80);
            n >>= 7;
        }
        block.push(n as u8);
        if u32::try_from(page.len()).is_err() {
            block.literal(page, 0, page.len());
            return block.len;
        }
        self.table.fill(0);
        let mut e = Emitter {
            out: block,
            literal_from: 0,
            copy_offset: 0,
            copy_len: 0,
        };
        let mut at = 0;
        while let Some(head) = page.get(at..at + 4) {
            let key_len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
            let record = 4 + key_len;
            let Some(end) = at.checked_add(record).filter(|&end| end <= page.len()) else {
                break;
            };
            let slot = &mut self.table[signature(page, at, key_len)];
            let earlier = *slot as usize;
            *slot = at as u32 + 1;
            // The key after the one the open copy came from may go on
            // matching: then the copy simply grows.
            let (mut offset, mut start) = (0, 0);
            if e.copy_len != 0 && e.literal_from == at {
                let n = common_prefix(page, at - e.copy_offset, at, record);
                if n >= MIN_COPY {
                    (offset, start) = (e.copy_offset, n);
                }
            }
            if start < 8 && earlier != 0 && at + 1 - earlier <= MAX_OFFSET {
                let from = earlier - 1;
                let n = common_prefix(page, from, at, record);
                if n > start {
                    (offset, start) = (at - from, n);
                }
            }
            if start >= MIN_COPY {
                e.copy(page, at, offset, start);
                let tail = common_suffix(page, end - offset, end, record - start);
                if tail >= MIN_COPY {
                    e.copy(page, end - tail, offset, tail);
                }
            }
            at = end;
        }
        e.end_copy();
        e.literal_upto(page, page.len());
        e.out.len
    }
}

/// Index into the table for the record at `at`: a hash of its length
/// and up to four bytes of its key.
#[inline(always)]
fn signature(page: &[u8], at: usize, key_len: usize) -> usize {
    let mut w = [0u8; 8];
    let take = (4 + key_len.min(4)).min(page.len() - at);
    w[..take].copy_from_slice(&page[at..at + take]);
    let v = u64::from_le_bytes(w);
    (v.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - TABLE_BITS)) as usize
}

#[inline(always)]
fn word(page: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&page[at..at + 8]);
    u64::from_le_bytes(w)
}

/// How many bytes from `a` and from `b` agree (at most `max`; `b +
/// max` within the page, `a < b`).
#[inline(always)]
fn common_prefix(page: &[u8], a: usize, b: usize, max: usize) -> usize {
    let mut n = 0;
    while n + 8 <= max {
        let x = word(page, a + n) ^ word(page, b + n);
        if x != 0 {
            return n + (x.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    while n < max && page[a + n] == page[b + n] {
        n += 1;
    }
    n
}

/// How many bytes before `a_end` and before `b_end` agree (at most
/// `max`; `a_end - max` within the page).
#[inline(always)]
fn common_suffix(page: &[u8], a_end: usize, b_end: usize, max: usize) -> usize {
    let mut n = 0;
    while n + 8 <= max {
        let x = word(page, a_end - n - 8) ^ word(page, b_end - n - 8);
        if x != 0 {
            return n + (x.leading_zeros() / 8) as usize;
        }
        n += 8;
    }
    while n < max && page[a_end - 1 - n] == page[b_end - 1 - n] {
        n += 1;
    }
    n
}

/// Writes the block's elements: a literal is flushed when a copy starts,
/// and the open copy is held so that the next one can extend it.
struct Emitter<'a> {
    out: Block<'a>,
    /// Where the bytes not yet written start.
    literal_from: usize,
    /// The open copy's offset and length (0: none); it ends where the
    /// bytes not yet written start.
    copy_offset: usize,
    copy_len: usize,
}

impl Emitter<'_> {
    /// Copies `len` bytes at `at` from `offset` back: the open copy grows
    /// if it ends at `at` with the same offset.
    #[inline(always)]
    fn copy(&mut self, page: &[u8], at: usize, offset: usize, len: usize) {
        if self.copy_len != 0 && self.copy_offset == offset && self.literal_from == at {
            self.copy_len += len;
        } else {
            self.end_copy();
            self.literal_upto(page, at);
            self.copy_offset = offset;
            self.copy_len = len;
        }
        self.literal_from = at + len;
    }

    /// Writes the bytes not yet written, up to `upto`, as a literal.
    #[inline(always)]
    fn literal_upto(&mut self, page: &[u8], upto: usize) {
        self.out.literal(page, self.literal_from, upto);
        self.literal_from = upto;
    }

    /// Writes the open copy, if any.
    #[inline(always)]
    fn end_copy(&mut self) {
        if self.copy_len != 0 {
            self.out.copy(self.copy_offset, self.copy_len);
            self.copy_offset = 0;
            self.copy_len = 0;
        }
    }
}

/// The block being written: a buffer with room for the worst case (see
/// [`max_compressed_len`]) plus 16 bytes, and how much of it is used.
struct Block<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Block<'_> {
    #[inline(always)]
    fn push(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// A literal element of `page[from..upto]` (none for no bytes).
    #[inline(always)]
    fn literal(&mut self, page: &[u8], from: usize, upto: usize) {
        let Some(n) = (upto - from).checked_sub(1) else {
            return;
        };
        if n < 16 && from + 16 <= page.len() {
            // Most literals are a key's id: copy a fixed 16 bytes (the
            // room allows it; the excess is overwritten or past the end).
            self.buf[self.len] = (n as u8) << 2;
            let at = self.len + 1;
            self.buf[at..at + 16].copy_from_slice(&page[from..from + 16]);
            self.len = at + n + 1;
            return;
        }
        if n < 60 {
            self.push((n as u8) << 2);
        } else {
            let extra = (64 - (n as u64).leading_zeros()).div_ceil(8) as usize;
            self.push(((59 + extra) as u8) << 2);
            self.put(&(n as u64).to_le_bytes()[..extra]);
        }
        self.put(&page[from..upto]);
    }

    /// Copy elements for `len` bytes (at least [`MIN_COPY`]) from
    /// `offset` back (at most [`MAX_OFFSET`]).
    #[inline(always)]
    fn copy(&mut self, offset: usize, mut len: usize) {
        while len >= 68 {
            self.copy_2(offset, 64);
            len -= 64;
        }
        if len > 64 {
            self.copy_2(offset, 60);
            len -= 60;
        }
        if len < 12 && offset < 2048 {
            self.push(((offset >> 8) as u8) << 5 | ((len - 4) as u8) << 2 | 1);
            self.push(offset as u8);
        } else {
            self.copy_2(offset, len);
        }
    }

    #[inline(always)]
    fn copy_2(&mut self, offset: usize, len: usize) {
        self.push(((len - 1) as u8) << 2 | 2);
        self.put(&(offset as u16).to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain<K: AsRef<[u8]>>(keys: &[K]) -> Vec<u8> {
        let mut page = Vec::new();
        for k in keys {
            let k = k.as_ref();
            page.extend_from_slice(&(k.len() as u32).to_le_bytes());
            page.extend_from_slice(k);
        }
        page
    }

    /// Compresses `page` and decodes it with an independent decoder.
    fn round_trip(page: &[u8]) -> usize {
        // Scratch left from a bigger page must not matter.
        let mut out = vec![0xa5; 1 << 20];
        let n = KeyPageSnappy::new().compress(page, &mut out);
        assert!(n <= max_compressed_len(page.len()));
        let back = snap::raw::Decoder::new()
            .decompress_vec(&out[..n])
            .expect("a valid Snappy block");
        assert_eq!(back, page, "page of {} bytes", page.len());
        n
    }

    use crate::testutil::Rng;

    fn templated(n: usize, seed: u64) -> Vec<Vec<u8>> {
        let mut r = Rng(seed);
        (0..n)
            .map(|_| match r.below(5) {
                0 => format!("user:{}:profile", r.below(500_000)).into_bytes(),
                1 => format!("login:{:015x}", r.next() >> 4).into_bytes(),
                2 => format!("queue:{}", r.below(1_000_000)).into_bytes(),
                3 => format!(
                    "cache|item/{}/2026-11-{:02}",
                    r.below(9999),
                    r.below(28) + 1
                )
                .into_bytes(),
                _ => format!("followers:{}", r.below(200_000)).into_bytes(),
            })
            .collect()
    }

    #[test]
    fn templated_keys_come_back_and_shrink() {
        let page = plain(&templated(16 * 1024, 7));
        let n = round_trip(&page);
        // Templates repeat; ids do not: well under the input, but not
        // magic.
        assert!(n * 10 < page.len() * 7, "{n} of {}", page.len());
        assert!(n * 10 > page.len() * 3, "{n} of {}", page.len());
    }

    #[test]
    fn short_empty_and_repeated_keys_come_back() {
        round_trip(&[]);
        round_trip(&plain(&[b"".as_slice()]));
        round_trip(&plain(&[
            b"a".as_slice(),
            b"",
            b"ab",
            b"abc",
            b"abcd",
            b"a",
            b"",
            b"ab",
        ]));
        round_trip(&plain(&vec![b"same-key".as_slice(); 1000]));
        round_trip(&plain(&vec![b"abc".as_slice(); 1000]));
        // Every key equal: one long copy, in 64-byte elements of 3 bytes.
        let page = plain(&vec![b"k".as_slice(); 10_000]);
        let n = round_trip(&page);
        assert!(n < page.len() / 20, "{n}");
    }

    #[test]
    fn long_keys_need_long_literals_and_copies() {
        let mut r = Rng(3);
        let big: Vec<u8> = (0..70_000).map(|_| r.next() as u8).collect();
        let mid: Vec<u8> = (0..300).map(|_| r.next() as u8).collect();
        let mut other = big.clone();
        other[35_000] ^= 1;
        round_trip(&plain(&[&big, &mid, &big, &other, &mid, &mid]));
        // Over 2^16 and 2^24 bytes of literal.
        let huge: Vec<u8> = (0..(1 << 24) + 10).map(|_| r.next() as u8).collect();
        round_trip(&plain(&[&huge]));
    }

    #[test]
    fn pairs_farther_than_a_copy_reaches_are_left_alone() {
        // The second "far" key is more than 65535 bytes after the first.
        let mut r = Rng(11);
        let filler: Vec<u8> = (0..70_000).map(|_| r.next() as u8).collect();
        let page = plain(&[b"far:key:1".as_slice(), &filler, b"far:key:1"]);
        round_trip(&page);
    }

    #[test]
    fn bytes_that_are_not_records_come_back() {
        let mut r = Rng(5);
        for len in [1, 3, 4, 5, 7, 8, 9, 100, 4096] {
            let noise: Vec<u8> = (0..len).map(|_| r.next() as u8).collect();
            round_trip(&noise);
            // Small lengths, so that some records parse and some run out.
            let small: Vec<u8> = (0..len).map(|_| (r.next() % 6) as u8).collect();
            round_trip(&small);
        }
        // Records, then a length that runs past the end.
        let mut page = plain(&templated(100, 9));
        page.extend_from_slice(&[200, 0, 0, 0, b'x', b'y']);
        round_trip(&page);
    }

    #[test]
    fn random_pages_come_back() {
        let mut r = Rng(99);
        for seed in 1..200 {
            let n = r.below(300);
            let mut keys = templated(n, seed);
            // Mix in exact repeats and near-repeats of earlier keys.
            for i in 0..keys.len() {
                if r.below(4) == 0 && i > 0 {
                    let j = r.below(i);
                    let mut k = keys[j].clone();
                    if !k.is_empty() && r.below(2) == 0 {
                        let p = r.below(k.len());
                        k[p] ^= 1;
                    }
                    keys[i] = k;
                }
            }
            round_trip(&plain(&keys));
        }
    }
}
