//! Micro-benchmarks of the analyzer's per-key hot paths (criterion).
//!
//!     cargo bench --bench analyze                    # all
//!     cargo bench --bench analyze -- prefix          # a group
//!     RDBSCOPE_BENCH_RDB=path/to/big.rdb cargo bench --bench analyze
//!
//! Inputs: the keys of testdata/sample.rdb (shipped; ~2,600 keys of every
//! type), plus those of $RDBSCOPE_BENCH_RDB when set (e.g. a file that
//! benches/whole-file.sh cached in testdata/cache/bench/). Throughput is in
//! bytes of the file's records (memory model, Parquet rows) or of the keys
//! (prefix templating, key pages); the Parquet rows bench counts the file
//! bytes whose rows it appends.

use std::hint::black_box;

use analyzer::facts::FactsContext;
use analyzer::memory::{Allocator, Profile};
use analyzer::output::keys::{KeysCompression, KeysEncoder};
use analyzer::output::snappy::KeyPageSnappy;
use analyzer::prefix::{KeyStat, PrefixAcc, PrefixConfig, Separators, DEFAULT_CAP};
use analyzer::{EncodingLimits, ExpiryBucket, KeyFacts, RedisVersion};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rdb_parser::{Kind, Rdb, Scratch};

fn files() -> Vec<(String, Vec<u8>)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/sample.rdb");
    let sample = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut v = vec![("sample.rdb".to_string(), sample)];
    if let Ok(p) = std::env::var("RDBSCOPE_BENCH_RDB") {
        let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"));
        let name = std::path::Path::new(&p)
            .file_name()
            .map_or(p.clone(), |n| n.to_string_lossy().into_owned());
        v.push((name, data));
    }
    v
}

fn context() -> FactsContext {
    FactsContext {
        profile: Profile::for_target(
            RedisVersion::new(7, 0),
            None,
            Allocator::Jemalloc,
            EncodingLimits::default(),
        ),
    }
}

/// The memory model: one walk per key giving its encoding after load, its
/// memory, element count and longest element (`KeyFacts::from_entry`).
fn bench_memory_model(c: &mut Criterion) {
    let ctx = context();
    for (name, data) in files() {
        let mut g = c.benchmark_group(format!("memory_model/{name}"));
        if data.len() > 64 << 20 {
            g.sample_size(10);
        }
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function("key_facts_all_keys", |b| {
            let mut scratch = Scratch::new();
            let mut key_buf = Vec::new();
            b.iter(|| {
                let rdb = Rdb::new(black_box(&data)).unwrap();
                let mut total = 0u64;
                for e in rdb.entries() {
                    let e = e.unwrap();
                    let key = e.key.bytes(&mut key_buf).unwrap();
                    let f = KeyFacts::from_entry(&e, key, &ctx, &mut scratch).unwrap();
                    total = total.wrapping_add(f.memory_bytes);
                }
                total
            })
        });
        g.finish();
    }
}

/// Keys of a file, copied out.
fn keys_of(data: &[u8]) -> Vec<Vec<u8>> {
    let rdb = Rdb::new(data).unwrap();
    let mut buf = Vec::new();
    rdb.entries()
        .map(|e| e.unwrap().key.bytes(&mut buf).unwrap().to_vec())
        .collect()
}

/// The keys of every input file (at most a million of each).
fn files_keys() -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    for (_, data) in files() {
        keys.extend(keys_of(&data).into_iter().take(1_000_000));
    }
    keys
}

