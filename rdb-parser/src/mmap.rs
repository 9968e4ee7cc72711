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
