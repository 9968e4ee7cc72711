//! Parallel reading: a sequential boundary scan that reads only lengths
//! cuts the file into chunks of whole records; workers then decode chunks
//! independently. Results come back in file order, so a parallel run
//! equals a sequential one.
//!
//! [`Rdb::par_fold_scanning`] scans only what the other threads need: the
//! thread that reads the file from the start hands out scanned chunks
//! while they are short of work and otherwise reads on by itself, so most
//! bytes are read once.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::reader::{Rdb, Record, Records};

/// A run of whole records, and the database selected at its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// Position of the chunk in file order.
    pub index: usize,
    /// Offset of its first record.
    pub start: u64,
    /// Offset just after its last record.
    pub end: u64,
    /// Database selected when the chunk starts.
    pub db: u64,
    /// Whether it ends with the EOF record.
    pub last: bool,
}

/// Scanned chunks handed out and not finished, per other thread, below
/// which the scanning thread hands out more: enough to keep the others
/// busy while it reads a stretch itself (four: with two, the other thread
/// sometimes ran dry). Each waits with its record ends (8 bytes a key).
const IN_FLIGHT_PER_THREAD: usize = 4;

/// How far behind it the parallel fold's scan leaves pages mapped: the
/// chunks in flight lie there, and each worker gives its chunk's pages back
/// when done with them (the scan releasing them sooner would make the
/// workers fault them in again).
const SCAN_RELEASE_LAG: u64 = 64 << 20;

/// How far ahead of the boundary scan the file's lines are prefetched. The
/// scan hops from record to record and, without it, spent two thirds of
/// its time waiting for each record's first byte to come from memory.
const SCAN_PREFETCH_AHEAD: usize = 2048;

/// Asks the CPU to fetch the lines ahead of a sequential reader, each once.
pub(crate) struct Prefetch<'a> {
    data: &'a [u8],
    next: usize,
}

impl<'a> Prefetch<'a> {
    pub(crate) fn new(data: &'a [u8], from: usize) -> Prefetch<'a> {
        Prefetch { data, next: from }
    }

    /// Prefetches the lines up to [`SCAN_PREFETCH_AHEAD`] past `here`.
    #[inline]
    pub(crate) fn ahead_of(&mut self, here: usize) {
        let until = here
            .saturating_add(SCAN_PREFETCH_AHEAD)
            .min(self.data.len());
        self.next = self.next.max(here);
        while self.next < until {
            crate::mmap::prefetch_line(&self.data[self.next]);
            self.next += 64;
        }
    }
}

/// Default chunk size: large enough to amortize scheduling, small enough to
/// balance two to sixteen threads on a file of a few hundred megabytes.
pub const DEFAULT_CHUNK_BYTES: u64 = 4 << 20;

/// A value alone on its cache lines (128 bytes: two lines, since x86
/// prefetches lines in pairs), so that one thread's per-key writes to its
/// accumulator do not evict the next slot's from another core.
#[repr(align(128))]
struct CacheAligned<T>(T);

/// Counts a handed-out chunk as finished when dropped (also on a panic).
struct InFlight<'c>(&'c AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The boundary scan's position: it steps over records by their lengths
/// alone and cuts the file into chunks between them.
struct Scan<'r, 'a> {
    rdb: &'r Rdb<'a>,
    records: Records<'a>,
    target: u64,
    behind: crate::mmap::ReleaseBehind<'a>,
    prefetch: Prefetch<'a>,
}

impl<'r, 'a> Scan<'r, 'a> {
    fn new(rdb: &'r Rdb<'a>, target_bytes: u64, release_lag: u64) -> Scan<'r, 'a> {
        let records = rdb.records();
        let start = records.offset();
        Scan {
            rdb,
            records,
            target: target_bytes.max(1),
            behind: crate::mmap::ReleaseBehind::lagging(rdb.page_release(), start, release_lag),
            prefetch: Prefetch::new(rdb.data(), start as usize),
        }
    }