/// Prefix templating: a key's pattern (identifier segments as `*`) into a
/// reused buffer, from the borrowed key.
fn bench_prefix(c: &mut Criterion) {
    let mut g = c.benchmark_group("prefix");
    let mut keys = files_keys();
    // Typical shapes too: words, numbers, hex ids, uuids, emails, dates.
    for i in 0..20_000u64 {
        keys.push(format!("user:{}:profile", i * 7919).into_bytes());
        keys.push(format!("login:{:032x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).into_bytes());
        keys.push(format!("cache|item/{i}/2026-11-{:02}T10:00:00Z", i % 28 + 1).into_bytes());
        keys.push(format!("mail:u{i}@example.com:inbox").into_bytes());
    }
    let bytes: usize = keys.iter().map(Vec::len).sum();
    g.throughput(Throughput::Bytes(bytes as u64));
    let cfg = PrefixConfig::new(&Separators::Auto, DEFAULT_CAP, 3);
    g.bench_function("template", |b| {
        let mut out = Vec::new();
        b.iter(|| {
            let mut n = 0usize;
            for k in &keys {
                n += cfg.template(black_box(k), &mut out).len();
            }
            n
        })
    });
    // The accumulator behind it: the pattern counted (a lookup per key;
    // new patterns, folds and coarsening on the cold path).
    g.bench_function("template_and_count", |b| {
        let mut out = Vec::new();
        let stat = KeyStat {
            kind: Kind::String,
            memory_bytes: 64,
            rdb_bytes: 16,
            has_ttl: false,
            bucket: ExpiryBucket::NoTtl,
        };
        b.iter(|| {
            let mut acc = PrefixAcc::new(cfg);
            for k in &keys {
                acc.add(k, cfg.template(black_box(k), &mut out), &stat);
            }
            acc.len()
        })
    });
    g.finish();
}

/// Compressing `keys.parquet` key pages (`PLAIN`: a length, then the
/// key): the project's key-by-key Snappy against a general Snappy
/// encoder on the same pages. Prints each one's ratio once.
fn bench_key_pages(c: &mut Criterion) {
    let mut g = c.benchmark_group("key_pages");
    let mut keys = files_keys();
    for i in 0..20_000u64 {
        keys.push(format!("user:{}:profile", i.wrapping_mul(7919) % 500_000).into_bytes());
        keys.push(
            format!("login:{:015x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 4).into_bytes(),
        );
        keys.push(format!("queue:{}", i.wrapping_mul(104_729) % 1_000_000).into_bytes());
    }
    // Pages as the encoder cuts them: at most 16 Ki keys each.
    let pages: Vec<Vec<u8>> = keys
        .chunks(16 * 1024)
        .map(|chunk| {
            let mut page = Vec::new();
            for k in chunk {
                page.extend_from_slice(&(k.len() as u32).to_le_bytes());
                page.extend_from_slice(k);
            }
            page
        })
        .collect();
    let bytes: usize = pages.iter().map(Vec::len).sum();
    g.throughput(Throughput::Bytes(bytes as u64));
    let mut ours = KeyPageSnappy::new();
    let mut out = Vec::new();
    let mut general = snap::raw::Encoder::new();
    let mut general_out = vec![0; snap::raw::max_compress_len(bytes)];
    let ours_total: usize = pages.iter().map(|p| ours.compress(p, &mut out)).sum();
    let general_total: usize = pages
        .iter()
        .map(|p| general.compress(p, &mut general_out).unwrap())
        .sum();
    eprintln!(
        "key pages: {bytes} bytes; key-by-key Snappy {:.2}x, general Snappy {:.2}x",
        bytes as f64 / ours_total as f64,
        bytes as f64 / general_total as f64
    );
    g.bench_function("key_by_key_snappy", |b| {
        b.iter(|| {
            pages
                .iter()
                .map(|p| ours.compress(black_box(p), &mut out))
                .sum::<usize>()
        })
    });
    g.bench_function("general_snappy", |b| {
        b.iter(|| {
            pages
                .iter()
                .map(|p| general.compress(black_box(p), &mut general_out).unwrap())
                .sum::<usize>()
        })
    });
    g.finish();
}

/// Appending `keys.parquet` rows to a worker's column encoders, pages
/// encoded and compressed (Snappy) and row groups closed as the workers do.
fn bench_parquet_rows(c: &mut Criterion) {
    let ctx = context();
    let cfg = PrefixConfig::new(&Separators::Auto, DEFAULT_CAP, 3);
    for (name, data) in files() {
        let mut g = c.benchmark_group(format!("parquet_rows/{name}"));
        if data.len() > 64 << 20 {
            g.sample_size(10);
        }
        // Facts computed once; the bench times the row appends only.
        let rdb = Rdb::new(&data).unwrap();
        let mut scratch = Scratch::new();
        let mut rows = Vec::new();
        let mut key_buf = Vec::new();
        let mut pat = Vec::new();
        for e in rdb.entries() {
            let e = e.unwrap();
            let key = e.key.bytes(&mut key_buf).unwrap().to_vec();
            let f = KeyFacts::from_entry(&e, &key, &ctx, &mut scratch).unwrap();
            let pattern = cfg.template(&key, &mut pat).to_vec();
            rows.push((key.clone(), f.memory_bytes, pattern));
        }
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function("append_rows", |b| {
            let mut encoder = KeysEncoder::new(KeysCompression::Snappy);
            let rdb = Rdb::new(&data).unwrap();
            let facts: Vec<_> = rdb
                .entries()
                .zip(&rows)
                .map(|(e, (key, _, _))| {
                    KeyFacts::from_entry(&e.unwrap(), key, &ctx, &mut scratch).unwrap()
                })
                .collect();
            b.iter(|| {
                let mut groups = 0;
                for (f, (_, memory, pattern)) in facts.iter().zip(&rows) {
                    let g = encoder
                        .append(black_box("bench.rdb"), f, *memory, pattern, None)
                        .unwrap();
                    groups += usize::from(g.is_some());
                }
                groups + usize::from(encoder.finish().unwrap().is_some())
            })
        });
        g.finish();
    }
}

criterion_group!(
    benches,
    bench_memory_model,
    bench_prefix,
    bench_key_pages,
    bench_parquet_rows
);
criterion_main!(benches);
