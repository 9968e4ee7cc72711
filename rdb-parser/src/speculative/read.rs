//! Plain reading between two record starts into an accumulator: what a
//! verified read, a guessed body and a verifier's head read all do.

use super::callbacks::FoldCallbacks;
use super::state::Speculation;
use crate::error::Result;
use crate::parallel::Prefetch;
use crate::reader::{Record, Records};

impl<'a, T: Send, C: FoldCallbacks<'a, T>> Speculation<'_, 'a, T, C> {
    /// Merges a guessed segment's accumulator into the thread's (never
    /// adopting it as the thread's: `merge` is where it gives up what it
    /// held back).
    pub(super) fn merge_into(&self, acc: &mut Option<T>, part: T) {
        let a = acc.take().unwrap_or_else(|| self.fns.init());
        *acc = Some(self.fns.merge(a, part));
    }

    /// Folds the records from `from` (a record start) until the first
    /// record start at or past `until`, or the EOF record. Returns where
    /// reading stopped and whether it read EOF.
    pub(super) fn read_from(
        &self,
        records: &mut Records<'a>,
        until: u64,
        each: impl FnMut(&Record<'a>) -> Result<()>,
    ) -> Result<(u64, bool)> {
        self.read_from_tracking(records, until, &mut 0, each)
    }

    /// [`Self::read_from`], keeping in `at` the start of the record being
    /// read (on an error: the record that failed).
    pub(super) fn read_from_tracking(
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
    pub(super) fn read_verified(
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

    pub(super) fn release(&self, start: u64, end: u64) {
        if let Some(r) = self.rdb.page_release() {
            r.release(start, end);
        }
    }
}
