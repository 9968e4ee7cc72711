//! Parallel reading: a sequential boundary scan that reads only lengths
//! cuts the file into chunks of whole records; workers then decode chunks
//! independently. Results come back in file order, so a parallel run
//! equals a sequential one.

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

/// Chunks the boundary scan may hand out ahead of the workers, per
/// thread: enough to keep them busy while the scan works on one itself.
const IN_FLIGHT_PER_THREAD: usize = 2;

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
struct Prefetch<'a> {
    data: &'a [u8],
    next: usize,
}

impl<'a> Prefetch<'a> {
    fn new(data: &'a [u8], from: usize) -> Prefetch<'a> {
        Prefetch { data, next: from }
    }

    /// Prefetches the lines up to [`SCAN_PREFETCH_AHEAD`] past `here`.
    #[inline]
    fn ahead_of(&mut self, here: usize) {
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
        self.scan_chunks_with_ends(target_bytes, false, 0, |c, _| found(c))
    }

    /// [`Rdb::scan_chunks`] that also hands over where each key's record
    /// in the chunk ends (when `ends` is set), so that a worker reading
    /// the chunk need not skip the values again.
    /// The scan gives back the pages it has read once they lie
    /// `release_lag` bytes behind it (sooner, and workers still reading
    /// them would fault them in again).
    fn scan_chunks_with_ends(
        &self,
        target_bytes: u64,
        ends: bool,
        release_lag: u64,
        mut found: impl FnMut(Chunk, Vec<u64>),
    ) -> Result<()> {
        let target = target_bytes.max(1);
        let mut chunk_ends = Vec::new();
        let mut index = 0;
        let mut records = self.records();
        let mut start = records.offset();
        let mut db = records.db();
        let mut behind =
            crate::mmap::ReleaseBehind::lagging(self.page_release(), start, release_lag);
        let mut prefetch = Prefetch::new(self.data(), start as usize);
        loop {
            let here = records.offset();
            behind.at(here);
            prefetch.ahead_of(here as usize);
            if here - start >= target {
                found(
                    Chunk {
                        index,
                        start,
                        end: here,
                        db,
                        last: false,
                    },
                    std::mem::take(&mut chunk_ends),
                );
                index += 1;
                start = here;
                db = records.db();
            }
            if let Some(end) = records.skip_key_record() {
                if ends {
                    chunk_ends.push(end);
                }
                continue;
            }
            match records.next() {
                Some(Ok(Record::Eof { .. })) | None => break,
                Some(Ok(Record::Entry(e))) if ends => chunk_ends.push(e.record_end),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
            }
        }
        found(
            Chunk {
                index,
                start,
                end: self.data().len() as u64,
                db,
                last: true,
            },
            chunk_ends,
        );
        Ok(())
    }

    /// [`Rdb::par_fold_with_progress`] without a separate boundary scan
    /// first: the scan runs on one pool thread and each chunk is handed to
    /// the pool as soon as it is found, so the other threads fold while the
    /// scan goes on. Each pool thread keeps one accumulator (made by `init`
    /// on its first chunk), merged at the end. On errors, the one in the
    /// earliest chunk wins.
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
        // The failing chunk's index and its error; later chunks are skipped.
        let failed: Mutex<Option<(usize, Error)>> = Mutex::new(None);
        let stop = AtomicBool::new(false);
        // Chunks handed out and not finished. The scan is much faster than
        // the work, so past a few per thread it works on chunks itself
        // instead of running ahead: what waits (each chunk's record ends)
        // stays bounded whatever the file size.
        let in_flight = AtomicUsize::new(0);
        let max_in_flight = IN_FLIGHT_PER_THREAD * threads + IN_FLIGHT_PER_THREAD;
        let scan = rayon::scope(|s| {
            let (slots, failed, stop, init, fold) = (&slots, &failed, &stop, &init, &fold);
            let in_flight = &in_flight;
            self.scan_chunks_with_ends(target_bytes, true, SCAN_RELEASE_LAG, |c, ends| {
                while in_flight.load(Ordering::Acquire) >= max_in_flight {
                    if rayon::yield_now() != Some(rayon::Yield::Executed) {
                        std::thread::yield_now();
                    }
                }
                in_flight.fetch_add(1, Ordering::AcqRel);
                s.spawn(move |_| {
                    let _done = InFlight(in_flight);
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let slot = rayon::current_thread_index()
                        .unwrap_or(threads)
                        .min(threads);
                    // Only this thread uses its slot: the lock is never contended.
                    let mut acc = slots[slot].0.lock().unwrap_or_else(|p| p.into_inner());
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
                            let mut f = failed.lock().unwrap_or_else(|p| p.into_inner());
                            if f.as_ref().is_none_or(|(i, _)| c.index < *i) {
                                *f = Some((c.index, e));
                            }
                        }
                    }
                });
            })
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
