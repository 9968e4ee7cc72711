//! The shared state of one speculative fold: the segments, the verified
//! frontier, what a thread made of each segment, and how each was verified.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use super::callbacks::FoldCallbacks;
use crate::error::Error;
use crate::reader::Rdb;

/// What a thread made of one segment.
pub(super) enum Outcome<T> {
    /// Read from the verified frontier with its database, into the
    /// thread's own accumulator: ends where it says.
    Verified { end: u64, db: u64, last: bool },
    /// Read from a guessed start, whose head was stepped over: the
    /// records from `body` on are folded.
    Guessed {
        body: u64,
        end: u64,
        last: bool,
        /// Records before the first SELECTDB, database unknown.
        lead: T,
        /// Records from the first SELECTDB on, and the database at the end.
        rest: Option<(T, u64)>,
    },
    /// No start found in the window, or the head did not read.
    Unsynced,
}

/// The verified part of the file: every record before `offset` is folded.
pub(super) struct Frontier<T> {
    /// The next segment to verify.
    pub(super) next: usize,
    /// A record start (or the file's end): where verified reading stopped.
    pub(super) offset: u64,
    /// The database selected at `offset`.
    pub(super) db: u64,
    /// The EOF record was verified, or reading stopped on an error.
    pub(super) finished: bool,
    /// A thread is verifying segments.
    pub(super) busy: bool,
    /// Segments read and not yet verified.
    pub(super) pending: BTreeMap<usize, Outcome<T>>,
}

/// Counts of how segments were verified (for tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SpeculationStats {
    /// Read from the verified frontier directly.
    pub verified: usize,
    /// Read from a guess that proved right.
    pub guessed_right: usize,
    /// Read again from the frontier (no guess, or a wrong one).
    pub redone: usize,
    /// Lying wholly inside a record that began before them.
    pub covered: usize,
    /// Of `guessed_right`: guesses cut short at a big record, whose
    /// segment the verifier read on from there.
    pub cut: usize,
}

/// Sets `stop` and wakes the waiting threads if a worker unwinds, so that
/// a panic in `fold` reaches the caller instead of leaving them waiting.
pub(super) struct StopOnUnwind<'s, T> {
    pub(super) stop: &'s AtomicBool,
    pub(super) wake: &'s Condvar,
    /// Held while setting `stop`, so that no thread misses the wake-up.
    pub(super) frontier: &'s Mutex<Frontier<T>>,
}

impl<T> Drop for StopOnUnwind<'_, T> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _f = lock(self.frontier);
            self.stop.store(true, Ordering::SeqCst);
            self.wake.notify_all();
        }
    }
}

/// The shared state of one speculative fold.
pub(super) struct Speculation<'r, 'a, T, C> {
    pub(super) rdb: &'r Rdb<'a>,
    pub(super) base: u64,
    pub(super) segment: u64,
    pub(super) fns: &'r C,
    pub(super) progress: &'r AtomicU64,
    pub(super) frontier: Mutex<Frontier<T>>,
    pub(super) moved: Condvar,
    pub(super) stop: AtomicBool,
    pub(super) failed: Mutex<Option<Error>>,
    pub(super) taken: AtomicUsize,
    pub(super) ahead: usize,
    /// Threads reading.
    pub(super) threads: usize,
    pub(super) stats: Mutex<SpeculationStats>,
}

pub(super) fn lock<X>(m: &Mutex<X>) -> MutexGuard<'_, X> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<'a, T: Send, C: FoldCallbacks<'a, T>> Speculation<'_, 'a, T, C> {
    pub(super) fn len(&self) -> u64 {
        self.rdb.data().len() as u64
    }

    /// Where segment `k` begins (segment 0 at the first record).
    pub(super) fn bound(&self, k: usize) -> u64 {
        (k as u64)
            .saturating_mul(self.segment)
            .saturating_add(self.base)
            .min(self.len())
    }

    /// Where reading segment `k` stops: at the first record start at or
    /// past this (never, for the last segment: it reads to EOF, or to the
    /// error of a file without one).
    pub(super) fn until(&self, k: usize) -> u64 {
        match self.bound(k + 1) {
            b if b >= self.len() => u64::MAX,
            b => b,
        }
    }
}

/// How a segment was verified.
#[derive(Clone, Copy)]
pub(super) enum Step {
    Verified,
    GuessedRight,
    GuessedCut,
    Redone,
    Covered,
}

impl Step {
    pub(super) fn count(self, s: &mut SpeculationStats) {
        match self {
            Step::Verified => s.verified += 1,
            Step::GuessedRight => s.guessed_right += 1,
            Step::GuessedCut => {
                s.guessed_right += 1;
                s.cut += 1;
            }
            Step::Redone => s.redone += 1,
            Step::Covered => s.covered += 1,
        }
    }
}
