//! Running a speculative fold: each thread's loop over segments, and the
//! entry point that starts the threads and merges what they folded.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use super::callbacks::FoldCallbacks;
use super::state::{lock, Frontier, Outcome, Speculation, SpeculationStats, StopOnUnwind};
use crate::error::Result;
use crate::reader::Rdb;

/// Segments read ahead of the last verified one, per thread: each waits
/// with its accumulators, so this bounds memory.
const AHEAD_PER_THREAD: usize = 4;

/// Segments asked from the disk ahead of the one a thread takes, per
/// thread ([`PageRelease::read_ahead`](crate::mmap::PageRelease::read_ahead)):
/// a file not in the page cache is then read while the threads work on
/// what came before, not by each thread waiting at each fault.
const READ_AHEAD_PER_THREAD: usize = 2;

impl<'a, T: Send, C: FoldCallbacks<'a, T>> Speculation<'_, 'a, T, C> {
    /// One thread's loop: takes segments in order and reads each, from
    /// the frontier when every earlier one is verified, else from a guess.
    fn work(&self) -> Option<T> {
        let _unwind = StopOnUnwind {
            stop: &self.stop,
            wake: &self.moved,
            frontier: &self.frontier,
        };
        let mut acc = None;
        loop {
            let k = self.taken.fetch_add(1, Ordering::SeqCst);
            if self.bound(k) >= self.len() && k > 0 {
                break;
            }
            self.read_ahead(k);
            let mut f = lock(&self.frontier);
            while !f.finished && !self.stop.load(Ordering::SeqCst) && k > f.next + self.ahead {
                f = self.moved.wait(f).unwrap_or_else(|p| p.into_inner());
            }
            if f.finished || self.stop.load(Ordering::SeqCst) {
                break;
            }
            let outcome = if f.next == k {
                let (from, db) = (f.offset, f.db);
                drop(f);
                let until = self.until(k);
                if from >= until {
                    Outcome::Unsynced
                } else {
                    match self.read_verified(&mut acc, from, db, until) {
                        Ok((end, db, last)) => Outcome::Verified { end, db, last },
                        Err(e) => {
                            self.fail(e);
                            let mut f = lock(&self.frontier);
                            f.finished = true;
                            self.moved.notify_all();
                            drop(f);
                            break;
                        }
                    }
                }
            } else if f.offset >= self.until(k) {
                // Inside a record already read (a large value that spans
                // segments): nothing to guess.
                drop(f);
                Outcome::Unsynced
            } else {
                drop(f);
                self.read_guessed(k)
            };
            self.hand_in(&mut acc, k, outcome);
        }
        acc
    }
}

impl<'a, T: Send, C: FoldCallbacks<'a, T>> Speculation<'_, 'a, T, C> {
    /// Segment `k` is taken: asks for the segment the read-ahead window
    /// now reaches (segments `1..=window` when `k` is 0), so that each
    /// segment is asked for once, a window ahead of its reading.
    fn read_ahead(&self, k: usize) {
        let Some(r) = self.rdb.page_release() else {
            return;
        };
        let window = READ_AHEAD_PER_THREAD * self.threads;
        let (first, last) = if k == 0 {
            (1, window)
        } else {
            (k + window, k + window)
        };
        let (start, end) = (self.bound(first), self.bound(last + 1));
        if start < end {
            r.read_ahead(start, end);
        }
    }
}

impl<'a> Rdb<'a> {
    /// Folds every record into per-thread accumulators, with no boundary
    /// scan: the file is cut into segments of `segment_bytes` and each
    /// thread finds a record start in its segment by trial (see the module
    /// notes). `fold` may be given records that are not the file's (a
    /// wrong guess), always in an accumulator from `init_guessed` that is
    /// then dropped. Records read from a guess before any SELECTDB go into
    /// an accumulator of their own, whose database `relabel` sets once
    /// known (they all share it). With one thread this is a sequential
    /// read. On an error, the earliest in the file wins, exactly as a
    /// sequential read reports it.
    pub fn par_fold_speculative<T: Send>(
        &self,
        segment_bytes: u64,
        progress: &AtomicU64,
        fns: impl FoldCallbacks<'a, T>,
    ) -> Result<T> {
        self.par_fold_speculative_counted(segment_bytes, progress, fns)
            .map(|(t, _)| t)
    }

