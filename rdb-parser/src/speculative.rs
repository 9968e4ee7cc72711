//! Parallel reading with no boundary scan: the file is cut at fixed
//! offsets into segments, and each thread finds a record start near the
//! beginning of its segment by trial, steps over the segment's head by
//! lengths alone, and folds the rest (the body). Whether the guess was
//! right is known once the segment before it has been read: the thread
//! that verifies the segment reads its head from where the true records
//! of the segment before end, and the body counts only if those true
//! records reach its first record exactly. A start guessed inside a value
//! (bytes that happen to read as records) mostly falls in step with the
//! true records within the head, so the body still counts; otherwise the
//! segment is read again from the right place. Either way the result
//! equals a sequential read.
//!
//! A guessed start does not know its database: the body's records before
//! its first SELECTDB are folded into an accumulator of their own,
//! labelled with the database once the head has been read.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::parallel::Prefetch;
use crate::reader::{Rdb, Record, Records};
use crate::types::{opcode, Magic, ValueType};

/// Records that must read cleanly from a candidate offset before a
/// segment's read starts there: a value's bytes seldom look like sixteen
/// records in a row (and when they do, the read is checked and redone).
const SYNC_RECORDS: usize = 16;

/// How far into its segment a thread looks for a record start. A start
/// beyond (a segment that begins inside a large value) is left to the
/// sequential read that reaches it: an offset inside a value costs up to
/// a hundred nanoseconds to turn away, and wider windows cost more than
/// the reads they saved (1 GB benchmark file: 64 KB cost 20 ms of CPU
/// time more than 16 KB, for no segment more).
const SYNC_WINDOW: u64 = 16 << 10;

/// How much of a segment, after its guessed start, a thread steps over
/// unread (at most a sixteenth of a segment); the thread that verifies
/// the segment reads it. A start guessed inside a value (bytes that
/// happen to read as records) mostly falls in step with the file's
/// records within a few records, and its body then still counts.
const HEAD_BYTES: u64 = 64 << 10;

/// The largest record a guessed read takes: a larger one ends the guess,
/// and the thread that verifies the segment reads it. A start guessed
/// inside a large value can read on through records made of its bytes,
/// whose made-up lengths (an LZF string decompresses to up to 89 times
/// its size) would otherwise cost memory for nothing.
const MAX_GUESSED_RECORD: u64 = 1 << 20;

/// Segments read ahead of the last verified one, per thread: each waits
/// with its accumulators, so this bounds memory.
const AHEAD_PER_THREAD: usize = 4;

/// The database a guessed start labels its records with until it meets a
/// SELECTDB (relabelled once the true one is known, through
/// [`SpeculativeFold::relabel`]).
pub const UNKNOWN_DB: u64 = u64::MAX;

/// What a thread made of one segment.
enum Outcome<T> {
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
struct Frontier<T> {
    /// The next segment to verify.
    next: usize,
    /// A record start (or the file's end): where verified reading stopped.
    offset: u64,
    /// The database selected at `offset`.
    db: u64,
    /// The EOF record was verified, or reading stopped on an error.
    finished: bool,
    /// A thread is verifying segments.
    busy: bool,
    /// Segments read and not yet verified.
    pending: BTreeMap<usize, Outcome<T>>,
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
struct StopOnUnwind<'s, T> {
    stop: &'s AtomicBool,
    wake: &'s Condvar,
    /// Held while setting `stop`, so that no thread misses the wake-up.
    frontier: &'s Mutex<Frontier<T>>,
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
struct Speculation<'r, 'a, T, C> {
    rdb: &'r Rdb<'a>,
    base: u64,
    segment: u64,
    fns: &'r C,
    progress: &'r AtomicU64,
    frontier: Mutex<Frontier<T>>,
    moved: Condvar,
    stop: AtomicBool,
    failed: Mutex<Option<Error>>,
    taken: AtomicUsize,
    ahead: usize,
    stats: Mutex<SpeculationStats>,
}

fn lock<X>(m: &Mutex<X>) -> MutexGuard<'_, X> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<'a, T: Send, C: FoldCallbacks<'a, T>> Speculation<'_, 'a, T, C> {
    fn len(&self) -> u64 {
        self.rdb.data().len() as u64
    }

    /// Where segment `k` begins (segment 0 at the first record).
    fn bound(&self, k: usize) -> u64 {
        (k as u64)
            .saturating_mul(self.segment)
            .saturating_add(self.base)
            .min(self.len())
    }

