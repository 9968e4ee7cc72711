//! The backup step of a batch: what a `delete` cleanup is about to remove
//! (`DUMP` payloads and TTLs), or the TTLs an `expire` cleanup is about to
//! change, written and synced before the batch's checkpoint and action.

use super::params::Mode;
use super::runner::Run;
use crate::backup::write::{dump_keys, ttls_of};
use crate::error::Result;

/// The first byte of a string's `DUMP` payload (the RDB object type).
const RDB_TYPE_STRING: u8 = 0;

/// The keys still there, and (`delete` mode) which of them are strings.
type Present = (Vec<Vec<u8>>, Option<Vec<bool>>);

impl Run<'_> {
    /// Backs up `keys` of `db` and returns the ones still there (the only
    /// ones acted on), with, in `delete` mode, which of them are strings
    /// (their `DUMP` payload says so: no collection to empty first). The
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
                let strings = dumped
                    .iter()
                    .map(|d| d.payload.first() == Some(&RDB_TYPE_STRING))
                    .collect();
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
