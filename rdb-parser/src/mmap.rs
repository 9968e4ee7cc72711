//! Memory-mapping a file, giving pages back, and prefetching cache lines:
//! the one place in the crate that uses `unsafe`.

use std::fs::File;
use std::io;

pub use memmap2::Mmap;

/// Maps `file` read-only and advises the kernel that it will be read
/// front to back, in huge pages where it can.
///
/// Huge pages: where the page cache holds a 2 MB folio of the file (Linux
/// reads a file into such folios when it reads it from disk with enough
/// readahead), a mapping at a 2 MB-aligned address (where Linux 6.18
/// placed a large file's mapping on ext4) takes it with one page-table
/// entry instead of 512, which saves both the page faults and, when pages
/// are given back ([`PageRelease`]), the unmapping. `MADV_HUGEPAGE` also
/// makes the kernel read a file that is not cached yet into 2 MB folios
/// when the mapping faults, whatever the device's readahead setting. A
/// file whose cached pages are small (one just written, by a server's
/// save or a copy) is mapped page by page as before.
///
/// # Safety
/// The caller guarantees that nobody modifies or truncates the file while
/// the map is alive: a truncated mapped file makes reads fault. RDB
/// snapshots are written to a temporary name and renamed into place, so a
/// finished snapshot is not modified; do not map a file a server is still
/// writing.
#[allow(unsafe_code)]
pub unsafe fn map(file: &File) -> io::Result<Mmap> {
    // Safety: forwarded to the caller (see above).
    let map = unsafe { Mmap::map(file)? };
    #[cfg(unix)]
    {
        let _ = map.advise(memmap2::Advice::Sequential);
    }
    // Refused where the kernel has no transparent huge pages: a hint only.
    #[cfg(target_os = "linux")]
    {
        let _ = map.advise(memmap2::Advice::HugePage);
    }
    Ok(map)
}

/// Gives back resident pages of a mapped file once they have been read, so
/// that reading a file (or one huge value) does not raise the process's
/// resident memory by the file's size. Implemented for [`Mmap`]; pass it to
/// `Rdb::with_page_release`.
pub trait PageRelease: Sync {
    /// The bytes `start..end` of the input will not be needed soon.
    fn release(&self, start: u64, end: u64);

    /// The bytes `start..end` of the input will be read soon: a hint to
    /// start reading them from disk now, so that a parallel read of a
    /// file not in the page cache finds its next segments there instead
    /// of waiting for each. (Nothing by default.)
    fn read_ahead(&self, _start: u64, _end: u64) {}
}

impl PageRelease for Mmap {
    #[allow(unsafe_code)]
    fn release(&self, start: u64, end: u64) {
        let end = (end as usize).min(self.len());
        let start = (start as usize).min(end);
        // Not for a few pages: a system call for nothing much. (A
        // speculative read's verifier gives back segment heads of 64 KB.)
        if end - start < (64 << 10) {
            return;
        }
        #[cfg(unix)]
        {
            // Safety: this is a read-only mapping of a file that is not
            // modified while mapped (the contract of `map`). MADV_DONTNEED on
            // such a mapping only drops the pages from this process: the next
            // access reads the same bytes back from the file, so slices that
            // borrow the map stay valid and unchanged.
            let _ = unsafe {
                self.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
            };
        }
    }

    fn read_ahead(&self, start: u64, end: u64) {
        let end = (end as usize).min(self.len());
        let start = (start as usize).min(end);
        if start == end {
            return;
        }
        // MADV_WILLNEED on a file mapping queues the reads and returns
        // (cached pages are skipped: about 2 ms a gigabyte).
        #[cfg(unix)]
        {
            let _ = self.advise_range(memmap2::Advice::WillNeed, start, end - start);
        }
    }
}

/// Calls [`PageRelease::release`] behind a reader that moves forward, once
/// per `STEP` bytes.
#[derive(Clone, Copy)]
pub(crate) struct ReleaseBehind<'a> {
    release: Option<&'a dyn PageRelease>,
    last: u64,
    /// How far behind the reader pages are kept.
    lag: u64,
}

impl<'a> ReleaseBehind<'a> {
    const STEP: u64 = 32 << 20;

    pub(crate) fn new(release: Option<&'a dyn PageRelease>, from: u64) -> ReleaseBehind<'a> {
        ReleaseBehind::lagging(release, from, 0)
    }

    /// Keeps the last `lag` bytes before the reader (which others still
    /// read) and releases what lies further behind.
    pub(crate) fn lagging(
        release: Option<&'a dyn PageRelease>,
        from: u64,
        lag: u64,
    ) -> ReleaseBehind<'a> {
        ReleaseBehind {
            release,
            last: from,
            lag,
        }
    }

    /// The reader is at `offset`: release what lies behind it in big steps.
    #[inline]
    pub(crate) fn at(&mut self, offset: u64) {
        if let Some(r) = self.release {
            if offset >= self.last + self.lag + Self::STEP {
                let upto = offset - self.lag;
                r.release(self.last, upto);
                self.last = upto;
            }
        }
    }
}

/// Asks the CPU to bring in the cache line that holds the start of `r`, so
/// that whoever gets there later does not wait for memory: a sequential
/// reader's lines ahead, or a counter picked by the key's hash (a cluster
/// slot's) that is updated once other work is done. A hint only: it
/// changes no value.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
#[allow(unsafe_code)]
pub fn prefetch<T>(r: &T) {
    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
    // SAFETY: SSE is part of the x86_64 baseline, so the instruction exists;
    // a prefetch is a hint that reads nothing and cannot fault, and `r` is a
    // valid reference anyway.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(r).cast()) }
}

/// Asks the CPU to bring in the cache line that holds the start of `r`
/// (no prefetch instruction on this target).
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
pub fn prefetch<T>(_: &T) {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records the ranges given back.
    struct Log(Mutex<Vec<(u64, u64)>>);

    impl PageRelease for Log {
        fn release(&self, start: u64, end: u64) {
            self.0.lock().expect("not poisoned").push((start, end));
        }
    }

    #[test]
    fn a_lagging_release_keeps_the_window_and_gives_back_the_rest() {
        for lag in [0, 64 << 20] {
            let log = Log(Mutex::new(Vec::new()));
            let mut behind = ReleaseBehind::lagging(Some(&log), 1000, lag);
            let mut at = 1000;
            while at < 1 << 30 {
                at += 3 << 20;
                behind.at(at);
                let given = log.0.lock().expect("not poisoned");
                if let Some(&(_, end)) = given.last() {
                    assert!(end + lag <= at, "released {end} with the reader at {at}");
                }
            }
            let given = log.0.into_inner().expect("not poisoned");
            // In order, without gaps, from the start to within a step of
            // the window.
            assert_eq!(given[0].0, 1000);
            assert!(given.windows(2).all(|w| w[0].1 == w[1].0));
            assert!(given.last().expect("some").1 + lag + ReleaseBehind::STEP > at);
        }
    }
}
