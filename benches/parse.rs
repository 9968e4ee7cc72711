//! Micro-benchmarks of the RDB parser's hot paths (criterion).
//!
//!     cargo bench --bench parse                     # all
//!     cargo bench --bench parse -- listpack         # a group
//!     RDBSCOPE_BENCH_RDB=path/to/big.rdb cargo bench --bench parse -- records
//!
//! Inputs: testdata/sample.rdb (shipped; ~2,600 keys of every type), byte
//! strings built here (lengths, integer strings, listpacks, ziplists) and the
//! LZF strings found in sample.rdb. Only the public API of `rdb_parser` is used.
//! With RDBSCOPE_BENCH_RDB set (e.g. a file that benches/whole-file.sh cached in
//! testdata/cache/bench/), the record-level benches also run over that file.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rdb_parser::{
    lzf_decompress, Cursor, Element, Listpack, Rdb, RdbString, Record, Scalar, Scratch, Ziplist,
};
use std::hint::black_box;

// ---------------------------------------------------------------------------
// Inputs

/// A deterministic xorshift generator (no extra dependency).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// RDB length encoding (`rdbSaveLen`).
fn put_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
    } else if n <= u64::from(u32::MAX) {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// `count` lengths with the size mix of a real file: mostly 6-bit, some
/// 14-bit, a few 32-bit and 64-bit.
fn lengths(count: usize) -> Vec<u8> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::new();
    for _ in 0..count {
        let n = match rng.below(100) {
            0..=79 => rng.below(64),
            80..=95 => 64 + rng.below(16_000),
            96..=98 => 20_000 + rng.below(1 << 30),
            _ => (1 << 33) + rng.below(1 << 40),
        };
        put_len(&mut out, n);
    }
    out
}

/// `count` integer-encoded RDB strings (8, 16 and 32 bits).
fn int_strings(count: usize) -> Vec<u8> {
    let mut rng = Rng(7);
    let mut out = Vec::new();
    for _ in 0..count {
        match rng.below(3) {
            0 => out.extend_from_slice(&[0xc0, rng.next() as u8]),
            1 => {
                out.push(0xc1);
                out.extend_from_slice(&(rng.next() as u16).to_le_bytes());
            }
            _ => {
                out.push(0xc2);
                out.extend_from_slice(&(rng.next() as u32).to_le_bytes());
            }
        }
    }
    out
}

/// The element mix of the collections: small strings and integers.
enum Item {
    Str(Vec<u8>),
    Int(i64),
}

fn items(count: usize, seed: u64) -> Vec<Item> {
    let mut rng = Rng(seed);
    (0..count)
        .map(|i| match rng.below(10) {
            0..=5 => {
                let len = 4 + rng.below(40) as usize;
                Item::Str((0..len).map(|j| b'a' + ((i + j) % 26) as u8).collect())
            }
            6 => Item::Str(vec![b'x'; 70 + rng.below(200) as usize]),
            7 => Item::Int(rng.below(128) as i64),
            8 => Item::Int(rng.below(60_000) as i64 - 30_000),
            _ => Item::Int(rng.next() as i64 >> rng.below(40)),
        })
        .collect()
}

