//! The cleanup run: pass after pass (master, db, pattern) of `SCAN`,
//! filter, checkpoint, act; settling a killed attempt's pending keys first,
//! and writing `cleanup.json`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::checkpoint::Checkpoint;
use super::inspect::inspect;
use super::params::{CleanupParams, Mode};
use super::runner::{Rng, Run};
use crate::backup::write::BackupWriter;
use crate::backup::{RDB_FILE, TTL_FILE};
use crate::error::{Error, Result};
use crate::job::JobCtx;
use crate::redis::keys::{hex, unhex};
use crate::redis::nodes::{is_cluster, select};
use crate::redis::{Bucket, KEY_TYPES};
use crate::registry::{self, Credentials, Node};
use crate::state::credentials;

impl Run<'_> {
    /// One pass: a SCAN of one pattern in one db of one master.
    pub(super) fn pass(
        &mut self,
        creds: &Credentials,
        addr: &str,
        db: u32,
        glob: &str,
        key: &str,
    ) -> Result<()> {
        let mut conn = registry::connect(addr, creds, Duration::from_secs(5))?;
        select(&mut conn, self.cluster, db)?;
        let mut cursor = "0".to_string();
        if self.cp.current.as_deref() == Some(key) {
            cursor = self.cp.cursor.clone();
            let mut seen = std::collections::HashSet::new();
            let pending: Vec<Vec<u8>> = self
                .cp
                .pending
                .iter()
                .filter_map(|h| unhex(h))
                .filter(|k| seen.insert(k.clone()))
                .collect();
            if !pending.is_empty() {
                self.act(&mut conn, addr, db, &pending, None, true)?;
            }
        }
        self.cp.current = Some(key.to_string());
        self.cp.pending.clear();
        let idle = self.p.idle_secs_min.is_some();
        let read_keys = self.p.reads_keys();
        let group = self.p.group();
        let count = self.p.scan_count();
        if self.p.fast() && !read_keys {
            self.fast_loop(&mut conn, addr, db, glob, cursor)?;
            return self.end_pass(addr, key);
        }
        loop {
            self.ctx.check_cancel()?;
            self.wait_pressure(&mut conn, addr)?;
            // SCANs until a group is gathered (or its worth of keys was
            // scanned): one backup sync and one checkpoint for the group (a
            // key a later SCAN returns again is taken once).
            let mut chosen: Vec<Vec<u8>> = Vec::new();
            // The type of each chosen key, when a filter read it.
            let mut read_kinds: Vec<Option<&'static str>> = Vec::new();
            let mut seen = std::collections::HashSet::new();
            let mut next;
            let mut scans = 0;
            loop {
                scans += 1;
                let (after, keys): (String, Vec<Vec<u8>>) = redis::cmd("SCAN")
                    .arg(&cursor)
                    .arg("MATCH")
                    .arg(glob)
                    .arg("COUNT")
                    .arg(count)
                    .query(&mut conn)
                    .map_err(|e| Error::from(e).context(format!("SCAN on {addr}")))?;
                next = after;
                // Without a filter, a delete reads nothing before its
                // backup: the `DUMP` tells which keys are still there.
                let keys: Vec<Vec<u8>> = keys
                    .into_iter()
                    .filter(|k| seen.insert(k.clone()))
                    .collect();
                let picked: Vec<Vec<u8>> = if read_keys {
                    let info = inspect(&mut conn, &keys, idle)?;
                    keys.iter()
                        .zip(&info)
                        .filter(|(_, (t, pttl, i))| self.p.selects(t, *pttl, *i))
                        .map(|(k, (t, _, _))| {
                            read_kinds.push(KEY_TYPES.iter().find(|x| **x == t).copied());
                            k.clone()
                        })
                        .collect()
                } else {
                    keys.clone()
                };
                let c = self.node(addr);
                c.scanned += keys.len() as u64;
                if read_keys {
                    c.selected += picked.len() as u64;
                }
                chosen.extend(picked);
                if next == "0" || chosen.len() >= group || scans * count as usize >= group {
                    break;
                }
                cursor = next.clone();
            }
            let (chosen, kinds) = self.back_up(&mut conn, db, chosen)?;
            // No backup: the types the filters read, if any.
            let kinds = kinds.or((read_keys && self.backup.is_none()).then_some(read_kinds));
            if !read_keys {
                // The keys the backup found.
                self.node(addr).selected += chosen.len() as u64;
            }
            self.cp.cursor = next.clone();
            if !self.p.dry_run {
                self.cp.pending = chosen.iter().map(|k| hex(k)).collect();
            }
            // Before acting on keys the checkpoint must name them; an empty
            // batch is saved at most once a second.
            if !self.cp.pending.is_empty() || self.last_save.elapsed() >= Duration::from_secs(1) {
                self.save(addr)?;
            }
            self.act(&mut conn, addr, db, &chosen, kinds.as_deref(), false)?;
            if next == "0" {
                break;
            }
            cursor = next;
        }
        self.end_pass(addr, key)
    }

    /// Marks pass `key` done, in a checkpoint.
    fn end_pass(&mut self, addr: &str, key: &str) -> Result<()> {
        self.cp.done.push(key.to_string());
        self.cp.current = None;
        self.cp.cursor = "0".into();
        self.cp.pending.clear();
        self.save(addr)
    }
}

