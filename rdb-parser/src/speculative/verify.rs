//! Verification: checking segments in file order against the true
//! records, keeping a guessed body that the true records reach exactly,
//! reading a segment again otherwise.

use std::sync::atomic::Ordering;

use super::callbacks::FoldCallbacks;
use super::state::{lock, Outcome, Speculation, Step};
use crate::error::{Error, Result};
use crate::reader::Records;

impl<'a, T: Send, C: FoldCallbacks<'a, T>> Speculation<'_, 'a, T, C> {
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

    pub(super) fn fail(&self, e: Error) {
        let mut f = lock(&self.failed);
        // Verification runs in file order: the first error is the earliest.
        if f.is_none() {
            *f = Some(e);
        }
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Hands in segment `k`'s outcome, then verifies segments in order
    /// unless another thread is doing so.
    pub(super) fn hand_in(&self, acc: &mut Option<T>, k: usize, outcome: Outcome<T>) {
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
}