/// A listpack (`lpInsert` encodings) holding `items`.
fn listpack(items: &[Item]) -> Vec<u8> {
    let mut body = Vec::new();
    for it in items {
        let start = body.len();
        match it {
            Item::Int(v @ 0..=127) => body.push(*v as u8),
            Item::Int(v) if (-4096..4096).contains(v) => {
                let u = (*v as u16) & 0x1fff;
                body.extend_from_slice(&[0xc0 | (u >> 8) as u8, u as u8]);
            }
            Item::Int(v) if i16::try_from(*v).is_ok() => {
                body.push(0xf1);
                body.extend_from_slice(&(*v as i16).to_le_bytes());
            }
            Item::Int(v) if (-(1 << 23)..1 << 23).contains(v) => {
                body.push(0xf2);
                body.extend_from_slice(&(*v as i32).to_le_bytes()[..3]);
            }
            Item::Int(v) if i32::try_from(*v).is_ok() => {
                body.push(0xf3);
                body.extend_from_slice(&(*v as i32).to_le_bytes());
            }
            Item::Int(v) => {
                body.push(0xf4);
                body.extend_from_slice(&v.to_le_bytes());
            }
            Item::Str(s) if s.len() < 64 => {
                body.push(0x80 | s.len() as u8);
                body.extend_from_slice(s);
            }
            Item::Str(s) if s.len() < 4096 => {
                body.extend_from_slice(&[0xe0 | (s.len() >> 8) as u8, s.len() as u8]);
                body.extend_from_slice(s);
            }
            Item::Str(s) => {
                body.push(0xf0);
                body.extend_from_slice(&(s.len() as u32).to_le_bytes());
                body.extend_from_slice(s);
            }
        }
        // Back length (`lpEncodeBacklen`): the entry's size in 7-bit groups,
        // most significant first; every byte but the first has the high bit set.
        let l = body.len() - start;
        let mut back = Vec::new();
        let mut rest = l;
        loop {
            back.push((rest & 127) as u8);
            rest >>= 7;
            if rest == 0 {
                break;
            }
        }
        back.reverse();
        for b in back.iter_mut().skip(1) {
            *b |= 128;
        }
        body.extend_from_slice(&back);
    }
    let mut out = Vec::with_capacity(body.len() + 7);
    out.extend_from_slice(&((body.len() + 7) as u32).to_le_bytes());
    out.extend_from_slice(&(items.len().min(65535) as u16).to_le_bytes());
    out.extend_from_slice(&body);
    out.push(0xff);
    out
}

/// A ziplist (`__ziplistInsert` encodings) holding `items`.
fn ziplist(items: &[Item]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut prev = 0usize;
    let mut tail = 10usize;
    for it in items {
        let start = body.len();
        tail = 10 + start;
        if prev < 254 {
            body.push(prev as u8);
        } else {
            body.push(0xfe);
            body.extend_from_slice(&(prev as u32).to_le_bytes());
        }
        match it {
            Item::Int(v @ 0..=12) => body.push(0xf1 + *v as u8),
            Item::Int(v) if i8::try_from(*v).is_ok() => body.extend_from_slice(&[0xfe, *v as u8]),
            Item::Int(v) if i16::try_from(*v).is_ok() => {
                body.push(0xc0);
                body.extend_from_slice(&(*v as i16).to_le_bytes());
            }
            Item::Int(v) if (-(1 << 23)..1 << 23).contains(v) => {
                body.push(0xf0);
                body.extend_from_slice(&(*v as i32).to_le_bytes()[..3]);
            }
            Item::Int(v) if i32::try_from(*v).is_ok() => {
                body.push(0xd0);
                body.extend_from_slice(&(*v as i32).to_le_bytes());
            }
            Item::Int(v) => {
                body.push(0xe0);
                body.extend_from_slice(&v.to_le_bytes());
            }
            Item::Str(s) if s.len() < 64 => {
                body.push(s.len() as u8);
                body.extend_from_slice(s);
            }
            Item::Str(s) if s.len() < 16384 => {
                body.extend_from_slice(&[0x40 | (s.len() >> 8) as u8, s.len() as u8]);
                body.extend_from_slice(s);
            }
            Item::Str(s) => {
                body.push(0x80);
                body.extend_from_slice(&(s.len() as u32).to_be_bytes());
                body.extend_from_slice(s);
            }
        }
        prev = body.len() - start;
    }
    let mut out = Vec::with_capacity(body.len() + 11);
    out.extend_from_slice(&((body.len() + 11) as u32).to_le_bytes());
    out.extend_from_slice(&(tail as u32).to_le_bytes());
    out.extend_from_slice(&(items.len().min(65535) as u16).to_le_bytes());
    out.extend_from_slice(&body);
    out.push(0xff);
    out
}

fn sample() -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/sample.rdb");
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Files for the record-level benches: sample.rdb, plus $RDBSCOPE_BENCH_RDB.
fn files() -> Vec<(String, Vec<u8>)> {
    let mut v = vec![("sample.rdb".to_string(), sample())];
    if let Ok(p) = std::env::var("RDBSCOPE_BENCH_RDB") {
        let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"));
        let name = std::path::Path::new(&p)
            .file_name()
            .map_or(p.clone(), |n| n.to_string_lossy().into_owned());
        v.push((name, data));
    }
    v
}