    /// [`Rdb::par_fold_speculative`], also counting how segments were verified.
    pub(crate) fn par_fold_speculative_counted<T: Send>(
        &self,
        segment_bytes: u64,
        progress: &AtomicU64,
        fns: impl FoldCallbacks<'a, T>,
    ) -> Result<(T, SpeculationStats)> {
        let threads = rayon::current_num_threads().max(1);
        let first = self.records();
        let s = Speculation {
            rdb: self,
            base: first.offset(),
            segment: segment_bytes.max(1),
            fns: &fns,
            progress,
            frontier: Mutex::new(Frontier {
                next: 0,
                offset: first.offset(),
                db: first.db(),
                finished: false,
                busy: false,
                pending: BTreeMap::new(),
            }),
            moved: Condvar::new(),
            stop: AtomicBool::new(false),
            failed: Mutex::new(None),
            taken: AtomicUsize::new(0),
            ahead: AHEAD_PER_THREAD * threads,
            threads,
            stats: Mutex::new(SpeculationStats::default()),
        };
        let results: Mutex<Vec<T>> = Mutex::new(Vec::new());
        rayon::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|_| {
                    if let Some(t) = s.work() {
                        lock(&results).push(t);
                    }
                });
            }
        });
        if let Some(e) = s.failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e);
        }
        let stats = *lock(&s.stats);
        let t = results
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .into_iter()
            .reduce(|a, b| fns.merge(a, b))
            .unwrap_or_else(|| fns.init());
        Ok((t, stats))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::Record;
    use crate::speculative::callbacks::{SpeculativeFold, UNKNOWN_DB};
    use crate::speculative::guess::MAX_GUESSED_RECORD;

    type Key = (u64, Vec<u8>, u64);

    /// An RDB 11 of `n` string keys over three databases (some with an
    /// expire time). With `lookalike`, each value is itself a run of
    /// string records, so that guessed starts inside values read cleanly
    /// and prove wrong only when checked.
    fn sample_rdb(n: usize, lookalike: bool) -> Vec<u8> {
        fn string_record(f: &mut Vec<u8>, key: &[u8], value: &[u8]) {
            f.push(0);
            f.push(key.len() as u8);
            f.extend_from_slice(key);
            f.extend_from_slice(&[0x40 | (value.len() >> 8) as u8, value.len() as u8]);
            f.extend_from_slice(value);
        }
        let mut f = b"REDIS0011".to_vec();
        for i in 0..n {
            if i % (n / 3).max(1) == 0 {
                f.extend_from_slice(&[0xfe, (i / (n / 3).max(1)) as u8]);
            }
            if i % 7 == 0 {
                f.push(0xfc);
                f.extend_from_slice(&(1_700_000_000_000i64 + i as i64).to_le_bytes());
            }
            let mut value = Vec::new();
            if lookalike {
                for j in 0..(i % 40) {
                    string_record(&mut value, format!("fake:{j}").as_bytes(), b"xyz");
                }
            } else {
                value.extend(std::iter::repeat_n(b'v', i % 200));
            }
            string_record(&mut f, format!("key:{i}").as_bytes(), &value);
        }
        f.push(0xff);
        f.extend_from_slice(&[0; 8]);
        f
    }

    fn sequential_keys(data: &[u8]) -> Vec<Key> {
        let rdb = Rdb::new(data).expect("valid");
        let mut buf = Vec::new();
        rdb.entries()
            .map(|e| {
                let e = e.expect("valid");
                let key = e.key.bytes(&mut buf).expect("raw").to_vec();
                (e.db, key, e.record_start)
            })
            .collect()
    }

    /// Every key as the speculative fold sees it, in file order, and how
    /// its segments were verified.
    fn fold_keys(
        data: &[u8],
        threads: usize,
        segment: u64,
    ) -> Result<(Vec<Key>, SpeculationStats)> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a pool");
        let rdb = Rdb::new(data)?;
        let done = AtomicU64::new(0);
        let (mut keys, stats) = pool.install(|| {
            rdb.par_fold_speculative_counted(
                segment,
                &done,
                SpeculativeFold {
                    init: Vec::new,
                    init_guessed: Vec::new,
                    fold: |acc: &mut Vec<Key>, r: &Record<'_>| {
                        if let Record::Entry(e) = r {
                            let mut buf = Vec::new();
                            acc.push((e.db, e.key.bytes(&mut buf)?.to_vec(), e.record_start));
                        }
                        Ok(())
                    },
                    merge: |mut a: Vec<Key>, b| {
                        a.extend(b);
                        a
                    },
                    relabel: |acc: &mut Vec<Key>, db| {
                        for k in acc.iter_mut() {
                            assert_eq!(k.0, UNKNOWN_DB, "relabelled a known database");
                            k.0 = db;
                        }
                    },
                },
            )
        })?;
        assert_eq!(done.load(Ordering::Relaxed), data.len() as u64 - 9);
        keys.sort_by_key(|k| k.2);
        Ok((keys, stats))
    }

    #[test]
    fn speculative_fold_sees_every_key_once_with_its_database() {
        let mut total = SpeculationStats::default();
        for lookalike in [false, true] {
            let data = sample_rdb(3000, lookalike);
            let expected = sequential_keys(&data);
            assert_eq!(expected.len(), 3000);
            assert_eq!(expected.last().map(|k| k.0), Some(2));
            for threads in [1, 2, 3] {
                for segment in [7, 100, 4096, 64 << 10, 1 << 30] {
                    let (got, stats) = fold_keys(&data, threads, segment).expect("valid");
                    assert!(
                        got == expected,
                        "lookalike {lookalike}: {threads} threads, segments of {segment}"
                    );
                    if threads == 1 {
                        assert_eq!(stats.guessed_right + stats.redone, 0, "one thread guessed");
                    }
                    total.verified += stats.verified;
                    total.guessed_right += stats.guessed_right;
                    total.redone += stats.redone;
                    total.covered += stats.covered;
                }
            }
        }
        // Guesses were taken and checked, segments fell inside a record. A
        // wrong guess (redone) happens only when a worker reaches a segment
        // before the one before it is read, which the machine's scheduling
        // decides: it is counted, and a wrong guess's outcome is the
        // `got == expected` above, but it is not required here.
        assert!(total.guessed_right > 0, "{total:?}");
        assert!(total.covered > 0, "{total:?}");
        eprintln!("speculation: {total:?}");
    }

    #[test]
    fn a_big_record_cuts_a_guess_short_and_its_segment_is_not_read_again() {
        // 30,000 small strings with a 1.5 MB string (more than a guessed
        // read takes) after every 6,000th.
        let mut f = b"REDIS0011".to_vec();
        f.extend_from_slice(&[0xfe, 0]);
        let big = vec![b'v'; (MAX_GUESSED_RECORD + (MAX_GUESSED_RECORD >> 1)) as usize];
        for i in 0..30_000u32 {
            let key = format!("key:{i}");
            let value = format!("value-{i}");
            f.push(0);
            f.push(key.len() as u8);
            f.extend_from_slice(key.as_bytes());
            f.push(value.len() as u8);
            f.extend_from_slice(value.as_bytes());
            if i % 6000 == 5999 {
                let key = format!("big:{i}");
                f.push(0);
                f.push(key.len() as u8);
                f.extend_from_slice(key.as_bytes());
                f.push(0x80);
                f.extend_from_slice(&(big.len() as u32).to_be_bytes());
                f.extend_from_slice(&big);
            }
        }
        f.push(0xff);
        f.extend_from_slice(&[0; 8]);
        let expected = sequential_keys(&f);
        assert_eq!(expected.len(), 30_005);
        let rdb = Rdb::new(&f).expect("valid");
        let bigs: Vec<(u64, u64)> = rdb
            .entries()
            .map(|e| e.expect("valid"))
            .filter(|e| e.record_len() > MAX_GUESSED_RECORD)
            .map(|e| (e.record_start, e.record_end))
            .collect();
        let base = rdb.records().offset();
        let mut cut = 0;
        // Whether a thread guesses at all depends on timing (a loaded
        // machine may give one thread every segment): run until a guess
        // was cut, within reason.
        for (threads, segment) in [(2, 200 << 10), (3, 1 << 20)].into_iter().cycle().take(400) {
            if cut > 0 && threads == 2 {
                break;
            }
            let (got, stats) = fold_keys(&f, threads, segment).expect("valid");
            assert!(got == expected, "{threads} threads, segments of {segment}");
            // Only segments starting inside a big string (with no record
            // start to guess) are read from the frontier again: one whose
            // guessed body meets a big string keeps the body.
            let inside = (1..)
                .map(|k| base + k * segment)
                .take_while(|&b| b < f.len() as u64)
                .filter(|&b| bigs.iter().any(|&(s, e)| s < b && b < e))
                .count();
            assert!(
                stats.redone <= inside,
                "{threads} threads, segments of {segment}: {stats:?}, {inside} inside"
            );
            cut += stats.cut;
        }
        assert!(cut > 0, "no guess was cut short");
    }

    #[test]
    fn speculative_fold_fails_where_a_sequential_read_fails() {
        let data = sample_rdb(3000, true);
        let cut = data[..data.len() * 2 / 3].to_vec();
        let mut bad_type = data.clone();
        let record = sequential_keys(&data)
            .into_iter()
            .map(|k| k.2 as usize)
            .find(|&s| s >= data.len() / 2 && data[s] == 0)
            .expect("a string record");
        bad_type[record] = 0x63;
        let no_eof = data[..data.len() - 9].to_vec();
        for (what, file) in [
            ("truncated", cut),
            ("bad type", bad_type),
            ("no EOF", no_eof),
        ] {
            let rdb = Rdb::new(&file).expect("header");
            let sequential = rdb.records().find_map(|r| r.err()).expect("an error");
            for threads in [1, 2, 3] {
                for segment in [7, 100, 4096, 1 << 30] {
                    let e = fold_keys(&file, threads, segment).expect_err(what);
                    assert_eq!(
                        e.to_string(),
                        sequential.to_string(),
                        "{what}: {threads} threads, segments of {segment}"
                    );
                }
            }
        }
    }

    #[test]
    fn corrupt_files_read_as_a_sequential_read_reads_them() {
        let clean = sample_rdb(600, true);
        let starts: Vec<usize> = sequential_keys(&clean)
            .iter()
            .map(|k| k.2 as usize)
            .collect();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        let (mut failed, mut read) = (0, 0);
        for round in 0..150 {
            let mut data = clean.clone();
            for _ in 0..=(next() % 3) {
                // Anywhere, or in a record's first bytes (its type, the
                // key's length), where a change breaks the file more often.
                let at = match next() % 2 {
                    0 => 9 + (next() as usize) % (data.len() - 9),
                    _ => starts[next() as usize % starts.len()] + next() as usize % 4,
                };
                data[at] = next() as u8;
            }
            let rdb = Rdb::new(&data).expect("header untouched");
            let mut buf = Vec::new();
            let sequential: Result<Vec<Key>> = rdb
                .records()
                .filter_map(|r| match r {
                    Ok(Record::Entry(e)) => Some(
                        e.key
                            .bytes(&mut buf)
                            .map(|k| (e.db, k.to_vec(), e.record_start)),
                    ),
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                })
                .collect();
            for (threads, segment) in [(2, 64), (3, 500), (2, 4096)] {
                let what = format!("round {round}: {threads} threads, segments of {segment}");
                match (&sequential, fold_keys(&data, threads, segment)) {
                    (Ok(want), Ok((got, _))) => assert!(*want == got, "{what}"),
                    (Err(want), Err(got)) => {
                        assert_eq!(want.to_string(), got.to_string(), "{what}")
                    }
                    (want, got) => panic!(
                        "{what}: {:?} against {:?}",
                        want.as_ref().map(Vec::len),
                        got.map(|g| g.0.len())
                    ),
                }
            }
            match sequential {
                Ok(_) => read += 1,
                Err(_) => failed += 1,
            }
        }
        // Both kinds of outcome were compared.
        assert!(failed > 10 && read > 10, "{failed} failed, {read} read");
    }

    /// Records the ranges given back, and those asked for ahead.
    struct Log(Mutex<Vec<(u64, u64)>>, Mutex<Vec<(u64, u64)>>);

    impl crate::mmap::PageRelease for Log {
        fn release(&self, start: u64, end: u64) {
            lock(&self.0).push((start, end));
        }

        fn read_ahead(&self, start: u64, end: u64) {
            lock(&self.1).push((start, end));
        }
    }

    #[test]
    fn every_part_of_the_file_is_given_back() {
        let data = sample_rdb(3000, true);
        for threads in [1, 2, 3] {
            for segment in [100, 4096, 64 << 10] {
                let log = Log(Mutex::new(Vec::new()), Mutex::new(Vec::new()));
                let rdb = Rdb::new(&data).expect("valid").with_page_release(&log);
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .expect("a pool");
                pool.install(|| {
                    rdb.par_fold_speculative(
                        segment,
                        &AtomicU64::new(0),
                        SpeculativeFold {
                            init: || 0u64,
                            init_guessed: || 0u64,
                            fold: |n: &mut u64, _: &Record<'_>| {
                                *n += 1;
                                Ok(())
                            },
                            merge: |a, b| a + b,
                            relabel: |_: &mut u64, _| {},
                        },
                    )
                })
                .expect("valid");
                let mut ranges = std::mem::take(&mut *lock(&log.0));
                ranges.sort();
                // From the first record to the end, without a gap.
                let mut covered = rdb.body_start();
                let len = data.len() as u64;
                for (start, end) in ranges {
                    assert!(
                        start <= covered,
                        "{threads} threads, segments of {segment}: gap at {covered}..{start}"
                    );
                    covered = covered.max(end);
                }
                assert!(
                    covered >= len - 9,
                    "{threads} threads, segments of {segment}: {covered}"
                );
                // Every segment after the first is asked for ahead, once:
                // the ranges do not overlap and leave no gap to the end.
                let mut ahead = std::mem::take(&mut *lock(&log.1));
                ahead.sort();
                let mut next = (rdb.body_start() + segment).min(len);
                for (start, end) in ahead {
                    assert_eq!(
                        start, next,
                        "{threads} threads, segments of {segment}: read ahead from {start}"
                    );
                    assert!(end > start);
                    next = end;
                }
                assert_eq!(next, len, "{threads} threads, segments of {segment}");
            }
        }
    }

    #[test]
    fn a_panic_in_the_fold_reaches_the_caller() {
        let data = sample_rdb(3000, false);
        let rdb = Rdb::new(&data).expect("valid");
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .expect("a pool");
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.install(|| {
                rdb.par_fold_speculative(
                    100,
                    &AtomicU64::new(0),
                    SpeculativeFold {
                        init: || 0u64,
                        init_guessed: || 0u64,
                        fold: |n: &mut u64, r: &Record<'_>| {
                            if let Record::Entry(e) = r {
                                assert!(e.record_start < data.len() as u64 / 2, "planted");
                                *n += 1;
                            }
                            Ok(())
                        },
                        merge: |a, b| a + b,
                        relabel: |_: &mut u64, _| {},
                    },
                )
            })
        }));
        assert!(outcome.is_err());
    }
}
