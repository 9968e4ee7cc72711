//! Per-thread allocation accounting: a counting global allocator and the
//! peak memory a walk may take.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

pub(super) struct CountingAlloc;

thread_local! {
    pub(super) static LIVE: Cell<isize> = const { Cell::new(0) };
    pub(super) static PEAK: Cell<isize> = const { Cell::new(0) };
}

pub(super) fn note_alloc(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| {
            if now > peak.get() {
                peak.set(now);
            }
        });
    });
}

// The one unsafe block of the tests: a pass-through to the system allocator
// that counts bytes per thread.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size() as isize);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note_alloc(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_alloc(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
pub(super) static GLOBAL: CountingAlloc = CountingAlloc;

/// Runs `f` and returns its result with the most memory it held at once on
/// this thread (bytes above what was live when it started).
pub(super) fn peak_memory<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let r = f();
    let peak = PEAK.with(Cell::get);
    (r, (peak - base).max(0) as usize)
}

/// The most memory a walk of `len` input bytes may take: LZF strings are the
/// only thing decoded into owned memory, and a valid LZF stream expands at
/// most ~89 times.
pub(super) fn memory_budget(len: usize) -> usize {
    100 * len + (1 << 20)
}