fn scalar_len(s: Scalar<'_>) -> u64 {
    match s {
        Scalar::Bytes(b) => b.len() as u64,
        Scalar::Int(i) => i as u64,
    }
}

// ---------------------------------------------------------------------------
// Benchmarks

fn bench_scalars(c: &mut Criterion) {
    let mut g = c.benchmark_group("scalars");
    let lens = lengths(100_000);
    g.throughput(Throughput::Bytes(lens.len() as u64));
    g.bench_function("length_decode", |b| {
        b.iter(|| {
            let mut cur = Cursor::new(black_box(&lens), 0);
            let mut sum = 0u64;
            while !cur.is_empty() {
                sum = sum.wrapping_add(cur.len("a length").unwrap());
            }
            sum
        })
    });
    let ints = int_strings(100_000);
    g.throughput(Throughput::Bytes(ints.len() as u64));
    g.bench_function("int_string_read", |b| {
        let mut scratch = Vec::new();
        b.iter(|| {
            let mut cur = Cursor::new(black_box(&ints), 0);
            let mut sum = 0u64;
            while !cur.is_empty() {
                let s = RdbString::read(&mut cur, "a string").unwrap();
                sum = sum.wrapping_add(scalar_len(s.scalar(&mut scratch).unwrap()));
            }
            sum
        })
    });
    g.bench_function("int_string_to_decimal", |b| {
        let mut scratch = Vec::new();
        b.iter(|| {
            let mut cur = Cursor::new(black_box(&ints), 0);
            let mut sum = 0usize;
            while !cur.is_empty() {
                let s = RdbString::read(&mut cur, "a string").unwrap();
                sum += s.bytes(&mut scratch).unwrap().len();
            }
            sum
        })
    });
    g.finish();

    // LZF: the compressed strings of sample.rdb (compressible text of various sizes).
    let data = sample();
    let rdb = Rdb::new(&data).unwrap();
    let mut lzf: Vec<(&[u8], usize)> = Vec::new();
    for e in rdb.entries() {
        let e = e.unwrap();
        if let Ok(RdbString::Lzf {
            compressed, len, ..
        }) = e.value.as_string()
        {
            lzf.push((compressed, len as usize));
        }
    }
    assert!(!lzf.is_empty(), "sample.rdb has no LZF strings");
    let mut g = c.benchmark_group("lzf");
    let big = *lzf.iter().max_by_key(|(_, n)| *n).unwrap();
    g.throughput(Throughput::Bytes(big.1 as u64));
    g.bench_function(BenchmarkId::new("decompress_largest", big.1), |b| {
        let mut out = Vec::new();
        b.iter(|| {
            lzf_decompress(black_box(big.0), big.1, &mut out).unwrap();
            out.len()
        })
    });
    // The `lzf` crate on the same input, for the line in docs/performance.md
    // that says why the parser decodes LZF itself.
    g.bench_function(BenchmarkId::new("lzf_crate_largest", big.1), |b| {
        b.iter(|| lzf::decompress(black_box(big.0), big.1).unwrap().len())
    });
    let small: Vec<_> = lzf.iter().copied().filter(|(_, n)| *n < 4096).collect();
    g.throughput(Throughput::Bytes(
        small.iter().map(|(_, n)| *n as u64).sum(),
    ));
    g.bench_function(BenchmarkId::new("decompress_small", small.len()), |b| {
        let mut out = Vec::new();
        b.iter(|| {
            let mut sum = 0;
            for &(c, n) in &small {
                lzf_decompress(black_box(c), n, &mut out).unwrap();
                sum += out.len();
            }
            sum
        })
    });
    g.bench_function(BenchmarkId::new("lzf_crate_small", small.len()), |b| {
        b.iter(|| {
            let mut sum = 0;
            for &(c, n) in &small {
                sum += lzf::decompress(black_box(c), n).unwrap().len();
            }
            sum
        })
    });
    g.finish();

    // CRC-64 (Redis's Jones variant) over 64 MiB, as `info` and `dump`
    // verify a file (the `crc` crate's slice-by-16, which measured 10 %
    // faster than the parser's former own slice-by-8: docs/performance.md).
    let mut r = Rng(7);
    let buf: Vec<u8> = (0..64 << 20).map(|_| r.next() as u8).collect();
    let mut g = c.benchmark_group("crc64");
    g.throughput(Throughput::Bytes(buf.len() as u64));
    g.sample_size(20);
    g.bench_function("checksum", |b| {
        b.iter(|| rdb_parser::crc64::checksum(black_box(&buf)))
    });
    g.finish();
}

