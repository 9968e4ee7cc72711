//! Memory-mapping a file: the one place in the crate that uses `unsafe`.

use std::fs::File;
use std::io;

pub use memmap2::Mmap;

/// Maps `file` read-only and advises the kernel that it will be read
/// front to back.
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
    Ok(map)
}

/// Gives back resident pages of a mapped file once they have been read, so
/// that reading a file (or one huge value) does not raise the process's
/// resident memory by the file's size. Implemented for [`Mmap`]; pass it to
/// [`crate::Rdb::with_page_release`].
pub trait PageRelease: Sync {
    /// The bytes `start..end` of the input will not be needed soon.
    fn release(&self, start: u64, end: u64);
}

impl PageRelease for Mmap {
    #[allow(unsafe_code)]
    fn release(&self, start: u64, end: u64) {
        let end = (end as usize).min(self.len());
        let start = (start as usize).min(end);
        if end - start < (1 << 20) {
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
}

/// Calls [`PageRelease::release`] behind a reader that moves forward, once
/// per `STEP` bytes.
#[derive(Clone, Copy)]
pub(crate) struct ReleaseBehind<'a> {
    release: Option<&'a dyn PageRelease>,
    last: u64,
}

impl<'a> ReleaseBehind<'a> {
    const STEP: u64 = 32 << 20;

    pub(crate) fn new(release: Option<&'a dyn PageRelease>, from: u64) -> ReleaseBehind<'a> {
        ReleaseBehind {
            release,
            last: from,
        }
    }

    /// The reader is at `offset`: release what lies behind it in big steps.
    #[inline]
    pub(crate) fn at(&mut self, offset: u64) {
        if let Some(r) = self.release {
            if offset >= self.last + Self::STEP {
                r.release(self.last, offset);
                self.last = offset;
            }
        }
    }
}
