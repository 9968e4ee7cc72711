//! The pass of a delete without a backup and without a filter: the next
//! `SCAN` in flight while the checkpoint is written and while the node
//! runs the group's `UNLINK`s, so that the node rarely waits for the job.
//!
//! Per group: the `SCAN`s that gather it (the first one's reply already
//! read), then the `SCAN` of the cursor after it is sent, the checkpoint
//! (that cursor, the group's keys pending) written, the group's
//! many-key `UNLINK`s sent, the `SCAN` reply read (the node unlinks
//! meanwhile), then the `UNLINK` replies, which count the deletions. A
//! key a later `SCAN` returns again is unlinked again, harmlessly, and
//! not counted twice (its reply is 0). Until the report's sample is full,
//! on a cluster (whose `UNLINK` takes one slot's keys) and at a rate so
//! low that a group is more than a tenth of a second's worth, a group is
//! acted on as in the other passes (`act`), chunk by chunk at the rate.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::runner::{Run, SAMPLE};
use crate::error::{Error, Result};
use crate::redis::errors::server_error;
use crate::redis::keys::hex;
use crate::redis::reply::{self, int as v_int};
use crate::redis::timed::{self, NODE_IO};

/// Keys per `UNLINK`.
const UNLINK_KEYS: usize = 200;

/// A `SCAN` reply: the next cursor and the keys.
type Scanned = (String, Vec<Vec<u8>>);

fn send_scan(conn: &mut redis::Connection, cursor: &str, glob: &str, count: u64) -> Result<()> {
    let mut pipe = redis::pipe();
    pipe.cmd("SCAN")
        .arg(cursor)
        .arg("MATCH")
        .arg(glob)
        .arg("COUNT")
        .arg(count);
    timed::send(&pipe, conn)
}

/// An error reply fails the group (transient for `LOADING`, `BUSY`…).
fn fail_on_error(v: &redis::Value, cmd: &str, addr: &str) -> Result<()> {
    match reply::server_error(v) {
        Some((code, details)) => Err(server_error(
            format!("{code} {details}").trim_end(),
            &format!("{cmd} on {addr}"),
        )),
        None => Ok(()),
    }
}

/// Reads a `SCAN` reply sent earlier, within `NODE_IO` from now.
fn recv_scan(conn: &mut redis::Connection, addr: &str) -> Result<Scanned> {
    let v = timed::replies(conn, 1, Instant::now() + NODE_IO, NODE_IO)?
        .pop()
        .unwrap_or(redis::Value::Nil);
    fail_on_error(&v, "SCAN", addr)?;
    redis::from_redis_value::<Scanned>(v)
        .map_err(|e| Error::internal(format!("SCAN on {addr}: {e}")))
}

impl Run<'_> {
    /// The rest of a pass from `cursor` (see the module's text).
    pub(super) fn fast_loop(
        &mut self,
        conn: &mut redis::Connection,
        addr: &str,
        db: u32,
        glob: &str,
        mut cursor: String,
    ) -> Result<()> {
        let count = self.p.scan_count();
        let group = self.p.group();
        // A SCAN reply read ahead, for the next group.
        let mut ahead: Option<Scanned> = None;
        loop {
            self.ctx.check_cancel()?;
            self.wait_pressure(conn, addr)?;
            let mut chosen: Vec<Vec<u8>> = Vec::new();
            let mut seen: HashSet<Vec<u8>> = HashSet::new();
            let mut next;
            let mut scans = 0;
            loop {
                scans += 1;
                let (after, keys) = match ahead.take() {
                    Some(s) => s,
                    None => {
                        send_scan(conn, &cursor, glob, count)?;
                        recv_scan(conn, addr)?
                    }
                };
                next = after;
                let n = keys.len() as u64;
                chosen.extend(keys.into_iter().filter(|k| seen.insert(k.clone())));
                let c = self.node(addr);
                c.scanned += n;
                if next == "0" || chosen.len() >= group || scans * count as usize >= group {
                    break;
                }
                cursor = next.clone();
            }
            drop(seen);
            self.node(addr).selected += chosen.len() as u64;
            // A group that is more than one chunk at the rate (a low
            // rate) goes the paced way, chunk by chunk.
            let overlap = !self.cluster
                && self.cp.sample.len() >= SAMPLE
                && !chosen.is_empty()
                && chosen.len() <= self.p.chunk();
            let scan_ahead = overlap && next != "0";
            if scan_ahead {
                send_scan(conn, &next, glob, count)?;
            }
            self.cp.cursor = next.clone();
            self.cp.pending = chosen.iter().map(|k| hex(k)).collect();
            if !self.cp.pending.is_empty() || self.last_save.elapsed() >= Duration::from_secs(1) {
                self.save(addr)?;
            }
            if overlap {
                self.bucket.take(chosen.len(), self.ctx)?;
                let mut pipe = redis::pipe();
                for c in chosen.chunks(UNLINK_KEYS) {
                    let mut cmd = redis::cmd("UNLINK");
                    for k in c {
                        cmd.arg(&k[..]);
                    }
                    pipe.add_command(cmd);
                }
                timed::send(&pipe, conn)?;
                if scan_ahead {
                    ahead = Some(recv_scan(conn, addr)?);
                }
                let replies = timed::replies(conn, pipe.len(), Instant::now() + NODE_IO, NODE_IO)
                    .map_err(|e| e.context(format!("UNLINK on {addr}")))?;
                let mut deleted = 0u64;
                for r in &replies {
                    fail_on_error(r, "UNLINK", addr)?;
                    deleted += v_int(r).unwrap_or(0).max(0) as u64;
                }
                // Element counts are not read on this path.
                self.record_deleted(addr, deleted, 0, 0, deleted);
                let pct = self.percent();
                let counters = self.counters(addr);
                self.ctx.progress("cleaning", pct, counters, false);
            } else {
                self.act(conn, addr, db, &chosen, None, false)?;
            }
            if next == "0" {
                return Ok(());
            }
            cursor = next;
        }
    }
}
