//! Guarded walks: a panic caught and described, with the time and memory
//! the walk took.

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;
use std::time::{Duration, Instant};

use rdb_parser::Error;

use super::alloc::peak_memory;
use super::walk::{walk_all, Walked};

thread_local! {
    pub(super) static QUIET: Cell<bool> = const { Cell::new(false) };
    pub(super) static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs (once) a panic hook that records the message and location of a
/// panic on this thread, and stays silent while `QUIET` is set.
pub(super) fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = if let Some(s) = info.payload().downcast_ref::<&str>() {
                (*s).to_string()
            } else if let Some(s) = info.payload().downcast_ref::<String>() {
                s.clone()
            } else {
                "(non-string panic payload)".to_string()
            };
            let loc = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_default();
            let _ = LAST_PANIC
                .try_with(|p| *p.borrow_mut() = Some(format!("panicked at {loc}: {msg}")));
            if !QUIET.try_with(Cell::get).unwrap_or(false) {
                default(info);
            }
        }));
    });
}

/// What one guarded walk did.
#[derive(Debug)]
pub(super) enum Outcome {
    Ok(Walked),
    Err(Error),
    Panic(String),
}

/// Walks `data` completely, catching a panic; also measures time and memory.
/// A walk slower than [`slow`] is timed again (the machine may just have
/// been busy), and the faster time is reported.
pub(super) fn guarded_walk(data: &[u8]) -> (Outcome, Duration, usize) {
    let (outcome, elapsed, peak) = guarded_walk_once(data);
    if elapsed > slow() && !matches!(outcome, Outcome::Panic(_)) {
        let (_, again, _) = guarded_walk_once(data);
        return (outcome, elapsed.min(again), peak);
    }
    (outcome, elapsed, peak)
}

/// How long one walk of a small input may take: generous, since a walk that
/// loops on a bad length takes far longer, and a busy machine stalls threads.
pub(super) fn slow() -> Duration {
    Duration::from_secs(if cfg!(debug_assertions) { 10 } else { 2 })
}

pub(super) fn guarded_walk_once(data: &[u8]) -> (Outcome, Duration, usize) {
    install_panic_hook();
    QUIET.with(|q| q.set(true));
    let t = Instant::now();
    let (r, peak) = peak_memory(|| catch_unwind(AssertUnwindSafe(|| walk_all(data))));
    let elapsed = t.elapsed();
    QUIET.with(|q| q.set(false));
    let outcome = match r {
        Ok(Ok(w)) => Outcome::Ok(w),
        Ok(Err(e)) => Outcome::Err(e),
        Err(_) => Outcome::Panic(
            LAST_PANIC
                .with(|p| p.borrow_mut().take())
                .unwrap_or_else(|| "panic".into()),
        ),
    };
    (outcome, elapsed, peak)
}
