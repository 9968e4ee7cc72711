//! One parallel pass over a file: the workers' fold, their merge, and the
//! [`FileReport`] it ends with.

use std::sync::atomic::AtomicU64;
use std::time::Instant;

use rdb_parser::{ErrorKind, Rdb, Record, Scratch, SpeculativeFold};

use super::allocator::choose_allocator;
use super::meta::read_meta;
use super::options::Options;
use crate::accumulator::{Accumulator, FileReport, Limits};
use crate::error::{Error, Result};
use crate::facts::{FactsContext, KeyFacts};
use crate::memory::Profile;
use crate::output::keys::{KeysEncoder, KeysSink};
use crate::prefix::PrefixConfig;

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
    let mut meta = read_meta(&rdb, opts, source)?;
    let allocator = if opts.allocator_auto {
        let choice = choose_allocator(&rdb, &meta, opts).map_err(|e| Error::parse(source, e))?;
        let chosen = choice.chosen;
        meta.allocator_choice = Some(choice);
        chosen
    } else {
        opts.allocator
    };
    let ctx = FactsContext {
        profile: {
            let p = Profile::for_target(
                meta.target_version,
                meta.target_valkey,
                allocator,
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
        encoding: ctx.profile.limits,
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
    w.acc.prefixes.finish();
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
    use crate::model::{ExpiryBucket, TypeKey};
    use crate::server::{ObjEncoding, RedisVersion};
    use crate::testutil::sample;
    use rdb_parser::{Kind, DEFAULT_CHUNK_BYTES};

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
    use crate::output::keys::{with_keys_writer, KeysCompression};
    use crate::testutil::{RdbBuilder, TempDir};
    use rdb_parser::{Kind, DEFAULT_CHUNK_BYTES};

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