    /// Steps over the next chunk's records, pushing where each key's
    /// record ends onto `ends` when given.
    fn next_chunk(&mut self, index: usize, mut ends: Option<&mut Vec<u64>>) -> Result<Chunk> {
        let start = self.records.offset();
        let db = self.records.db();
        loop {
            let here = self.records.offset();
            self.behind.at(here);
            self.prefetch.ahead_of(here as usize);
            if here - start >= self.target {
                return Ok(Chunk {
                    index,
                    start,
                    end: here,
                    db,
                    last: false,
                });
            }
            if let Some(end) = self.records.skip_key_record() {
                if let Some(ends) = ends.as_deref_mut() {
                    ends.push(end);
                }
                continue;
            }
            match self.records.next() {
                Some(Ok(Record::Eof { .. })) | None => {
                    return Ok(Chunk {
                        index,
                        start,
                        end: self.rdb.data().len() as u64,
                        db,
                        last: true,
                    })
                }
                Some(Ok(Record::Entry(e))) => {
                    if let Some(ends) = ends.as_deref_mut() {
                        ends.push(e.record_end);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
            }
        }
    }

    /// Reads the next stretch of records in full instead (a quarter of a
    /// chunk, so that the thread soon looks again whether the others need
    /// work), handing each to `each`: read once, with no scan first, and
    /// prefetched like the scan. Fails with the reader's error or with
    /// `each`'s.
    fn read_stretch(
        &mut self,
        index: usize,
        mut each: impl FnMut(Record<'a>) -> Result<()>,
    ) -> Result<Chunk> {
        let start = self.records.offset();
        let db = self.records.db();
        let mut last = false;
        while self.records.offset() - start < (self.target / 4).max(1) {
            self.prefetch.ahead_of(self.records.offset() as usize);
            match self.records.next() {
                None => {
                    last = true;
                    break;
                }
                Some(Ok(r)) => {
                    last = matches!(r, Record::Eof { .. });
                    each(r)?;
                    if last {
                        break;
                    }
                }
                Some(Err(e)) => return Err(e),
            }
        }
        let end = if last {
            self.rdb.data().len() as u64
        } else {
            self.records.offset()
        };
        Ok(Chunk {
            index,
            start,
            end,
            db,
            last,
        })
    }
}

impl<'a> Rdb<'a> {
    /// Scans the file and cuts it into chunks of about `target_bytes` each,
    /// always between records. The scan skips values without decoding them.
    pub fn chunks(&self, target_bytes: u64) -> Result<Vec<Chunk>> {
        let mut chunks = Vec::new();
        self.scan_chunks(target_bytes, |c| chunks.push(c))?;
        Ok(chunks)
    }

    /// The boundary scan of [`Rdb::chunks`], handing each chunk to `found`
    /// as soon as its end is known (so work on it can start while the scan
    /// goes on). On an error, the chunks before it have been handed out.
    pub fn scan_chunks(&self, target_bytes: u64, mut found: impl FnMut(Chunk)) -> Result<()> {
        let mut scan = Scan::new(self, target_bytes, 0);
        for index in 0.. {
            let chunk = scan.next_chunk(index, None)?;
            found(chunk);
            if chunk.last {
                break;
            }
        }
        Ok(())
    }

    /// [`Rdb::par_fold_with_progress`] without a separate boundary scan
    /// first. One pool thread reads the file from the start. While the
    /// other threads have fewer than four chunks each waiting or in work,
    /// it scans the next chunk (lengths only) and hands it to the pool;
    /// otherwise it folds the next stretch (a quarter chunk) itself,
    /// reading it once, with no scan (a scanned chunk is read twice, and
    /// the scan's hops from record to record cost about a fifth of the
    /// work). With one thread
    /// that is a plain sequential read. Each pool thread keeps one
    /// accumulator (made by `init` on its first chunk), merged at the end.
    /// On errors, the one in the earliest chunk wins.
    pub fn par_fold_scanning<T, I, F, M>(
        &self,
        target_bytes: u64,
        progress: &AtomicU64,
        init: I,
        fold: F,
        merge: M,
    ) -> Result<T>
    where
        T: Send,
        I: Fn() -> T + Sync + Send,
        F: Fn(&mut T, Record<'a>) -> Result<()> + Sync + Send,
        M: Fn(T, T) -> T + Sync + Send,
    {
        let threads = rayon::current_num_threads();
        // One slot per pool thread, plus one for a caller outside the pool.
        // Each on cache lines of its own: adjacent slots shared lines, and the
        // workers' per-key writes cost 10 % more CPU time with two threads.
        let slots: Vec<CacheAligned<Mutex<Option<T>>>> = (0..=threads)
            .map(|_| CacheAligned(Mutex::new(None)))
            .collect();
        let slot_of_this_thread = || {
            rayon::current_thread_index()
                .unwrap_or(threads)
                .min(threads)
        };
        // The failing chunk's index and its error; later chunks are skipped.
        let failed: Mutex<Option<(usize, Error)>> = Mutex::new(None);
        let fail = |index: usize, e: Error| {
            let mut f = failed.lock().unwrap_or_else(|p| p.into_inner());
            if f.as_ref().is_none_or(|(i, _)| index < *i) {
                *f = Some((index, e));
            }
        };
        let stop = AtomicBool::new(false);
        // Chunks handed out and not finished: enough to keep the other
        // threads busy, and bounded (each waits with its record ends).
        let in_flight = AtomicUsize::new(0);
        let hand_out_below = IN_FLIGHT_PER_THREAD * threads.saturating_sub(1);
        let scan = rayon::scope(|s| -> Result<()> {
            let (slots, stop, init, fold, fail) = (&slots, &stop, &init, &fold, &fail);
            let (in_flight, slot_of_this_thread) = (&in_flight, &slot_of_this_thread);
            let mut scan = Scan::new(self, target_bytes, SCAN_RELEASE_LAG);
            let mut index = 0;
            loop {
                if stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                let c = if in_flight.load(Ordering::Acquire) >= hand_out_below {
                    let mut acc = slots[slot_of_this_thread()]
                        .0
                        .lock()
                        .unwrap_or_else(|p| p.into_inner());
                    let acc = acc.get_or_insert_with(init);
                    let start = scan.records.offset();
                    match scan.read_stretch(index, |r| fold(acc, r)) {
                        Ok(c) => {
                            self.release_chunk(&c);
                            progress.fetch_add(c.end - c.start, Ordering::Relaxed);
                            c
                        }
                        Err(e) => {
                            if let Some(r) = self.page_release() {
                                r.release(start, scan.records.offset());
                            }
                            stop.store(true, Ordering::Relaxed);
                            fail(index, e);
                            return Ok(());
                        }
                    }
                } else {
                    let mut ends = Vec::new();
                    let c = scan.next_chunk(index, Some(&mut ends))?;
                    in_flight.fetch_add(1, Ordering::AcqRel);
                    s.spawn(move |_| {
                        let _done = InFlight(in_flight);
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        // Only this thread uses its slot: the lock is never contended.
                        let mut acc = slots[slot_of_this_thread()]
                            .0
                            .lock()
                            .unwrap_or_else(|p| p.into_inner());
                        let acc = acc.get_or_insert_with(init);
                        let mut result = Ok(());
                        for r in self.chunk_records(&c).with_known_ends(ends) {
                            result = r.and_then(|r| fold(acc, r));
                            if result.is_err() {
                                break;
                            }
                        }
                        self.release_chunk(&c);
                        match result {
                            Ok(()) => {
                                progress.fetch_add(c.end - c.start, Ordering::Relaxed);
                            }
                            Err(e) => {
                                stop.store(true, Ordering::Relaxed);
                                fail(c.index, e);
                            }
                        }
                    });
                    c
                };
                if c.last {
                    return Ok(());
                }
                index += 1;
            }
        });
        // A chunk's error comes before the scan's (the scan only failed
        // after every handed-out chunk).
        if let Some((_, e)) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e);
        }
        scan?;
        Ok(slots
            .into_iter()
            .filter_map(|m| m.0.into_inner().unwrap_or_else(|p| p.into_inner()))
            .reduce(merge)
            .unwrap_or_else(init))
    }

    fn release_chunk(&self, c: &Chunk) {
        if let Some(r) = self.page_release() {
            r.release(c.start, c.end);
        }
    }

    /// The records of one chunk.
    pub fn chunk_records(&self, chunk: &Chunk) -> Records<'a> {
        Records::new(
            *self,
            chunk.start as usize,
            chunk.end as usize,
            chunk.db,
            chunk.last,
        )
    }

    /// Runs `f` on every chunk on the rayon pool and returns the results in
    /// file order; the first error (in file order) wins.
    pub fn par_map_chunks<T, F>(&self, chunks: &[Chunk], f: F) -> Result<Vec<T>>
    where
        T: Send,
        F: Fn(&Chunk, Records<'a>) -> Result<T> + Sync + Send,
    {
        chunks
            .par_iter()
            .map(|c| {
                let r = f(c, self.chunk_records(c));
                self.release_chunk(c);
                r
            })
            .collect::<Vec<_>>()
            .into_iter()
            .collect()
    }

    /// Folds every record into per-worker accumulators made by `init`, then
    /// merges them with `merge`. Use this when the order of records does not
    /// matter (counting, top-N, histograms).
    pub fn par_fold<T, I, F, M>(&self, chunks: &[Chunk], init: I, fold: F, merge: M) -> Result<T>
    where
        T: Send,
        I: Fn() -> T + Sync + Send,
        F: Fn(&mut T, Record<'a>) -> Result<()> + Sync + Send,
        M: Fn(T, T) -> T + Sync + Send,
    {
        self.par_fold_with_progress(chunks, &AtomicU64::new(0), init, fold, merge)
    }

    /// [`Rdb::par_fold`] that adds each finished chunk's size to `progress`
    /// (bytes of the file done), for a progress bar; one atomic add per
    /// chunk, never per record.
    pub fn par_fold_with_progress<T, I, F, M>(
        &self,
        chunks: &[Chunk],
        progress: &AtomicU64,
        init: I,
        fold: F,
        merge: M,
    ) -> Result<T>
    where
        T: Send,
        I: Fn() -> T + Sync + Send,
        F: Fn(&mut T, Record<'a>) -> Result<()> + Sync + Send,
        M: Fn(T, T) -> T + Sync + Send,
    {
        chunks
            .par_iter()
            .try_fold(&init, |mut acc, c| {
                for r in self.chunk_records(c) {
                    fold(&mut acc, r?)?;
                }
                progress.fetch_add(c.end - c.start, Ordering::Relaxed);
                self.release_chunk(c);
                Ok(acc)
            })
            .try_reduce(&init, |a, b| Ok(merge(a, b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An RDB 11 of `n` string keys spread over three databases (keys of
    /// varied sizes, some with an expire time), then EOF and a zero
    /// (disabled) checksum.
    fn sample_rdb(n: usize) -> Vec<u8> {
        let mut f = b"REDIS0011".to_vec();
        for i in 0..n {
            if i % (n / 3).max(1) == 0 {
                f.extend_from_slice(&[0xfe, (i / (n / 3).max(1)) as u8]);
            }
            if i % 7 == 0 {
                f.push(0xfc);
                f.extend_from_slice(&(1_700_000_000_000i64 + i as i64).to_le_bytes());
            }
            f.push(0);
            let key = format!("key:{i}");
            f.push(key.len() as u8);
            f.extend_from_slice(key.as_bytes());
            let value_len = i % 200;
            f.extend_from_slice(&[0x40 | (value_len >> 8) as u8, value_len as u8]);
            f.extend(std::iter::repeat_n(b'v', value_len));
        }
        f.push(0xff);
        f.extend_from_slice(&[0; 8]);
        f
    }

    /// (db, key, record start) of every key, as `par_fold_scanning` folds
    /// them with `threads` threads and chunks of `chunk` bytes.
    fn fold_keys(data: &[u8], threads: usize, chunk: u64) -> Result<Vec<(u64, Vec<u8>, u64)>> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a pool");
        let rdb = Rdb::new(data)?;
        let done = AtomicU64::new(0);
        let mut keys = pool.install(|| {
            rdb.par_fold_scanning(
                chunk,
                &done,
                Vec::new,
                |acc: &mut Vec<(u64, Vec<u8>, u64)>, r| {
                    if let Record::Entry(e) = r {
                        let mut buf = Vec::new();
                        acc.push((e.db, e.key.bytes(&mut buf)?.to_vec(), e.record_start));
                    }
                    Ok(())
                },
                |mut a, b| {
                    a.extend(b);
                    a
                },
            )
        })?;
        assert_eq!(done.load(Ordering::Relaxed), data.len() as u64 - 9);
        keys.sort_by_key(|k| k.2);
        Ok(keys)
    }

    #[test]
    fn folding_while_scanning_sees_every_key_once_whatever_the_split() {
        let data = sample_rdb(3000);
        let rdb = Rdb::new(&data).expect("valid");
        let mut buf = Vec::new();
        let expected: Vec<(u64, Vec<u8>, u64)> = rdb
            .entries()
            .map(|e| {
                let e = e.expect("valid");
                (
                    e.db,
                    e.key.bytes(&mut buf).expect("raw").to_vec(),
                    e.record_start,
                )
            })
            .collect();
        assert_eq!(expected.len(), 3000);
        assert_eq!(expected.last().map(|k| k.0), Some(2));
        for threads in [1, 2, 3] {
            for chunk in [1, 100, 4096, 64 << 10, 1 << 30] {
                let got = fold_keys(&data, threads, chunk).expect("valid");
                assert!(got == expected, "{threads} threads, chunks of {chunk}");
            }
        }
    }

    #[test]
    fn folding_while_scanning_fails_where_a_sequential_read_fails() {
        let data = sample_rdb(3000);
        // Cut inside a value two thirds of the way, and break a type byte.
        let cut = data[..data.len() * 2 / 3].to_vec();
        let mut bad_type = data.clone();
        let at = data.len() / 2;
        let rdb = Rdb::new(&data).expect("valid");
        let record = rdb
            .entries()
            .map(|e| e.expect("valid").record_start as usize)
            .find(|&s| s >= at && data[s] == 0)
            .expect("a string record");
        bad_type[record] = 0x63;
        for (what, file) in [("truncated", cut), ("bad type", bad_type)] {
            let rdb = Rdb::new(&file).expect("header");
            let sequential = rdb.records().find_map(|r| r.err()).expect("an error");
            for threads in [1, 2, 3] {
                for chunk in [1, 100, 4096, 1 << 30] {
                    let e = fold_keys(&file, threads, chunk).expect_err(what);
                    assert_eq!(
                        e.to_string(),
                        sequential.to_string(),
                        "{what}: {threads} threads, chunks of {chunk}"
                    );
                }
            }
        }
    }

    #[test]
    fn prefetch_stays_inside_the_data_and_only_moves_forward() {
        for len in [0usize, 1, 63, 64, 65, 4096, 10_000] {
            let data = vec![7u8; len];
            let mut p = Prefetch::new(&data, 0);
            let mut last = 0;
            for here in (0..=len).step_by(37).chain([len]) {
                p.ahead_of(here);
                assert!(p.next >= last, "went back at {here} of {len}");
                assert!(
                    p.next >= (here + SCAN_PREFETCH_AHEAD).min(len),
                    "left a gap ahead of {here} of {len}"
                );
                assert!(p.next < len + 64, "ran past the end of {len}");
                last = p.next;
            }
        }
    }
}
