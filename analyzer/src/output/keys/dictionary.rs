//! A row group's dictionary of one text column, found by a hash of the
//! bytes and stored as the dictionary page wants it.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::words::tail_word;

/// A fast hash of a short byte string (dictionary lookups of patterns):
/// eight bytes per multiply.
fn hash_bytes(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("eight bytes"));
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        h = (h.rotate_left(5) ^ tail_word(rest)).wrapping_mul(K);
    }
    h ^ (h >> 29)
}

/// Hashes a `u64` that already is a hash to itself.
#[derive(Default)]
struct NoHash(u64);

impl Hasher for NoHash {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A row group's dictionary of one text column. Entries are stored once,
/// plain-encoded as the dictionary page wants them, and found by a 64-bit
/// hash of their bytes, then compared with the stored copy.
#[derive(Default)]
pub(super) struct Dictionary {
    pub(super) plain: Vec<u8>,
    /// Where each entry's bytes are in `plain`.
    spans: Vec<(u32, u32)>,
    /// Entry ids by hash: entries stored as given (valid UTF-8), the first
    /// one of each hash.
    by_hash: HashMap<u64, u32, BuildHasherDefault<NoHash>>,
    /// The other entries (UTF-8 repaired, or their hash taken), by their
    /// bytes as given.
    others: HashMap<Box<[u8]>, u32>,
}

impl Dictionary {
    pub(super) fn len(&self) -> u32 {
        self.spans.len() as u32
    }

    /// The id of `v`, added if new.
    #[inline]
    pub(super) fn id(&mut self, v: &[u8]) -> u32 {
        let h = hash_bytes(v);
        if let Some(&id) = self.by_hash.get(&h) {
            let (start, len) = self.spans[id as usize];
            if self.plain.get(start as usize..(start + len) as usize) == Some(v) {
                return id;
            }
        }
        self.id_slow(v, h)
    }

    #[cold]
    fn id_slow(&mut self, v: &[u8], h: u64) -> u32 {
        if let Some(&id) = self.others.get(v) {
            return id;
        }
        let id = self.len();
        let text = String::from_utf8_lossy(v);
        self.plain
            .extend_from_slice(&(text.len() as u32).to_le_bytes());
        let start = self.plain.len() as u32;
        self.plain.extend_from_slice(text.as_bytes());
        self.spans.push((start, text.len() as u32));
        let as_given = matches!(text, std::borrow::Cow::Borrowed(_));
        if as_given && !self.by_hash.contains_key(&h) {
            self.by_hash.insert(h, id);
        } else {
            self.others.insert(v.into(), id);
        }
        id
    }

    pub(super) fn clear(&mut self) {
        self.plain.clear();
        self.spans.clear();
        self.by_hash.clear();
        self.others.clear();
    }
}
