//! What a speculative fold is given: the accumulator callbacks, and the
//! database a guessed read labels its records with.

use crate::error::Result;
use crate::reader::Record;

/// The database a guessed start labels its records with until it meets a
/// SELECTDB (relabelled once the true one is known, through
/// [`SpeculativeFold::relabel`]).
pub const UNKNOWN_DB: u64 = u64::MAX;
/// What [`Rdb::par_fold_speculative`](crate::reader::Rdb::par_fold_speculative) does with the records.
pub struct SpeculativeFold<I, G, F, M, L> {
    /// Makes a thread's accumulator (for records read from a known start).
    pub init: I,
    /// Makes the accumulator of a segment read from a guessed start: it
    /// may be dropped, so until `merge` takes it in, nothing it holds may
    /// have left it.
    pub init_guessed: G,
    /// Adds one record to an accumulator.
    pub fold: F,
    /// Merges two accumulators (in any order: the result must not depend on it).
    pub merge: M,
    /// Sets the database of every record in a guessed accumulator that
    /// was read before its database was known.
    pub relabel: L,
}

/// The callbacks of a speculative fold over accumulators `T`: what
/// [`SpeculativeFold`] holds, as one bound.
pub trait FoldCallbacks<'a, T>: Sync {
    /// A thread's accumulator.
    fn init(&self) -> T;
    /// A guessed segment's accumulator.
    fn init_guessed(&self) -> T;
    /// Adds a record.
    fn fold(&self, acc: &mut T, record: &Record<'a>) -> Result<()>;
    /// Merges two accumulators.
    fn merge(&self, a: T, b: T) -> T;
    /// Sets the database of a guessed accumulator's records.
    fn relabel(&self, acc: &mut T, db: u64);
}

impl<'a, T, I, G, F, M, L> FoldCallbacks<'a, T> for SpeculativeFold<I, G, F, M, L>
where
    I: Fn() -> T + Sync,
    G: Fn() -> T + Sync,
    F: Fn(&mut T, &Record<'a>) -> Result<()> + Sync,
    M: Fn(T, T) -> T + Sync,
    L: Fn(&mut T, u64) + Sync,
{
    fn init(&self) -> T {
        (self.init)()
    }
    fn init_guessed(&self) -> T {
        (self.init_guessed)()
    }
    fn fold(&self, acc: &mut T, record: &Record<'a>) -> Result<()> {
        (self.fold)(acc, record)
    }
    fn merge(&self, a: T, b: T) -> T {
        (self.merge)(a, b)
    }
    fn relabel(&self, acc: &mut T, db: u64) {
        (self.relabel)(acc, db)
    }
}
