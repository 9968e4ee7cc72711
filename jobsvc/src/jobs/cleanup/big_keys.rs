//! Emptying a big collection in chunks before its `UNLINK`, so that no
//! single command blocks the node for long.

use super::runner::Run;
use crate::error::{Error, Result};

impl Run<'_> {
    /// Empties a big collection down to at most `batch` members, `batch`
    /// at a time (the last ones go with its UNLINK, so the key is never
    /// removed implicitly and its deletion is counted from the reply).
    pub(super) fn empty_big(
        &mut self,
        conn: &mut redis::Connection,
        addr: &str,
        key: &[u8],
        kind: &str,
        mut size: u64,
    ) -> Result<()> {
        let batch = self.p.batch;
        let mut removed = 0u64;
        if kind == "list" {
            while size > batch {
                self.ctx.check_cancel()?;
                self.wait_pressure(conn, addr)?;
                self.bucket.take(1, self.ctx)?;
                redis::cmd("LTRIM")
                    .arg(key)
                    .arg(0)
                    .arg(-(batch as i64) - 1)
                    .query::<()>(conn)
                    .map_err(Error::from)?;
                removed += batch;
                size = redis::cmd("LLEN")
                    .arg(key)
                    .query(conn)
                    .map_err(Error::from)?;
            }
        } else {
            let (scan, del, pairs) = match kind {
                "hash" => ("HSCAN", "HDEL", true),
                "set" => ("SSCAN", "SREM", false),
                "zset" => ("ZSCAN", "ZREM", true),
                _ => return Ok(()),
            };
            let mut cursor = "0".to_string();
            let mut size_at_wrap = u64::MAX;
            while size > batch {
                self.ctx.check_cancel()?;
                self.wait_pressure(conn, addr)?;
                let (next, items): (String, Vec<Vec<u8>>) = redis::cmd(scan)
                    .arg(key)
                    .arg(&cursor)
                    .arg("COUNT")
                    .arg(batch)
                    .query(conn)
                    .map_err(Error::from)?;
                let members: Vec<Vec<u8>> = if pairs {
                    items.into_iter().step_by(2).collect()
                } else {
                    items
                };
                let take = members.len().min((size - 1) as usize);
                for part in members[..take].chunks(batch as usize) {
                    self.bucket.take(1, self.ctx)?;
                    let n: u64 = redis::cmd(del)
                        .arg(key)
                        .arg(part)
                        .query(conn)
                        .map_err(Error::from)?;
                    removed += n;
                    size = size.saturating_sub(n);
                }
                cursor = next;
                if cursor == "0" {
                    // A full pass: read the size again; stop if it no
                    // longer shrinks (something keeps writing to it).
                    let len_cmd = match kind {
                        "hash" => "HLEN",
                        "set" => "SCARD",
                        _ => "ZCARD",
                    };
                    size = redis::cmd(len_cmd)
                        .arg(key)
                        .query(conn)
                        .map_err(Error::from)?;
                    if size >= size_at_wrap {
                        break;
                    }
                    size_at_wrap = size;
                }
            }
        }
        let c = self.node(addr);
        c.big_keys += 1;
        c.elements_removed += removed;
        Ok(())
    }
}
