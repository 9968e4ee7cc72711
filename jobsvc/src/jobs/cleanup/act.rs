//! Acting on selected keys, chunk by chunk at the rate: `UNLINK` (big
//! collections emptied first) or `EXPIRE` with a spread-out TTL, counted
//! from the replies.

use super::params::Mode;
use super::runner::{Run, SAMPLE};
use crate::error::Result;
use crate::redis::reply::{int as v_int, text as v_text};
use crate::redis::timed::{self, NODE_IO};

/// Keys per `UNLINK` when one command takes many.
const UNLINK_KEYS: usize = 100;

impl Run<'_> {
    /// Deletes (or expires) `keys`, chunk by chunk at the rate; `kinds`,
    /// when known, gives the type of each key its backup's payload told
    /// (no `TYPE` asked for it). With `recovering`, the keys are the pending ones of a killed
    /// attempt.
    pub(super) fn act(
        &mut self,
        conn: &mut redis::Connection,
        addr: &str,
        db: u32,
        keys: &[Vec<u8>],
        kinds: Option<&[Option<&'static str>]>,
        recovering: bool,
    ) -> Result<()> {
        let chunk = self.p.chunk();
        for (n, part) in keys.chunks(chunk).enumerate() {
            let kinds = kinds.and_then(|s| s.get(n * chunk..n * chunk + part.len()));
            self.ctx.check_cancel()?;
            self.wait_pressure(conn, addr)?;
            if self.p.dry_run {
                self.bucket.take(part.len(), self.ctx)?;
                for k in part {
                    self.note_sample(addr, db, k);
                }
                continue;
            }
            match self.p.mode {
                Mode::Delete => self.delete(conn, addr, db, part, kinds, recovering)?,
                Mode::Expire => self.expire(conn, addr, db, part, recovering)?,
            }
            let pct = self.percent();
            let counters = self.counters(addr);
            self.ctx.progress("cleaning", pct, counters, false);
        }
        Ok(())
    }

    pub(super) fn delete(
        &mut self,
        conn: &mut redis::Connection,
        addr: &str,
        db: u32,
        part: &[Vec<u8>],
        kinds: Option<&[Option<&'static str>]>,
        recovering: bool,
    ) -> Result<()> {
        // Sizes of collections, for the big ones: the type of each key its
        // payload did not tell, then the size of each collection.
        let mut types: Vec<String> = (0..part.len())
            .map(|i| {
                let k = kinds.and_then(|s| s.get(i).copied().flatten());
                k.unwrap_or_default().to_string()
            })
            .collect();
        // Without a backup no `TYPE` is asked: an untyped key is unlinked
        // whatever its size (`UNLINK` frees a big value in a background
        // thread), its elements not counted.
        let unknown: Vec<usize> = (0..part.len()).filter(|&i| types[i].is_empty()).collect();
        if !unknown.is_empty() && !self.p.fast() {
            let mut pipe = redis::pipe();
            for &i in &unknown {
                pipe.cmd("TYPE").arg(&part[i][..]);
            }
            pipe.ignore_errors();
            let replies: Vec<redis::Value> = timed::query(&pipe, conn, NODE_IO)?;
            for (&i, v) in unknown.iter().zip(&replies) {
                types[i] = v_text(v);
            }
        }
        // Elements of each key, where its type tells (a string 1, a
        // collection its size).
        let mut elements: Vec<Option<u64>> =
            types.iter().map(|t| (t == "string").then_some(1)).collect();
        let mut pipe = redis::pipe();
        let mut sized = Vec::new();
        for (i, t) in types.iter().enumerate() {
            let cmd = match t.as_str() {
                "hash" => "HLEN",
                "set" => "SCARD",
                "zset" => "ZCARD",
                "list" => "LLEN",
                _ => continue,
            };
            pipe.cmd(cmd).arg(&part[i][..]);
            sized.push(i);
        }
        if !sized.is_empty() {
            pipe.ignore_errors();
            let sizes: Vec<redis::Value> = timed::query(&pipe, conn, NODE_IO)?;
            for (i, v) in sized.iter().zip(&sizes) {
                let size = v_int(v).unwrap_or(0).max(0) as u64;
                elements[*i] = Some(size);
                if size > self.p.big_elements {
                    self.empty_big(conn, addr, &part[*i], &types[*i], size)?;
                }
            }
        }
        self.bucket.take(part.len(), self.ctx)?;
        let mut deleted = 0u64;
        let mut recovered = 0u64;
        // The keys the report's sample still needs get an `UNLINK` each
        // (its reply names the key deleted); then, on a node that is not a
        // cluster's (which would refuse keys of several slots), `UNLINK`
        // takes many keys at once and its reply counts the deleted ones.
        // A recovering batch and a cluster's go one key per `UNLINK`.
        let single = if recovering || self.cluster {
            part.len()
        } else {
            SAMPLE.saturating_sub(self.cp.sample.len()).min(part.len())
        };
        let mut pipe = redis::pipe();
        for k in &part[..single] {
            pipe.cmd("UNLINK").arg(&k[..]);
        }
        for c in part[single..].chunks(UNLINK_KEYS) {
            let mut cmd = redis::cmd("UNLINK");
            for k in c {
                cmd.arg(&k[..]);
            }
            pipe.add_command(cmd);
        }
        // Keys whose `UNLINK` deleted them (all of a many-key one's,
        // bar the gone ones' share, which it does not name).
        let mut counted: Vec<bool> = (0..part.len()).map(|i| i >= single).collect();
        let replies: Vec<redis::Value> = timed::query_ok(&pipe, conn, NODE_IO)
            .map_err(|e| e.context(format!("UNLINK on {addr}")))?;
        deleted += replies[single..]
            .iter()
            .filter_map(v_int)
            .sum::<i64>()
            .max(0) as u64;
        for (i, (k, r)) in part[..single].iter().zip(&replies).enumerate() {
            if v_int(r) == Some(1) {
                deleted += 1;
                counted[i] = true;
                self.note_sample(addr, db, k);
            } else if recovering {
                recovered += 1;
                counted[i] = true;
                self.note_sample(addr, db, k);
            }
        }
        let (mut elems, mut unknown) = (0u64, 0u64);
        for (e, _) in elements.iter().zip(&counted).filter(|(_, c)| **c) {
            match e {
                Some(n) => elems += n,
                None => unknown += 1,
            }
        }
        self.record_deleted(addr, deleted, recovered, elems, unknown);
        Ok(())
    }

    pub(super) fn expire(
        &mut self,
        conn: &mut redis::Connection,
        addr: &str,
        db: u32,
        part: &[Vec<u8>],
        recovering: bool,
    ) -> Result<()> {
        let [lo, hi] = self.p.expire_secs.unwrap_or([1, 1]);
        let mut todo: Vec<&Vec<u8>> = part.iter().collect();
        let mut recovered = 0u64;
        if recovering {
            // Keys the killed attempt already gave a TTL in range are
            // counted, not touched again.
            let mut pipe = redis::pipe();
            for k in part {
                pipe.cmd("PTTL").arg(&k[..]);
            }
            let ttls: Vec<redis::Value> = timed::query_ok(&pipe, conn, NODE_IO)?;
            todo.clear();
            for (k, t) in part.iter().zip(&ttls) {
                match v_int(t).unwrap_or(-2) {
                    -2 => {}
                    t if t >= 0 && t <= hi as i64 * 1000 => {
                        recovered += 1;
                        self.note_sample(addr, db, k);
                    }
                    _ => todo.push(k),
                }
            }
        }
        self.bucket.take(part.len(), self.ctx)?;
        let mut pipe = redis::pipe();
        for k in &todo {
            let secs = self.rng.range(lo, hi);
            pipe.cmd("EXPIRE").arg(&k[..]).arg(secs);
        }
        let mut expired = 0u64;
        if !todo.is_empty() {
            let replies: Vec<redis::Value> = timed::query_ok(&pipe, conn, NODE_IO)
                .map_err(|e| e.context(format!("EXPIRE on {addr}")))?;
            for (k, r) in todo.iter().zip(&replies) {
                if v_int(r) == Some(1) {
                    expired += 1;
                    self.note_sample(addr, db, k);
                }
            }
        }
        self.ctx.touched(expired);
        let c = self.node(addr);
        c.expired += expired + recovered;
        c.recovered += recovered;
        Ok(())
    }
}
