//! Spent page buffers, handed back by the file writer for the encoders to
//! fill again.

use std::sync::Mutex;

use super::column::Column;

/// Spent column-chunk buffers, handed back by the file writer for the
/// encoders to fill again. Without them every encoded byte of
/// `keys.parquet` lands in memory fresh from the kernel, one page fault
/// per 4 KiB, row group after row group.
#[derive(Debug, Default)]
pub struct PageBuffers {
    /// Per column: buffers ready to be filled again (at most
    /// [`PageBuffers::PER_COLUMN`] each).
    free: Mutex<Vec<Vec<Vec<u8>>>>,
}

impl PageBuffers {
    /// Most buffers kept per column: about as many as are in flight at
    /// once (the writer's queue plus the row groups being filled). Kept
    /// buffers add to peak memory (10–15 MB on the benchmark file), but
    /// never more than this many per column, whatever the file size.
    pub const PER_COLUMN: usize = 4;

    /// Takes back a row group's spent buffers, in column order.
    pub fn give_back(&self, spent: Vec<Vec<u8>>) {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        if free.len() < spent.len() {
            free.resize_with(spent.len(), Vec::new);
        }
        for (mut b, kept) in spent.into_iter().zip(free.iter_mut()) {
            if kept.len() < Self::PER_COLUMN && b.capacity() > 0 {
                b.clear();
                kept.push(b);
            }
        }
    }

    /// Gives each column whose page buffer was taken one kept buffer, if any.
    pub(super) fn refill(&self, columns: &mut [Column]) {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        for (c, kept) in columns.iter_mut().zip(free.iter_mut()) {
            if c.pages.capacity() == 0 {
                if let Some(b) = kept.pop() {
                    c.pages = b;
                }
            }
        }
    }
}
