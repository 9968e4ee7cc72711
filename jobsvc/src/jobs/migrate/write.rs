//! Writing a batch to the target: the conflict policy, `RESTORE … ABSTTL`
//! or commands into a temporary key then `RENAME`, the counters, and the
//! sample kept for the verification.

use std::collections::HashSet;
use std::io::Write;
use std::ops::Range;

use serde_json::{json, Value};

use super::checkpoint::{Counts, State, LIST_CAP};
use super::params::{Conflict, MigrationParams, WriteMode};
use super::resp::exec_replies;
use super::rewrite::{rewrite_commands, Prepared, Rewriter, Rewritten};
use super::source::Batch;
use super::target::Target;
use crate::error::{Error, Result};
use crate::job::JobCtx;
use crate::redis::keys::{hex, show, unhex_lossy as unhex};
use crate::redis::reply::{int, server_error};
use crate::redis::Pacer;
use crate::store::now_ms;
use ::redis::Value as RV;
use rdb_parser::{format_decimal, Scratch};

pub(super) enum Plan {
    /// `RESTORE` of the item's payload, or of the batch's command
    /// `payload` holding it re-encoded for the target.
    Restore {
        replace: bool,
        payload: Option<usize>,
    },
    /// The batch's commands `cmds` build the value under `tmp`.
    Rewrite {
        cmds: Range<usize>,
        tmp: Vec<u8>,
        replace: bool,
    },
    /// A string written by one `SET key value [PXAT t] [NX]`, atomic by
    /// itself: no temporary key. `value`: the batch's command holding it.
    Set { value: usize, replace: bool },
}

/// Whether a value built by the batch's commands `cmds` goes in one
/// `MULTI`/`EXEC` with its rename: when it takes more than one (one
/// command that fails leaves no temporary key to rename).
fn in_transaction(cmds: &Range<usize>) -> bool {
    cmds.len() > 1
}

pub(super) struct Ctx<'a> {
    pub(super) ctx: &'a JobCtx,
    pub(super) p: &'a MigrationParams,
    pub(super) target: Target,
    pub(super) st: State,
    pub(super) pacer: Pacer,
    pub(super) sample: std::fs::File,
    pub(super) source_version: u32,
}

