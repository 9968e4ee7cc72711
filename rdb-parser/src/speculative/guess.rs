//! Guessing: finding a record start near the beginning of a segment by
//! trial, stepping over the segment's head, and folding its body.

use super::callbacks::{FoldCallbacks, UNKNOWN_DB};
use super::state::{Outcome, Speculation};
use crate::error::Error;
use crate::reader::{Record, Records};
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
pub(super) const MAX_GUESSED_RECORD: u64 = 1 << 20;

impl<'a, T: Send, C: FoldCallbacks<'a, T>> Speculation<'_, 'a, T, C> {
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
        if matches!(b, opcode::RAM_LRU | opcode::SLOT_NUM) && self.rdb.magic() == Magic::Redis {
            // Redis Enterprise's per-key opcodes, then a length.
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
    pub(super) fn read_guessed(&self, k: usize) -> Outcome<T> {
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
}
