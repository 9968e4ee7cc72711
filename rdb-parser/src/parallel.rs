//! Parallel reading in chunks: a sequential boundary scan that reads only
//! lengths cuts the file into chunks of whole records; workers then decode
//! chunks independently. Results come back in file order, so a parallel
//! run equals a sequential one. (The analysis itself reads with no scan:
//! [`Rdb::par_fold_speculative`].)

use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use crate::error::Result;
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

/// How far ahead of a sequential reader (the boundary scan, a speculative
/// read) the file's lines are prefetched. The scan hops from record to
/// record and, without it, spent two thirds of its time waiting for each
/// record's first byte to come from memory.
const PREFETCH_AHEAD: usize = 2048;

/// Asks the CPU to fetch the lines ahead of a sequential reader, each once.
pub(crate) struct Prefetch<'a> {
    data: &'a [u8],
    next: usize,
}

impl<'a> Prefetch<'a> {
    pub(crate) fn new(data: &'a [u8], from: usize) -> Prefetch<'a> {
        Prefetch { data, next: from }
    }

    /// Prefetches the lines up to [`PREFETCH_AHEAD`] past `here`.
    #[inline]
    pub(crate) fn ahead_of(&mut self, here: usize) {
        let until = here.saturating_add(PREFETCH_AHEAD).min(self.data.len());
        self.next = self.next.max(here);
        while self.next < until {
            crate::mmap::prefetch(&self.data[self.next]);
            self.next += 64;
        }
    }
}

/// Default chunk size: large enough to amortize scheduling, small enough to
/// balance two to sixteen threads on a file of a few hundred megabytes.
pub const DEFAULT_CHUNK_BYTES: u64 = 4 << 20;

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
    fn new(rdb: &'r Rdb<'a>, target_bytes: u64) -> Scan<'r, 'a> {
        let records = rdb.records();
        let start = records.offset();
        Scan {
            rdb,
            records,
            target: target_bytes.max(1),
            behind: crate::mmap::ReleaseBehind::new(rdb.page_release(), start),
            prefetch: Prefetch::new(rdb.data(), start as usize),
        }
    }

    /// Steps over the next chunk's records.
    fn next_chunk(&mut self, index: usize) -> Result<Chunk> {
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
            if self.records.skip_key_record().is_some() {
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
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
            }
        }
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
        let mut scan = Scan::new(self, target_bytes);
        for index in 0.. {
            let chunk = scan.next_chunk(index)?;
            found(chunk);
            if chunk.last {
                break;
            }
        }
        Ok(())
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
                    p.next >= (here + PREFETCH_AHEAD).min(len),
                    "left a gap ahead of {here} of {len}"
                );
                assert!(p.next < len + 64, "ran past the end of {len}");
                last = p.next;
            }
        }
    }
}