impl Ctx<'_> {
    /// What rewriting values as commands takes of this job now.
    pub(super) fn rewriter(&self) -> Rewriter {
        Rewriter {
            opts: self
                .p
                .command_options(self.target.dump_version >= 10, self.source_version),
            pxat: self.set_takes_pxat(),
            all: self.p.write == WriteMode::Commands
                || (self.p.write == WriteMode::Auto && self.st.rewrite),
            none: self.p.write == WriteMode::Restore,
            newer_than: self.target.dump_version,
            reencode: (self.p.write == WriteMode::Auto && self.target.takes_abs_ttl())
                .then_some(self.target.dump_version),
            source_version: self.source_version,
            cluster: self.target.is_cluster(),
            ticket: self.ctx.ticket_id(),
        }
    }

    /// Whether the target's `SET` takes `PXAT` (Redis 6.2, every Valkey).
    pub(super) fn set_takes_pxat(&self) -> bool {
        let v = &self.target.version;
        if v.starts_with("valkey") {
            return true;
        }
        let mut it = v
            .trim_start_matches("redis ")
            .split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0));
        (it.next().unwrap_or(0), it.next().unwrap_or(0)) >= (6, 2)
    }

    /// `EXISTS` of each key on the target (in its db).
    pub(super) fn existing(&mut self, b: &Batch) -> Result<Vec<String>> {
        self.target.db = self.p.target_db(b.db);
        let keys: Vec<&[u8]> = b.items.iter().map(|i| i.key.as_slice()).collect();
        let replies = self.target.exec(
            self.ctx,
            &keys,
            &mut |i, _, out| {
                out.cmd(&[b"EXISTS".as_slice(), keys[i]]);
            },
            &mut || {},
        )?;
        Ok(replies
            .iter()
            .zip(&b.items)
            .filter(|(r, _)| r.first().and_then(int).unwrap_or(0) > 0)
            .map(|(_, i)| hex(&i.key))
            .collect())
    }

    /// Deletes the temporary keys of a batch redone after a killed or
    /// failed attempt, `keys` as that attempt read them (a key gone from
    /// the source since included): whatever it left, before anything is
    /// written again.
    pub(super) fn clear_tmp(&mut self, keys: &[Vec<u8>]) -> Result<()> {
        let ticket = self.ctx.ticket_id();
        let tmps: Vec<Vec<u8>> = keys
            .iter()
            .map(|k| self.target.tmp_key(k, ticket))
            .collect();
        self.delete_tmp(keys, &tmps)
    }

    /// Deletes `tmps[i]`, the temporary key of `keys[i]`, on its node.
    fn delete_tmp<K: AsRef<[u8]>>(&mut self, keys: &[K], tmps: &[Vec<u8>]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let keys: Vec<&[u8]> = keys.iter().map(AsRef::as_ref).collect();
        self.target.exec(
            self.ctx,
            &keys,
            &mut |i, _, out| out.cmd(&[b"DEL".as_slice(), &tmps[i]]),
            &mut || {},
        )?;
        Ok(())
    }

    pub(super) fn note(list: &mut Vec<Value>, db: u32, key: &[u8], why: &str) {
        if list.len() < LIST_CAP {
            list.push(json!({"db": db, "key": show(key), "key_hex": hex(key), "why": why}));
        }
    }

    /// Writes a batch whose pre-existing keys are `existed`; `resumed`: an
    /// earlier attempt may have written (some of) it already. With `then`
    /// (the next batch, of the same target db), the `EXISTS` of its keys
    /// goes in the same pipelines, after this batch's writes on each node,
    /// and its existing keys are returned. `prepared`: the batch's values
    /// as commands, if made ahead ([`Rewriter::prepare`]). `idle()` runs
    /// while the batch's writes are in flight.
    pub(super) fn write(
        &mut self,
        b: &Batch,
        existed: &[String],
        resumed: bool,
        then: Option<&Batch>,
        prepared: Option<Prepared>,
        idle: &mut dyn FnMut(),
    ) -> Result<Option<Vec<String>>> {
        // The keys themselves, not their hex: no text made per key.
        let existed: HashSet<Vec<u8>> = existed.iter().map(|k| unhex(k)).collect();
        let pre_existed = |k: &[u8]| !existed.is_empty() && existed.contains(k);
        let now = now_ms();
        let p = self.p;
        let ticket = self.ctx.ticket_id();
        self.target.db = p.target_db(b.db);
        let mut counts = Counts {
            selected: b.items.len() as u64 + b.vanished,
            vanished: b.vanished,
            ..Counts::default()
        };
        let mut plans: Vec<Option<Plan>> = Vec::with_capacity(b.items.len());
        let rw = self.rewriter();
        let opts = rw.opts;
        let mut scratch = Scratch::new();
        let mut prep = Prepared::take(prepared, b, &rw);
        let mut cmds = std::mem::take(&mut prep.cmds);
        for (i, it) in b.items.iter().enumerate() {
            if it.expire_at.is_some_and(|t| t <= now) {
                counts.expired += 1;
                plans.push(None);
                continue;
            }
            let pre = pre_existed(&it.key);
            if pre {
                match p.conflict {
                    Conflict::Skip => {
                        counts.skipped += 1;
                        plans.push(None);
                        continue;
                    }
                    Conflict::FailKey => {
                        counts.conflicts += 1;
                        Self::note(
                            &mut self.st.conflict_keys,
                            b.db,
                            &it.key,
                            "exists on the target",
                        );
                        plans.push(None);
                        continue;
                    }
                    Conflict::Replace => {}
                }
            }
            let replace = pre || resumed || p.conflict == Conflict::Replace;
            if (it.payload.len() as u64) > p.big_key_bytes {
                counts.big += 1;
            }
            let plan = if let Some(rewritten) = prep.items[i].take() {
                match rewritten {
                    Ok(Rewritten::Set(value)) => Plan::Set { value, replace },
                    Ok(Rewritten::Cmds(range, tmp)) => Plan::Rewrite {
                        cmds: range,
                        tmp,
                        replace,
                    },
                    Ok(Rewritten::Payload(c)) => Plan::Restore {
                        replace,
                        payload: Some(c),
                    },
                    Ok(Rewritten::Empty) => {
                        counts.empty += 1;
                        plans.push(None);
                        continue;
                    }
                    Err(e) => {
                        counts.failed += 1;
                        Self::note(&mut self.st.failed_keys, b.db, &it.key, &e.message);
                        plans.push(None);
                        continue;
                    }
                }
            } else {
                Plan::Restore {
                    replace,
                    payload: None,
                }
            };
            plans.push(Some(plan));
        }
        let idx: Vec<usize> = (0..plans.len()).filter(|i| plans[*i].is_some()).collect();
        self.pacer
            .wait(b.items.len() + b.vanished as usize, self.ctx)?;
        let mut sampled = Vec::new();
        let mut todo = idx;
        let asked: Vec<&[u8]> = then
            .map(|n| n.items.iter().map(|i| i.key.as_slice()).collect())
            .unwrap_or_default();
        let mut existed_then = None;
        // Temporary keys left by a rewritten key's sequence, and keys
        // written in part: (the key, what to delete in its slot).
        let mut left: Vec<(&[u8], Vec<u8>)> = Vec::new();
        // A second round only for keys a RESTORE refused for their format.
        for round in 0..2 {
            let ask = if round == 0 { asked.len() } else { 0 };
            if todo.is_empty() && ask == 0 {
                break;
            }
            let mut keys: Vec<&[u8]> = todo.iter().map(|&i| b.items[i].key.as_slice()).collect();
            let writes = keys.len();
            keys.extend(&asked[..ask]);
            let mut replies = {
                let plans = &plans;
                let all = &cmds;
                let items = &b.items;
                let todo = &todo;
                let keys = &keys;
                self.target.exec(
                    self.ctx,
                    keys,
                    &mut |k, retry, out| {
                        if k >= writes {
                            out.cmd(&[b"EXISTS".as_slice(), keys[k]]);
                            return;
                        }
                        let i = todo[k];
                        let it = &items[i];
                        let mut tb = [0u8; 20];
                        match plans[i].as_ref().expect("planned") {
                            Plan::Restore { replace, payload } => {
                                let ttl = format_decimal(&mut tb, it.expire_at.unwrap_or(0));
                                let payload = match payload {
                                    Some(c) => all.get(*c).next().unwrap_or_default(),
                                    None => &it.payload,
                                };
                                let c: [&[u8]; 6] =
                                    [b"RESTORE", &it.key, ttl, payload, b"REPLACE", b"ABSTTL"];
                                if *replace || retry {
                                    out.cmd(&c);
                                } else {
                                    out.cmd(&[c[0], c[1], c[2], c[3], c[5]]);
                                }
                            }
                            Plan::Set { value, replace } => {
                                let value = all.get(*value).next().unwrap_or_default();
                                let mut c: [&[u8]; 6] = [b"SET", &it.key, value, b"", b"", b""];
                                let mut n = 3;
                                if let Some(t) = it.expire_at {
                                    c[3] = b"PXAT";
                                    c[4] = format_decimal(&mut tb, t);
                                    n = 5;
                                }
                                if !(*replace || retry) {
                                    c[n] = b"NX";
                                    n += 1;
                                }
                                out.cmd(&c[..n]);
                            }
                            Plan::Rewrite { cmds, tmp, replace } => {
                                // Only an earlier try of this key may have
                                // left its temporary key (a resumed batch's
                                // are deleted before it is written).
                                if retry {
                                    out.cmd(&[b"DEL".as_slice(), tmp]);
                                }
                                // A value in several commands goes in a
                                // transaction: if one is refused (out of
                                // memory), the rename is too.
                                let whole = in_transaction(cmds);
                                if whole {
                                    out.multi();
                                }
                                for c in cmds.clone() {
                                    out.cmd_of(all.get(c));
                                }
                                if let Some(t) = it.expire_at {
                                    out.cmd(&[
                                        b"PEXPIREAT".as_slice(),
                                        tmp,
                                        format_decimal(&mut tb, t),
                                    ]);
                                }
                                if *replace || retry {
                                    out.cmd(&[b"RENAME".as_slice(), tmp, &it.key]);
                                } else {
                                    // Left where the key is there already:
                                    // deleted once the replies are read.
                                    out.cmd(&[b"RENAMENX".as_slice(), tmp, &it.key]);
                                }
                                if whole {
                                    out.exec();
                                }
                            }
                        }
                    },
                    idle,
                )?
            };
            if ask > 0 {
                let got = replies.split_off(writes);
                existed_then = Some(
                    got.iter()
                        .zip(&asked)
                        .filter(|(r, _)| r.first().and_then(int).unwrap_or(0) > 0)
                        .map(|(_, k)| hex(k))
                        .collect::<Vec<String>>(),
                );
            }
            let mut again = Vec::new();
            for (k, r) in replies.into_iter().enumerate() {
                let i = todo[k];
                let it = &b.items[i];
                let (r, err) = match &plans[i] {
                    Some(Plan::Rewrite { cmds, .. }) if in_transaction(cmds) => exec_replies(r),
                    _ => {
                        let err = r.iter().find_map(server_error);
                        (r, err)
                    }
                };
                let rewrite = matches!(plans[i], Some(Plan::Rewrite { .. } | Plan::Set { .. }));
                let reencoded = matches!(
                    plans[i],
                    Some(Plan::Restore {
                        payload: Some(_),
                        ..
                    })
                );
                let replace = matches!(
                    plans[i],
                    Some(
                        Plan::Restore { replace: true, .. }
                            | Plan::Rewrite { replace: true, .. }
                            | Plan::Set { replace: true, .. }
                    )
                );
                let mut in_part = false;
                if let Some(Plan::Rewrite { tmp, .. }) = &plans[i] {
                    if !matches!(r.last(), Some(RV::Okay | RV::Int(1))) {
                        // The temporary key stays where its `RENAMENX`
                        // found the key there (or a command failed).
                        left.push((it.key.as_slice(), tmp.clone()));
                    } else if err.is_some() {
                        // Renamed though a command of its value failed as
                        // it ran: the key holds part of the value.
                        in_part = true;
                        left.push((it.key.as_slice(), it.key.clone()));
                    }
                }
                let renamed = match plans[i] {
                    // `RENAMENX` answers 0 when the key is there; `RENAME`
                    // ends its sequence with `OK`.
                    Some(Plan::Rewrite { .. }) if !matches!(r.last(), Some(RV::Okay)) => {
                        r.last().and_then(int)
                    }
                    // `SET … NX` answers nil when the key is there.
                    Some(Plan::Set { .. }) if matches!(r.first(), Some(RV::Nil)) => Some(0),
                    _ => None,
                };
                match err {
                    Some((code, _)) if code == "BUSYKEY" => {
                        self.conflict_found(b.db, &it.key, &mut counts);
                    }
                    Some((_, details))
                        if !rewrite
                            && !reencoded
                            && p.write == WriteMode::Auto
                            && details.contains("payload version") =>
                    {
                        // The target does not read this format: re-encode
                        // it, or write commands.
                        self.st.rewrite = true;
                        let tmp = || self.target.tmp_key(&it.key, ticket);
                        match rewrite_commands(
                            &it.payload,
                            it.version,
                            false,
                            rw.reencode,
                            tmp,
                            &opts,
                            &mut scratch,
                            &mut cmds,
                        ) {
                            Ok(Rewritten::Cmds(range, tmp)) => {
                                plans[i] = Some(Plan::Rewrite {
                                    cmds: range,
                                    tmp,
                                    replace,
                                });
                                again.push(i);
                            }
                            Ok(Rewritten::Payload(c)) => {
                                plans[i] = Some(Plan::Restore {
                                    replace,
                                    payload: Some(c),
                                });
                                again.push(i);
                            }
                            Ok(Rewritten::Set(_) | Rewritten::Empty) => counts.empty += 1,
                            Err(e) => {
                                counts.failed += 1;
                                Self::note(&mut self.st.failed_keys, b.db, &it.key, &e.message);
                            }
                        }
                    }
                    Some((code, details)) => {
                        counts.failed += 1;
                        let deleted = if in_part {
                            " (the key, written in part, was deleted)"
                        } else {
                            ""
                        };
                        Self::note(
                            &mut self.st.failed_keys,
                            b.db,
                            &it.key,
                            &format!("{code} {details}{deleted}"),
                        );
                    }
                    None if renamed == Some(0) => self.conflict_found(b.db, &it.key, &mut counts),
                    None => {
                        counts.written += 1;
                        if replace && pre_existed(&it.key) {
                            counts.replaced += 1;
                        }
                        if rewrite {
                            counts.rewritten += 1;
                        }
                        if reencoded {
                            counts.reencoded += 1;
                        }
                        let big = (it.payload.len() as u64) > p.big_key_bytes;
                        if big || p.sampled(&it.key) {
                            sampled.push(json!({"db": b.db, "key": hex(&it.key), "offset": it.offset, "big": big}));
                        }
                    }
                }
            }
            todo = again;
        }
        // Before the checkpoint: a batch redone deletes its temporary keys
        // itself ([`Ctx::clear_tmp`]).
        let (keys, tmps): (Vec<&[u8]>, Vec<Vec<u8>>) = left.into_iter().unzip();
        self.delete_tmp(&keys, &tmps)?;
        // The batch's writes reached the replicas asked for, or the batch
        // is redone by the next attempt (it is not checkpointed yet).
        let (replicas, timeout) = p.wait(&self.ctx.state().config);
        self.target.wait(replicas, timeout)?;
        // The batch's sample lines in one write (the file is not buffered).
        let mut lines = Vec::new();
        for s in sampled {
            serde_json::to_writer(&mut lines, &s).map_err(|e| Error::internal(e.to_string()))?;
            lines.push(b'\n');
        }
        self.sample.write_all(&lines)?;
        self.sample.flush()?;
        let c = self.st.per_db.entry(b.db).or_default();
        c.add(&counts);
        self.st.paced += b.items.len() as u64 + b.vanished;
        Ok(existed_then)
    }

    /// A key that appeared on the target after the `EXISTS` of its batch.
    pub(super) fn conflict_found(&mut self, db: u32, key: &[u8], counts: &mut Counts) {
        match self.p.conflict {
            Conflict::Skip => counts.skipped += 1,
            _ => {
                counts.conflicts += 1;
                Self::note(
                    &mut self.st.conflict_keys,
                    db,
                    key,
                    "appeared on the target during the migration",
                );
            }
        }
    }

    pub(super) fn checkpoint(&mut self, phase: &str) -> Result<()> {
        let t = self.st.totals();
        let pct = match self.st.total {
            0 => 0.0,
            n => (self.st.done_bytes.max(t.selected) as f64 / n as f64 * 90.0).min(90.0),
        };
        let cp = serde_json::to_value(&self.st).map_err(|e| Error::internal(e.to_string()))?;
        self.ctx.checkpoint(
            &cp,
            phase,
            pct,
            serde_json::to_value(&t).unwrap_or(Value::Null),
        )
    }
}