    /// Where reading segment `k` stops: at the first record start at or
    /// past this (never, for the last segment: it reads to EOF, or to the
    /// error of a file without one).
    fn until(&self, k: usize) -> u64 {
        match self.bound(k + 1) {
            b if b >= self.len() => u64::MAX,
            b => b,
        }
    }

    /// Merges a guessed segment's accumulator into the thread's (never
    /// adopting it as the thread's: `merge` is where it gives up what it
    /// held back).
    fn merge_into(&self, acc: &mut Option<T>, part: T) {
        let a = acc.take().unwrap_or_else(|| self.fns.init());
        *acc = Some(self.fns.merge(a, part));
    }

    /// Folds the records from `from` (a record start) until the first
    /// record start at or past `until`, or the EOF record. Returns where
    /// reading stopped and whether it read EOF.
    fn read_from(
        &self,
        records: &mut Records<'a>,
        until: u64,
        each: impl FnMut(&Record<'a>) -> Result<()>,
    ) -> Result<(u64, bool)> {
        self.read_from_tracking(records, until, &mut 0, each)
    }

    /// [`Self::read_from`], keeping in `at` the start of the record being
    /// read (on an error: the record that failed).
    fn read_from_tracking(
        &self,
        records: &mut Records<'a>,
        until: u64,
        at: &mut u64,
        mut each: impl FnMut(&Record<'a>) -> Result<()>,
    ) -> Result<(u64, bool)> {
        let mut prefetch = Prefetch::new(self.rdb.data(), records.offset() as usize);
        loop {
            let here = records.offset();
            *at = here;
            if here >= until {
                return Ok((here, false));
            }
            prefetch.ahead_of(here as usize);
            // Looked at in place (`ref`): a record is not copied out.
            match records.next_record() {
                Ok(None) => return Ok((self.len(), true)),
                Ok(Some(ref r)) => {
                    each(r)?;
                    if matches!(r, Record::Eof { .. }) {
                        return Ok((self.len(), true));
                    }
                }
                Err(e) => return Err(e.with_version(records.version())),
            }
        }
    }

    /// A read from the verified frontier into the thread's accumulator.
    fn read_verified(
        &self,
        acc: &mut Option<T>,
        from: u64,
        db: u64,
        until: u64,
    ) -> Result<(u64, u64, bool)> {
        let mut records = Records::new(*self.rdb, from as usize, self.len() as usize, db, true);
        let a = acc.get_or_insert_with(|| self.fns.init());
        let r = self.read_from(&mut records, until, |r| self.fns.fold(a, r));
        self.release(from, records.offset());
        let (end, last) = r?;
        Ok((end, records.db(), last))
    }

    fn release(&self, start: u64, end: u64) {
        if let Some(r) = self.rdb.page_release() {
            r.release(start, end);
        }
    }

    /// Whether [`SYNC_RECORDS`] records (or fewer, then EOF and nothing
    /// after it but the checksum) read cleanly from `at`, each beginning
    /// like a record this file's writer would write.
    fn syncs_at(&self, at: u64) -> bool {
        if !self.looks_like_record(at) {
            return false;
        }
        let mut r = self.guessed_records(at, at.saturating_add(MAX_GUESSED_RECORD));
        for _ in 0..SYNC_RECORDS {
            if !self.looks_like_record(r.offset()) {
                return false;
            }
            let at = r.offset();
            if let Some(end) = r.skip_key_record() {
                if end - at > MAX_GUESSED_RECORD {
                    return false;
                }
                continue;
            }
            // A value type that did not step over is no record (asking
            // `next` would only build the error).
            if self.rdb.data()[at as usize] < opcode::KEY_META {
                return false;
            }
            match r.next() {
                Some(Ok(Record::Eof { trailing_bytes, .. })) => return trailing_bytes == 0,
                Some(Ok(_)) => {}
                _ => return false,
            }
        }
        true
    }

    /// A quick look at the first bytes at `at`, turning most offsets away
    /// before a trial read: an opcode, or a value type that the file's
    /// version is written with followed by a key that is not empty. (A
    /// file breaking these rules is read correctly all the same, its
    /// segments then from the verified frontier.)
    fn looks_like_record(&self, at: u64) -> bool {
        let data = self.rdb.data();
        let Some(&b) = data.get(at as usize) else {
            return false;
        };
        if b >= opcode::KEY_META {
            return true;
        }
        let Some(vt) = ValueType::from_byte(b, self.rdb.magic()) else {
            return false;
        };
        // Types Redis stopped writing before RDB 10 (7.0): in a newer file
        // they are more likely integers inside a value than a record.
        let legacy = matches!(
            vt,
            ValueType::List
                | ValueType::Zset
                | ValueType::ModulePreGa
                | ValueType::HashZipmap
                | ValueType::ListZiplist
                | ValueType::ZsetZiplist
                | ValueType::HashZiplist
                | ValueType::ListQuicklist
                | ValueType::StreamListpacks
        );
        let modern = self.rdb.version() >= 10 || self.rdb.magic() == Magic::Valkey;
        !(legacy && modern) && data.get(at as usize + 1).is_some_and(|&len| len != 0)
    }

    /// Records from a guessed start `at`, read no further than `limit`:
    /// made-up lengths then cannot send a trial across the file, touching
    /// pages nobody gives back (a 2 GB file's resident pages grew to 10 %
    /// of it). Whatever lies past `limit` is left to the verified read.
    fn guessed_records(&self, at: u64, limit: u64) -> Records<'a> {
        let end = limit.min(self.len()) as usize;
        Records::new(*self.rdb, at as usize, end, UNKNOWN_DB, true)
    }

    /// Reads segment `k` from the first offset in its window that looks
    /// like a record start, then gives back the pages it read (no guessed
    /// read goes past the segment's end by more than the largest record
    /// it takes).
    fn read_guessed(&self, k: usize) -> Outcome<T> {
        let (from, until) = (self.bound(k), self.until(k));
        let outcome = self.read_guessed_from(from, until);
        self.release(from, until.saturating_add(MAX_GUESSED_RECORD));
        outcome
    }

    fn read_guessed_from(&self, from: u64, until: u64) -> Outcome<T> {
        let window = until.min(self.len()).min(from.saturating_add(SYNC_WINDOW));
        let Some(start) = (from..window).find(|&at| self.syncs_at(at)) else {
            return Outcome::Unsynced;
        };
        // Step over the head by lengths alone: a start guessed inside a
        // value mostly falls in step with the true records within it.
        let head = HEAD_BYTES.min(self.segment / 16);
        let head_end = start.saturating_add(head).min(until);
        let mut records = self.guessed_records(start, head_end.saturating_add(MAX_GUESSED_RECORD));
        while records.offset() < head_end {
            let at = records.offset();
            if let Some(end) = records.skip_key_record() {
                if end - at > MAX_GUESSED_RECORD {
                    // A big record: the verified read takes it, and the
                    // rest of the segment (an empty guessed body).
                    return self.cut_guess(at, until, self.fns.init_guessed(), None);
                }
                continue;
            }
            if self.rdb.data().get(records.offset() as usize) == Some(&opcode::EOF) {
                break;
            }
            if !matches!(records.next(), Some(Ok(_))) {
                return Outcome::Unsynced;
            }
        }
        let body = records.offset();
        if body >= until {
            return Outcome::Unsynced;
        }
        let mut records = self.guessed_records(body, until.saturating_add(MAX_GUESSED_RECORD));
        let mut lead = self.fns.init_guessed();
        let mut rest: Option<T> = None;
        let mut failed_at = body;
        let mut fold_failed = false;
        let read = self.read_from_tracking(&mut records, until, &mut failed_at, |r| {
            if let Record::Entry(e) = r {
                if e.record_end - e.record_start > MAX_GUESSED_RECORD {
                    return Err(Error::malformed(
                        "a record small enough for a guessed read",
                        e.record_start,
                        Some(e.record_end - e.record_start),
                    ));
                }
            }
            if matches!(r, Record::SelectDb(_)) && rest.is_none() {
                rest = Some(self.fns.init_guessed());
            }
            let folded = self.fns.fold(rest.as_mut().unwrap_or(&mut lead), r);
            fold_failed = folded.is_err();
            folded
        });
        let rest = rest.map(|t| (t, records.db()));
        match read {
            Ok((end, last)) => Outcome::Guessed {
                body,
                end,
                last,
                lead,
                rest,
            },
            // The fold may have taken part of the record it failed on:
            // this accumulator cannot be kept.
            Err(_) if fold_failed => Outcome::Unsynced,
            // A record too big for a guessed read (or one that does not
            // read: then the guess is likely wrong, which the check finds):
            // the guessed body ends before it, and the verified read takes
            // it and the rest of the segment. (A segment holding a big key
            // is not read again whole for it.)
            Err(_) => self.cut_guess(body, failed_at, lead, rest),
        }
    }

    /// A guess whose body (`body..cut`) ends before its segment does: the
    /// verifier reads on from `cut`, from the true records.
    fn cut_guess(&self, body: u64, cut: u64, lead: T, rest: Option<(T, u64)>) -> Outcome<T> {
        Outcome::Guessed {
            body,
            end: cut,
            last: false,
            lead,
            rest,
        }
    }

    /// Verifies a segment read from a guess, reading its head from the
    /// frontier `from` (database `db`) into `acc` first: the guessed body
    /// counts if the true records reach its first record exactly;
    /// otherwise reading goes on to the segment's end.
    #[allow(clippy::too_many_arguments)]
    fn verify_guess(
        &self,
        acc: &mut Option<T>,
        from: u64,
        db: u64,
        until: u64,
        body: u64,
        guess: (u64, bool, T, Option<(T, u64)>),
    ) -> (Result<(u64, u64, bool)>, Step) {
        let (end, last, mut lead, rest) = guess;
        let mut records = Records::new(*self.rdb, from as usize, self.len() as usize, db, true);
        let a = acc.get_or_insert_with(|| self.fns.init());
        let head = self.read_from(&mut records, body, |r| self.fns.fold(a, r));
        let reached = match head {
            Ok((at, false)) => at,
            Ok((at, true)) => {
                self.release(from, at);
                return (Ok((at, records.db(), true)), Step::Redone);
            }
            Err(e) => return (Err(e), Step::Redone),
        };
        if reached == body {
            self.release(from, body);
            let db = records.db();
            self.fns.relabel(&mut lead, db);
            self.merge_into(acc, lead);
            let end_db = match rest {
                Some((rest, end_db)) => {
                    self.merge_into(acc, rest);
                    end_db
                }
                None => db,
            };
            if end < until && !last {
                // The guess was cut short (at a big record): the rest of
                // the segment is read here, from the true records.
                return (
                    self.read_verified(acc, end, end_db, until),
                    Step::GuessedCut,
                );
            }
            return (Ok((end, end_db, last)), Step::GuessedRight);
        }
        drop(lead);
        let a = acc.get_or_insert_with(|| self.fns.init());
        let r = self.read_from(&mut records, until, |r| self.fns.fold(a, r));
        self.release(from, records.offset());
        (r.map(|(end, last)| (end, records.db(), last)), Step::Redone)
    }

    fn fail(&self, e: Error) {
        let mut f = lock(&self.failed);
        // Verification runs in file order: the first error is the earliest.
        if f.is_none() {
            *f = Some(e);
        }
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Hands in segment `k`'s outcome, then verifies segments in order
    /// unless another thread is doing so.
    fn hand_in(&self, acc: &mut Option<T>, k: usize, outcome: Outcome<T>) {
        let mut f = lock(&self.frontier);
        f.pending.insert(k, outcome);
        if f.busy {
            return;
        }
        f.busy = true;
        while !f.finished && !self.stop.load(Ordering::SeqCst) {
            let k = f.next;
            let Some(outcome) = f.pending.remove(&k) else {
                break;
            };
            let (from, db) = (f.offset, f.db);
            drop(f);
            let until = self.until(k);
            let (verdict, step) = if from >= until {
                // Inside a record that began in an earlier segment.
                (Ok((from, db, false)), Step::Covered)
            } else {
                match outcome {
                    Outcome::Verified { end, db, last } => (Ok((end, db, last)), Step::Verified),
                    Outcome::Guessed {
                        body,
                        end,
                        last,
                        lead,
                        rest,
                    } if from <= body && body < until => {
                        self.verify_guess(acc, from, db, until, body, (end, last, lead, rest))
                    }
                    _ => (self.read_verified(acc, from, db, until), Step::Redone),
                }
            };
            f = lock(&self.frontier);
            match verdict {
                Ok((end, db, last)) => {
                    self.progress.fetch_add(end - from, Ordering::Relaxed);
                    f.offset = end;
                    f.db = db;
                    f.next = k + 1;
                    f.finished = last;
                    step.count(&mut lock(&self.stats));
                }
                Err(e) => {
                    self.fail(e);
                    f.finished = true;
                }
            }
            self.moved.notify_all();
        }
        f.busy = false;
        if f.finished {
            f.pending.clear();
        }
        self.moved.notify_all();
    }

    /// One thread's loop: takes segments in order and reads each, from
    /// the frontier when every earlier one is verified, else from a guess.
    fn work(&self) -> Option<T> {
        let _unwind = StopOnUnwind {
            stop: &self.stop,
            wake: &self.moved,
            frontier: &self.frontier,
        };
        let mut acc = None;
        loop {
            let k = self.taken.fetch_add(1, Ordering::SeqCst);
            if self.bound(k) >= self.len() && k > 0 {
                break;
            }
            let mut f = lock(&self.frontier);
            while !f.finished && !self.stop.load(Ordering::SeqCst) && k > f.next + self.ahead {
                f = self.moved.wait(f).unwrap_or_else(|p| p.into_inner());
            }
            if f.finished || self.stop.load(Ordering::SeqCst) {
                break;
            }
            let outcome = if f.next == k {
                let (from, db) = (f.offset, f.db);
                drop(f);
                let until = self.until(k);
                if from >= until {
                    Outcome::Unsynced
                } else {
                    match self.read_verified(&mut acc, from, db, until) {
                        Ok((end, db, last)) => Outcome::Verified { end, db, last },
                        Err(e) => {
                            self.fail(e);
                            let mut f = lock(&self.frontier);
                            f.finished = true;
                            self.moved.notify_all();
                            drop(f);
                            break;
                        }
                    }
                }
            } else if f.offset >= self.until(k) {
                // Inside a record already read (a large value that spans
                // segments): nothing to guess.
                drop(f);
                Outcome::Unsynced
            } else {
                drop(f);
                self.read_guessed(k)
            };
            self.hand_in(&mut acc, k, outcome);
        }
        acc
    }
}

/// How a segment was verified.
#[derive(Clone, Copy)]
enum Step {
    Verified,
    GuessedRight,
    GuessedCut,
    Redone,
    Covered,
}

impl Step {
    fn count(self, s: &mut SpeculationStats) {
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

/// What [`Rdb::par_fold_speculative`] does with the records.
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

impl<'a> Rdb<'a> {
    /// Folds every record into per-thread accumulators, with no boundary
    /// scan: the file is cut into segments of `segment_bytes` and each
    /// thread finds a record start in its segment by trial (see the module
    /// notes). `fold` may be given records that are not the file's (a
    /// wrong guess), always in an accumulator from `init_guessed` that is
    /// then dropped. Records read from a guess before any SELECTDB go into
    /// an accumulator of their own, whose database `relabel` sets once
    /// known (they all share it). With one thread this is a sequential
    /// read. On an error, the earliest in the file wins, exactly as a
    /// sequential read reports it.
    pub fn par_fold_speculative<T: Send>(
        &self,
        segment_bytes: u64,
        progress: &AtomicU64,
        fns: impl FoldCallbacks<'a, T>,
    ) -> Result<T> {
        self.par_fold_speculative_counted(segment_bytes, progress, fns)
            .map(|(t, _)| t)
    }

    /// [`Rdb::par_fold_speculative`], also counting how segments were verified.
    pub(crate) fn par_fold_speculative_counted<T: Send>(
        &self,
        segment_bytes: u64,
        progress: &AtomicU64,
        fns: impl FoldCallbacks<'a, T>,
    ) -> Result<(T, SpeculationStats)> {
        let threads = rayon::current_num_threads().max(1);
        let first = self.records();
        let s = Speculation {
            rdb: self,
            base: first.offset(),
            segment: segment_bytes.max(1),
            fns: &fns,
            progress,
            frontier: Mutex::new(Frontier {
                next: 0,
                offset: first.offset(),
                db: first.db(),
                finished: false,
                busy: false,
                pending: BTreeMap::new(),
            }),
            moved: Condvar::new(),
            stop: AtomicBool::new(false),
            failed: Mutex::new(None),
            taken: AtomicUsize::new(0),
            ahead: AHEAD_PER_THREAD * threads,
            stats: Mutex::new(SpeculationStats::default()),
        };
        let results: Mutex<Vec<T>> = Mutex::new(Vec::new());
        rayon::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|_| {
                    if let Some(t) = s.work() {
                        lock(&results).push(t);
                    }
                });
            }
        });
        if let Some(e) = s.failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e);
        }
        let stats = *lock(&s.stats);
        let t = results
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .into_iter()
            .reduce(|a, b| fns.merge(a, b))
            .unwrap_or_else(|| fns.init());
        Ok((t, stats))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Key = (u64, Vec<u8>, u64);

