//! The backup step of a batch: what a `delete` cleanup is about to remove
//! (`DUMP` payloads and TTLs), or the TTLs an `expire` cleanup is about to
//! change, written and synced before the batch's checkpoint and action.

use super::params::Mode;
use super::runner::Run;
use crate::backup::write::{dump_keys, ttls_of};
use crate::error::Result;

impl Run<'_> {
    /// Backs up `keys` of `db` and returns the ones still there (the only
    /// ones acted on). The checkpoint's backup position moves past them.
    pub(super) fn back_up(
        &mut self,
        conn: &mut redis::Connection,
        db: u32,
        keys: Vec<Vec<u8>>,
    ) -> Result<Vec<Vec<u8>>> {
        let Some(backup) = self.backup.as_mut() else {
            return Ok(keys);
        };
        if keys.is_empty() {
            return Ok(keys);
        }
        let present = match self.p.mode {
            Mode::Delete => {
                let dumped = dump_keys(conn, &keys)?;
                backup.add_keys(db, &dumped)?;
                dumped.into_iter().map(|d| d.key).collect()
            }
            Mode::Expire => {
                let ttls = ttls_of(conn, &keys)?;
                backup.add_ttls(db, &ttls)?;
                ttls.into_iter().map(|(k, _)| k).collect()
            }
        };
        self.cp.backup = Some(backup.pos());
        Ok(present)
    }
}
