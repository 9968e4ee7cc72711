//! The backup step of a batch: what a `delete` cleanup is about to remove
//! (`DUMP` payloads and TTLs), or the TTLs an `expire` cleanup is about to
//! change, written and synced before the batch's checkpoint and action.

use super::params::Mode;
use super::runner::Run;
use crate::backup::write::{dump_keys, ttls_of};
use crate::error::Result;

/// The type a `DUMP` payload's first byte (its RDB object type) names,
/// for the types a delete sizes before its `UNLINK`; None for the others
/// (streams, modules, hashes with field TTLs, any newer encoding): their
/// `TYPE` is asked.
pub(super) fn payload_kind(payload: &[u8]) -> Option<&'static str> {
    Some(match payload.first()? {
        0 => "string",
        1 | 10 | 14 | 18 => "list",
        2 | 11 | 20 => "set",
        3 | 5 | 12 | 17 => "zset",
        4 | 9 | 13 | 16 => "hash",
        _ => return None,
    })
}

/// The keys still there, and (`delete` mode) the type of each that its
/// payload tells.
type Present = (Vec<Vec<u8>>, Option<Vec<Option<&'static str>>>);

impl Run<'_> {
    /// Backs up `keys` of `db` and returns the ones still there (the only
    /// ones acted on), with, in `delete` mode, the type of each
    /// (their `DUMP` payload says so: no `TYPE` to ask). The
    /// checkpoint's backup position moves past them.
    pub(super) fn back_up(
        &mut self,
        conn: &mut redis::Connection,
        db: u32,
        keys: Vec<Vec<u8>>,
    ) -> Result<Present> {
        let Some(backup) = self.backup.as_mut() else {
            return Ok((keys, None));
        };
        if keys.is_empty() {
            return Ok((keys, None));
        }
        let (present, strings) = match self.p.mode {
            Mode::Delete => {
                let dumped = dump_keys(conn, &keys)?;
                backup.add_keys(db, &dumped)?;
                let strings = dumped.iter().map(|d| payload_kind(&d.payload)).collect();
                (dumped.into_iter().map(|d| d.key).collect(), Some(strings))
            }
            Mode::Expire => {
                let ttls = ttls_of(conn, &keys)?;
                backup.add_ttls(db, &ttls)?;
                (ttls.into_iter().map(|(k, _)| k).collect(), None)
            }
        };
        self.cp.backup = Some(backup.pos());
        Ok((present, strings))
    }
}