    /// An RDB 11 of `n` string keys over three databases (some with an
    /// expire time). With `lookalike`, each value is itself a run of
    /// string records, so that guessed starts inside values read cleanly
    /// and prove wrong only when checked.
    fn sample_rdb(n: usize, lookalike: bool) -> Vec<u8> {
        fn string_record(f: &mut Vec<u8>, key: &[u8], value: &[u8]) {
            f.push(0);
            f.push(key.len() as u8);
            f.extend_from_slice(key);
            f.extend_from_slice(&[0x40 | (value.len() >> 8) as u8, value.len() as u8]);
            f.extend_from_slice(value);
        }
        let mut f = b"REDIS0011".to_vec();
        for i in 0..n {
            if i % (n / 3).max(1) == 0 {
                f.extend_from_slice(&[0xfe, (i / (n / 3).max(1)) as u8]);
            }
            if i % 7 == 0 {
                f.push(0xfc);
                f.extend_from_slice(&(1_700_000_000_000i64 + i as i64).to_le_bytes());
            }
            let mut value = Vec::new();
            if lookalike {
                for j in 0..(i % 40) {
                    string_record(&mut value, format!("fake:{j}").as_bytes(), b"xyz");
                }
            } else {
                value.extend(std::iter::repeat_n(b'v', i % 200));
            }
            string_record(&mut f, format!("key:{i}").as_bytes(), &value);
        }
        f.push(0xff);
        f.extend_from_slice(&[0; 8]);
        f
    }

