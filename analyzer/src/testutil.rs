//! Test helpers: hand-built RDB files (version 9, checksum disabled), temp
//! directories and deterministic generators.

/// Builds an RDB file record by record.
pub(crate) struct RdbBuilder {
    buf: Vec<u8>,
}

fn len(out: &mut Vec<u8>, n: usize) {
    if n < 64 {
        out.push(n as u8);
    } else if n < 16384 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn string(out: &mut Vec<u8>, s: &[u8]) {
    len(out, s.len());
    out.extend_from_slice(s);
}

impl RdbBuilder {
    pub(crate) fn new() -> RdbBuilder {
        RdbBuilder {
            buf: b"REDIS0009".to_vec(),
        }
    }

    pub(crate) fn aux(mut self, k: &str, v: &str) -> Self {
        self.buf.push(0xfa);
        string(&mut self.buf, k.as_bytes());
        string(&mut self.buf, v.as_bytes());
        self
    }

    pub(crate) fn db(mut self, db: usize) -> Self {
        self.buf.push(0xfe);
        len(&mut self.buf, db);
        self
    }

    pub(crate) fn expire_ms(mut self, at: i64) -> Self {
        self.buf.push(0xfc);
        self.buf.extend_from_slice(&at.to_le_bytes());
        self
    }

    pub(crate) fn string(mut self, k: &[u8], v: &[u8]) -> Self {
        self.buf.push(0);
        string(&mut self.buf, k);
        string(&mut self.buf, v);
        self
    }

    /// A type-1 list (or type-2 set) of plain strings.
    pub(crate) fn list_or_set(mut self, type_byte: u8, k: &[u8], items: &[&[u8]]) -> Self {
        self.buf.push(type_byte);
        string(&mut self.buf, k);
        len(&mut self.buf, items.len());
        for i in items {
            string(&mut self.buf, i);
        }
        self
    }

    /// A type-4 hash.
    pub(crate) fn hash(mut self, k: &[u8], pairs: &[(&[u8], &[u8])]) -> Self {
        self.buf.push(4);
        string(&mut self.buf, k);
        len(&mut self.buf, pairs.len());
        for (f, v) in pairs {
            string(&mut self.buf, f);
            string(&mut self.buf, v);
        }
        self
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.buf.push(0xff);
        self.buf.extend_from_slice(&[0; 8]);
        self.buf
    }
}

/// A fresh directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(pub(crate) std::path::PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "analyzer-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A small file: 2 databases, strings (int, embstr, raw, big), a list, a
/// set of integers, a hash, keys with TTLs (one expired at ctime).
pub(crate) fn sample() -> Vec<u8> {
    let big = vec![b'x'; 200 * 1024];
    let ctime_s = 1_700_000_000i64;
    RdbBuilder::new()
        .aux("redis-ver", "7.0.15")
        .aux("ctime", &ctime_s.to_string())
        .aux("used-mem", "1000000")
        .db(0)
        .string(b"int", b"12345")
        .string(b"short", b"hello")
        .string(b"long", &[b'y'; 100])
        .string(b"big", &big)
        .expire_ms(ctime_s * 1000 + 60_000)
        .string(b"ttl:soon", b"v")
        .expire_ms(ctime_s * 1000 - 1)
        .string(b"ttl:gone", b"v")
        .list_or_set(1, b"list", &[b"a", b"b", b"c"])
        .list_or_set(2, b"set", &[b"1", b"2", b"3", b"4"])
        .hash(b"hash", &[(b"f1", b"v1"), (b"f2", b"v2")])
        .db(3)
        .string(b"{user1000}.following", b"x")
        .expire_ms(ctime_s * 1000 + 40 * 86_400_000)
        .string(b"other-db", b"y")
        .finish()
}

/// A deterministic generator (SplitMix64): the same data on every run.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (not 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// One byte of `from`.
    pub(crate) fn pick(&mut self, from: &[u8]) -> u8 {
        from[self.below(from.len())]
    }

    /// `len` bytes of `from`.
    pub(crate) fn chars(&mut self, from: &[u8], len: usize) -> Vec<u8> {
        (0..len).map(|_| self.pick(from)).collect()
    }
}

/// A deterministic pseudo-random sequence (a 64-bit LCG, its high bits
/// folded down): the encoders' tests draw their values from it.
pub(crate) struct Lcg(pub(crate) u64);

impl Lcg {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 ^ (self.0 >> 29)
    }
}