/// The pass of the master that took over pass `cur` (`master/db/pattern`)
/// after a failover: the only master of a replicated app, or on a cluster
/// the master serving the slot of the first pending key. None when it
/// cannot be told (the pending keys are then found again by the scans).
fn follow_pass(cur: &str, pending: &[String], nodes: &[Node], cluster: bool) -> Option<String> {
    let (_, rest) = cur.split_once('/')?;
    let masters: Vec<&Node> = nodes.iter().filter(|n| n.role == "master").collect();
    let master = if cluster {
        let key = unhex(pending.first()?)?;
        let slot = analyzer::slot::key_slot(&key);
        masters.into_iter().find(|m| {
            m.slots
                .iter()
                .flatten()
                .any(|[a, b]| (*a..=*b).contains(&slot))
        })?
    } else {
        match masters[..] {
            [one] => one,
            _ => return None,
        }
    };
    Some(format!("{}/{rest}", master.addr))
}

/// Runs the ticket.
pub fn run(ctx: &JobCtx, p: &CleanupParams) -> Result<Value> {
    let app = ctx.app(&p.app)?;
    let cluster = is_cluster(&app);
    if cluster && p.dbs != [0] {
        return Err(Error::internal("a cluster has only db 0"));
    }
    let nodes = ctx.fresh_nodes(&app)?;
    let masters = registry::masters(&nodes);
    if masters.is_empty() {
        return Err(Error::transient(format!(
            "app {} has no master now",
            app.name
        )));
    }
    let creds = credentials(&app);
    let mut cp: Checkpoint = ctx
        .resume_checkpoint()?
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let resumed = cp.current.is_some() || !cp.done.is_empty();
    if resumed {
        cp.resumes += 1;
    }
    let estimate = ctx
        .block_on(ctx.state().store.get_ticket(ctx.ticket_id()))?
        .and_then(|t| t.plan)
        .and_then(|plan| serde_json::from_str::<Value>(&plan).ok())
        .and_then(|plan| plan["keys"].as_u64())
        .unwrap_or(0);
    let globs = p.globs();
    let mut passes = Vec::new();
    for m in &masters {
        for db in &p.dbs {
            for (i, g) in globs.iter().enumerate() {
                passes.push((m.clone(), *db, g.clone(), format!("{m}/{db}/{i}")));
            }
        }
    }
    // The pass under way was on a master that is no longer one (a
    // failover): it goes on on the master that now holds its keys (the one
    // master, or the owner of the pending keys' slot), from cursor 0 since
    // a SCAN cursor means nothing on another process. Its pending keys are
    // settled there: gone (the dead master's UNLINK reached the replica)
    // counts once as recovered, still there is deleted now.
    if let Some(cur) = cp.current.clone() {
        if !passes.iter().any(|(_, _, _, k)| *k == cur) {
            let follow = follow_pass(&cur, &cp.pending, &nodes, cluster);
            if follow.is_none() && cluster && !cp.pending.is_empty() {
                // No master serves the pending keys' slot yet (the
                // cluster is still electing one): dropping them would
                // leave deletions the dead master made uncounted. Later.
                return Err(Error::transient(format!(
                    "no master of app {} serves the slot of the keys pending on {cur} yet",
                    app.name
                )));
            }
            cp.current = follow;
            cp.cursor = "0".into();
            match &cp.current {
                // A master whose pass was done (its slots grew): again.
                Some(c) => cp.done.retain(|d| d != c),
                None => cp.pending.clear(),
            }
        }
    }
    let prior_secs = cp.seconds;
    let backup = if p.dry_run || !p.backup {
        None
    } else {
        let aux = vec![
            ("rdbscope-ticket".to_string(), ctx.ticket_id().to_string()),
            ("rdbscope-app".to_string(), app.name.clone()),
            (
                "ctime".to_string(),
                (crate::store::now_ms() / 1000).to_string(),
            ),
        ];
        Some(BackupWriter::open(
            &crate::backup::dir(&ctx.state().config, ctx.ticket_id()),
            cp.backup.as_ref(),
            aux,
        )?)
    };
    let mut run = Run {
        ctx,
        p,
        // Half a second of tokens: slow moments (a checkpoint, a SCAN) are
        // made up for, in a burst of at most that much.
        bucket: Bucket::new(p.rate, p.chunk().max((p.rate / 2) as usize)),
        rng: Rng::new(),
        started: Instant::now(),
        prior_secs,
        last_pressure: None,
        last_save: Instant::now(),
        passes: passes.len(),
        estimate,
        cluster,
        cp,
        backup,
    };
    ctx.progress("cleaning", run.percent(), run.counters(""), true);
    for (addr, db, glob, key) in &passes {
        if run.cp.done.contains(key) {
            continue;
        }
        run.pass(&creds, addr, *db, glob, key)?;
    }
    let backup = finish_backup(&mut run, &creds, &masters)?;
    let totals = run.totals();
    let seconds = run.seconds();
    let active = (seconds - run.cp.paused_secs).max(1e-9);
    let acted = if p.dry_run {
        totals.selected
    } else {
        totals.deleted + totals.expired
    };
    let per_node: Vec<Value> = masters
        .iter()
        .chain(run.cp.nodes.keys().filter(|k| !masters.contains(k)))
        .map(|m| {
            let c = run.cp.nodes.get(m).cloned().unwrap_or_default();
            let mut v = serde_json::to_value(&c).unwrap_or(Value::Null);
            v["node"] = json!(m);
            v
        })
        .collect();
    let round = |x: f64| (x * 1000.0).round() / 1000.0;
    let report = json!({
        "app": app.name,
        "mode": p.mode,
        "dry_run": p.dry_run,
        "dbs": p.dbs,
        "match": globs,
        "filters": {"type": p.key_type, "ttl": p.ttl, "idle_secs_min": p.idle_secs_min},
        "rate": p.rate,
        "nodes": per_node,
        "totals": totals,
        "seconds": round(seconds),
        "paused_secs": round(run.cp.paused_secs),
        "keys_per_sec": round(acted as f64 / active),
        "resumes": run.cp.resumes,
        "sample": run.cp.sample,
        "backup": backup,
        "rollback_possible": p.rollback_possible(),
    });
    let dir = ctx.report_dir();
    std::fs::create_dir_all(&dir)?;
    let mut text = serde_json::to_vec_pretty(&report).unwrap_or_default();
    text.push(b'\n');
    std::fs::write(dir.join("cleanup.json"), text)?;
    ctx.progress("done", 100.0, run.counters(""), true);
    let mut result = json!({
        "mode": p.mode,
        "dry_run": p.dry_run,
        "scanned": totals.scanned,
        "selected": totals.selected,
        "deleted": totals.deleted,
        "expired": totals.expired,
        "recovered": totals.recovered,
        "big_keys": totals.big_keys,
        "elements_removed": totals.elements_removed,
        "elements": totals.elements,
        "elements_uncounted_keys": totals.elements_unknown,
        "masters": masters.len(),
        "seconds": round(seconds),
        "paused_secs": round(run.cp.paused_secs),
        "keys_per_sec": round(acted as f64 / active),
        "resumes": run.cp.resumes,
        "files": ["cleanup.json"],
        "backup": backup,
        "rollback_possible": p.rollback_possible(),
    });
    if p.dry_run {
        result["would_act_on"] = json!(totals.selected);
    }
    Ok(result)
}

/// Closes the backup: `backup.rdb` gets its `EOF` and checksum (an empty
/// file, of the first master's `DUMP` version, when nothing was deleted).
/// What the report says of it.
fn finish_backup(run: &mut Run<'_>, creds: &Credentials, masters: &[String]) -> Result<Value> {
    let Some(b) = run.backup.as_mut() else {
        return Ok(Value::Null);
    };
    let pos = b.pos();
    let dir = crate::backup::DIR;
    Ok(match run.p.mode {
        Mode::Delete => {
            let version = if pos.version > 0 {
                pos.version
            } else {
                let addr = masters.first().map(String::as_str).unwrap_or_default();
                let mut conn = registry::connect(addr, creds, Duration::from_secs(5))?;
                crate::jobs::migrate::dump_version(&registry::info(&mut conn, "server")?)
            };
            let bytes = b.finish_rdb(version)?;
            json!({"file": format!("{dir}/{RDB_FILE}"), "bytes": bytes, "keys": pos.keys, "rdb_version": version})
        }
        Mode::Expire => {
            json!({"file": format!("{dir}/{TTL_FILE}"), "bytes": pos.ttl_bytes, "keys": pos.ttl_keys})
        }
    })
}