    fn sequential_keys(data: &[u8]) -> Vec<Key> {
        let rdb = Rdb::new(data).expect("valid");
        let mut buf = Vec::new();
        rdb.entries()
            .map(|e| {
                let e = e.expect("valid");
                let key = e.key.bytes(&mut buf).expect("raw").to_vec();
                (e.db, key, e.record_start)
            })
            .collect()
    }

    /// Every key as the speculative fold sees it, in file order, and how
    /// its segments were verified.
    fn fold_keys(
        data: &[u8],
        threads: usize,
        segment: u64,
    ) -> Result<(Vec<Key>, SpeculationStats)> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a pool");
        let rdb = Rdb::new(data)?;
        let done = AtomicU64::new(0);
        let (mut keys, stats) = pool.install(|| {
            rdb.par_fold_speculative_counted(
                segment,
                &done,
                SpeculativeFold {
                    init: Vec::new,
                    init_guessed: Vec::new,
                    fold: |acc: &mut Vec<Key>, r: &Record<'_>| {
                        if let Record::Entry(e) = r {
                            let mut buf = Vec::new();
                            acc.push((e.db, e.key.bytes(&mut buf)?.to_vec(), e.record_start));
                        }
                        Ok(())
                    },
                    merge: |mut a: Vec<Key>, b| {
                        a.extend(b);
                        a
                    },
                    relabel: |acc: &mut Vec<Key>, db| {
                        for k in acc.iter_mut() {
                            assert_eq!(k.0, UNKNOWN_DB, "relabelled a known database");
                            k.0 = db;
                        }
                    },
                },
            )
        })?;
        assert_eq!(done.load(Ordering::Relaxed), data.len() as u64 - 9);
        keys.sort_by_key(|k| k.2);
        Ok((keys, stats))
    }

    #[test]
    fn speculative_fold_sees_every_key_once_with_its_database() {
        let mut total = SpeculationStats::default();
        for lookalike in [false, true] {
            let data = sample_rdb(3000, lookalike);
            let expected = sequential_keys(&data);
            assert_eq!(expected.len(), 3000);
            assert_eq!(expected.last().map(|k| k.0), Some(2));
            for threads in [1, 2, 3] {
                for segment in [7, 100, 4096, 64 << 10, 1 << 30] {
                    let (got, stats) = fold_keys(&data, threads, segment).expect("valid");
                    assert!(
                        got == expected,
                        "lookalike {lookalike}: {threads} threads, segments of {segment}"
                    );
                    if threads == 1 {
                        assert_eq!(stats.guessed_right + stats.redone, 0, "one thread guessed");
                    }
                    total.verified += stats.verified;
                    total.guessed_right += stats.guessed_right;
                    total.redone += stats.redone;
                    total.covered += stats.covered;
                }
            }
        }
        // Every path was taken: guesses right and wrong, segments inside a record.
        assert!(total.guessed_right > 0, "{total:?}");
        assert!(total.redone > 0, "{total:?}");
        assert!(total.covered > 0, "{total:?}");
    }

    #[test]
    fn a_big_record_cuts_a_guess_short_and_its_segment_is_not_read_again() {
        // 30,000 small strings with a 1.5 MB string (more than a guessed
        // read takes) after every 6,000th.
        let mut f = b"REDIS0011".to_vec();
        f.extend_from_slice(&[0xfe, 0]);
        let big = vec![b'v'; (MAX_GUESSED_RECORD + (MAX_GUESSED_RECORD >> 1)) as usize];
        for i in 0..30_000u32 {
            let key = format!("key:{i}");
            let value = format!("value-{i}");
            f.push(0);
            f.push(key.len() as u8);
            f.extend_from_slice(key.as_bytes());
            f.push(value.len() as u8);
            f.extend_from_slice(value.as_bytes());
            if i % 6000 == 5999 {
                let key = format!("big:{i}");
                f.push(0);
                f.push(key.len() as u8);
                f.extend_from_slice(key.as_bytes());
                f.push(0x80);
                f.extend_from_slice(&(big.len() as u32).to_be_bytes());
                f.extend_from_slice(&big);
            }
        }
        f.push(0xff);
        f.extend_from_slice(&[0; 8]);
        let expected = sequential_keys(&f);
        assert_eq!(expected.len(), 30_005);
        let rdb = Rdb::new(&f).expect("valid");
        let bigs: Vec<(u64, u64)> = rdb
            .entries()
            .map(|e| e.expect("valid"))
            .filter(|e| e.record_len() > MAX_GUESSED_RECORD)
            .map(|e| (e.record_start, e.record_end))
            .collect();
        let base = rdb.records().offset();
        let mut cut = 0;
        // Whether a thread guesses at all depends on timing (a loaded
        // machine may give one thread every segment): run until a guess
        // was cut, within reason.
        for (threads, segment) in [(2, 200 << 10), (3, 1 << 20)].into_iter().cycle().take(400) {
            if cut > 0 && threads == 2 {
                break;
            }
            let (got, stats) = fold_keys(&f, threads, segment).expect("valid");
            assert!(got == expected, "{threads} threads, segments of {segment}");
            // Only segments starting inside a big string (with no record
            // start to guess) are read from the frontier again: one whose
            // guessed body meets a big string keeps the body.
            let inside = (1..)
                .map(|k| base + k * segment)
                .take_while(|&b| b < f.len() as u64)
                .filter(|&b| bigs.iter().any(|&(s, e)| s < b && b < e))
                .count();
            assert!(
                stats.redone <= inside,
                "{threads} threads, segments of {segment}: {stats:?}, {inside} inside"
            );
            cut += stats.cut;
        }
        assert!(cut > 0, "no guess was cut short");
    }

    #[test]
    fn speculative_fold_fails_where_a_sequential_read_fails() {
        let data = sample_rdb(3000, true);
        let cut = data[..data.len() * 2 / 3].to_vec();
        let mut bad_type = data.clone();
        let record = sequential_keys(&data)
            .into_iter()
            .map(|k| k.2 as usize)
            .find(|&s| s >= data.len() / 2 && data[s] == 0)
            .expect("a string record");
        bad_type[record] = 0x63;
        let no_eof = data[..data.len() - 9].to_vec();
        for (what, file) in [
            ("truncated", cut),
            ("bad type", bad_type),
            ("no EOF", no_eof),
        ] {
            let rdb = Rdb::new(&file).expect("header");
            let sequential = rdb.records().find_map(|r| r.err()).expect("an error");
            for threads in [1, 2, 3] {
                for segment in [7, 100, 4096, 1 << 30] {
                    let e = fold_keys(&file, threads, segment).expect_err(what);
                    assert_eq!(
                        e.to_string(),
                        sequential.to_string(),
                        "{what}: {threads} threads, segments of {segment}"
                    );
                }
            }
        }
    }

    #[test]
    fn corrupt_files_read_as_a_sequential_read_reads_them() {
        let clean = sample_rdb(600, true);
        let starts: Vec<usize> = sequential_keys(&clean)
            .iter()
            .map(|k| k.2 as usize)
            .collect();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        let (mut failed, mut read) = (0, 0);
        for round in 0..150 {
            let mut data = clean.clone();
            for _ in 0..=(next() % 3) {
                // Anywhere, or in a record's first bytes (its type, the
                // key's length), where a change breaks the file more often.
                let at = match next() % 2 {
                    0 => 9 + (next() as usize) % (data.len() - 9),
                    _ => starts[next() as usize % starts.len()] + next() as usize % 4,
                };
                data[at] = next() as u8;
            }
            let rdb = Rdb::new(&data).expect("header untouched");
            let mut buf = Vec::new();
            let sequential: Result<Vec<Key>> = rdb
                .records()
                .filter_map(|r| match r {
                    Ok(Record::Entry(e)) => Some(
                        e.key
                            .bytes(&mut buf)
                            .map(|k| (e.db, k.to_vec(), e.record_start)),
                    ),
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                })
                .collect();
            for (threads, segment) in [(2, 64), (3, 500), (2, 4096)] {
                let what = format!("round {round}: {threads} threads, segments of {segment}");
                match (&sequential, fold_keys(&data, threads, segment)) {
                    (Ok(want), Ok((got, _))) => assert!(*want == got, "{what}"),
                    (Err(want), Err(got)) => {
                        assert_eq!(want.to_string(), got.to_string(), "{what}")
                    }
                    (want, got) => panic!(
                        "{what}: {:?} against {:?}",
                        want.as_ref().map(Vec::len),
                        got.map(|g| g.0.len())
                    ),
                }
            }
            match sequential {
                Ok(_) => read += 1,
                Err(_) => failed += 1,
            }
        }
        // Both kinds of outcome were compared.
        assert!(failed > 10 && read > 10, "{failed} failed, {read} read");
    }

    /// Records the ranges given back.
    struct Log(Mutex<Vec<(u64, u64)>>);

    impl crate::mmap::PageRelease for Log {
        fn release(&self, start: u64, end: u64) {
            lock(&self.0).push((start, end));
        }
    }

    #[test]
    fn every_part_of_the_file_is_given_back() {
        let data = sample_rdb(3000, true);
        for threads in [1, 2, 3] {
            for segment in [100, 4096, 64 << 10] {
                let log = Log(Mutex::new(Vec::new()));
                let rdb = Rdb::new(&data).expect("valid").with_page_release(&log);
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .expect("a pool");
                pool.install(|| {
                    rdb.par_fold_speculative(
                        segment,
                        &AtomicU64::new(0),
                        SpeculativeFold {
                            init: || 0u64,
                            init_guessed: || 0u64,
                            fold: |n: &mut u64, _: &Record<'_>| {
                                *n += 1;
                                Ok(())
                            },
                            merge: |a, b| a + b,
                            relabel: |_: &mut u64, _| {},
                        },
                    )
                })
                .expect("valid");
                let mut ranges = std::mem::take(&mut *lock(&log.0));
                ranges.sort();
                // From the first record to the end, without a gap.
                let mut covered = rdb.body_start();
                let len = data.len() as u64;
                for (start, end) in ranges {
                    assert!(
                        start <= covered,
                        "{threads} threads, segments of {segment}: gap at {covered}..{start}"
                    );
                    covered = covered.max(end);
                }
                assert!(
                    covered >= len - 9,
                    "{threads} threads, segments of {segment}: {covered}"
                );
            }
        }
    }

    #[test]
    fn a_panic_in_the_fold_reaches_the_caller() {
        let data = sample_rdb(3000, false);
        let rdb = Rdb::new(&data).expect("valid");
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .expect("a pool");
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.install(|| {
                rdb.par_fold_speculative(
                    100,
                    &AtomicU64::new(0),
                    SpeculativeFold {
                        init: || 0u64,
                        init_guessed: || 0u64,
                        fold: |n: &mut u64, r: &Record<'_>| {
                            if let Record::Entry(e) = r {
                                assert!(e.record_start < data.len() as u64 / 2, "planted");
                                *n += 1;
                            }
                            Ok(())
                        },
                        merge: |a, b| a + b,
                        relabel: |_: &mut u64, _| {},
                    },
                )
            })
        }));
        assert!(outcome.is_err());
    }
}