fn bench_containers(c: &mut Criterion) {
    let mut g = c.benchmark_group("containers");
    for n in [128usize, 4096] {
        let its = items(n, n as u64);
        let lp = listpack(&its);
        assert_eq!(
            Listpack::new(&lp)
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap()
                .len(),
            n
        );
        g.throughput(Throughput::Bytes(lp.len() as u64));
        g.bench_with_input(BenchmarkId::new("listpack_walk", n), &lp, |b, lp| {
            b.iter(|| {
                let mut sum = 0u64;
                for e in Listpack::new(black_box(lp)).unwrap() {
                    sum = sum.wrapping_add(scalar_len(e.unwrap()));
                }
                sum
            })
        });
        let zl = ziplist(&its);
        assert_eq!(
            Ziplist::new(&zl)
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap()
                .len(),
            n
        );
        g.throughput(Throughput::Bytes(zl.len() as u64));
        g.bench_with_input(BenchmarkId::new("ziplist_walk", n), &zl, |b, zl| {
            b.iter(|| {
                let mut sum = 0u64;
                for e in Ziplist::new(black_box(zl)).unwrap() {
                    sum = sum.wrapping_add(scalar_len(e.unwrap()));
                }
                sum
            })
        });
    }
    g.finish();
}

fn bench_records(c: &mut Criterion) {
    for (name, data) in files() {
        let mut g = c.benchmark_group(format!("records/{name}"));
        if data.len() > 64 << 20 {
            g.sample_size(10);
        }
        g.throughput(Throughput::Bytes(data.len() as u64));
        // Skipping: the record iterator finds each record's end without decoding values.
        g.bench_function("skip_all", |b| {
            b.iter(|| {
                let rdb = Rdb::new(black_box(&data)).unwrap();
                let mut n = 0u64;
                for r in rdb.records() {
                    if let Record::Entry(e) = r.unwrap() {
                        n += e.record_len();
                    }
                }
                n
            })
        });
        // Full iteration: every key, string value and collection element decoded.
        g.bench_function("iterate_elements", |b| {
            let mut scratch = Scratch::new();
            let mut buf = Vec::new();
            b.iter(|| {
                let rdb = Rdb::new(black_box(&data)).unwrap();
                let mut n = 0u64;
                for e in rdb.entries() {
                    let e = e.unwrap();
                    n += e.key.bytes(&mut buf).unwrap().len() as u64;
                    if let Ok(s) = e.value.as_string() {
                        n += s.bytes(&mut buf).unwrap().len() as u64;
                    } else {
                        e.value
                            .for_each_element(&mut scratch, |el: Element<'_>| {
                                n += match el {
                                    Element::Member(m) => scalar_len(m),
                                    Element::Scored { member, .. } => scalar_len(member),
                                    Element::Field { field, value, .. } => {
                                        scalar_len(field).wrapping_add(scalar_len(value))
                                    }
                                };
                            })
                            .unwrap();
                    }
                }
                n
            })
        });
        // Element counts only (what a summary needs per key).
        g.bench_function("element_count", |b| {
            let mut scratch = Scratch::new();
            b.iter(|| {
                let rdb = Rdb::new(black_box(&data)).unwrap();
                let mut n = 0u64;
                for e in rdb.entries() {
                    n += e.unwrap().value.element_count(&mut scratch).unwrap();
                }
                n
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench_scalars, bench_containers, bench_records);
criterion_main!(benches);
