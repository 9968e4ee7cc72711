//! Writing to the target app: one master, or a cluster routed by slot,
//! following `MOVED`/`ASK` and retrying through failovers; and what the
//! target's server version reads.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ::redis::Value as RV;

use super::resp::Resp;
use crate::error::{Error, Result};
use crate::job::JobCtx;
use crate::redis::nodes::is_cluster;
use crate::redis::reply::server_error;
use crate::redis::timed::{self, TARGET_IO};
use crate::registry::{self, AppKind, Credentials, Node};
use crate::state::credentials;
use crate::store::AppRow;

/// How long writes to a target keep being retried (failover, resharding).
pub(crate) const RETRY_FOR: Duration = Duration::from_secs(40);

/// The RDB version a server's `DUMP` writes, from `INFO server`.
pub fn dump_version(info: &[(String, String)]) -> u32 {
    let get = |k: &str| {
        info.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let parse = |v: &str| -> (u32, u32) {
        let mut it = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        (it.next().unwrap_or(0), it.next().unwrap_or(0))
    };
    if let Some(v) = get("valkey_version") {
        return match parse(v) {
            (m, _) if m >= 9 => 80,
            _ => 11,
        };
    }
    match parse(get("redis_version").unwrap_or("0")) {
        (m, _) if m < 5 => 8,
        (5, _) => 9,
        (6, _) => 9,
        (7, 0) => 10,
        (7, 2) | (7, 3) => 11,
        (7, _) => 12,
        (8, 0) => 12,
        _ => 13,
    }
}

/// Picks a hash tag for every slot, so a temporary key can live in the slot
/// of any key (whatever braces the key itself has).
pub(crate) fn slot_tags() -> &'static Vec<u32> {
    static TAGS: OnceLock<Vec<u32>> = OnceLock::new();
    TAGS.get_or_init(|| {
        let mut tags = vec![u32::MAX; 16384];
        let mut left = 16384;
        let mut i = 0u32;
        while left > 0 {
            let s = analyzer::slot::crc16(format!("rdbscope-{i}").as_bytes()) as usize % 16384;
            if tags[s] == u32::MAX {
                tags[s] = i;
                left -= 1;
            }
            i += 1;
        }
        tags
    })
}

/// A key routed to a node: its index, whether under `ASK`, whether an
/// earlier try may have written it.
type Routed = (usize, bool, bool);

/// Writes to the target app: one master, or a cluster routed by slot.
pub(crate) struct Target {
    pub(crate) app: AppRow,
    pub(crate) creds: Credentials,
    pub(crate) cluster: bool,
    /// For each slot, the index of its master in `addrs` (cluster only).
    pub(crate) slots: Vec<usize>,
    pub(crate) addrs: Vec<String>,
    pub(crate) conns: HashMap<String, (redis::Connection, u32)>,
    pub(crate) db: u32,
    pub(crate) dump_version: u32,
    pub(crate) version: String,
    pub(crate) redirects: u64,
    pub(crate) refreshes: u64,
    /// Masters written to since the last [`Target::wait`].
    pub(crate) written: std::collections::BTreeSet<String>,
    /// `WAIT` round trips made.
    pub(crate) waits: u64,
}

impl Target {
    pub(crate) fn open(ctx: &JobCtx, app: AppRow) -> Result<Target> {
        let nodes = ctx.fresh_nodes(&app)?;
        let mut t = Target {
            cluster: is_cluster(&app),
            creds: credentials(&app),
            app,
            slots: Vec::new(),
            addrs: Vec::new(),
            conns: HashMap::new(),
            db: 0,
            dump_version: 0,
            version: String::new(),
            redirects: 0,
            refreshes: 0,
            written: Default::default(),
            waits: 0,
        };
        t.set_nodes(&nodes);
        let first = t
            .addrs
            .first()
            .cloned()
            .ok_or_else(|| Error::internal("the target has no master"))?;
        let info = {
            let c = t.conn(&first)?;
            registry::info(c, "server")?
        };
        t.dump_version = dump_version(&info);
        t.version = info
            .iter()
            .find(|(k, _)| k == "valkey_version" || k == "redis_version")
            .map(|(k, v)| {
                format!(
                    "{} {v}",
                    if k == "valkey_version" {
                        "valkey"
                    } else {
                        "redis"
                    }
                )
            })
            .unwrap_or_default();
        Ok(t)
    }

    pub(crate) fn set_nodes(&mut self, nodes: &[Node]) {
        let mut masters: Vec<&Node> = nodes.iter().filter(|n| n.role == "master").collect();
        masters.sort_by(|a, b| a.addr.cmp(&b.addr));
        self.addrs = masters.iter().map(|n| n.addr.clone()).collect();
        if self.cluster {
            self.slots = vec![usize::MAX; 16384];
            for (i, m) in masters.iter().enumerate() {
                for [a, b] in m.slots.clone().unwrap_or_default() {
                    for s in a..=b.min(16383) {
                        self.slots[s as usize] = i;
                    }
                }
            }
        }
    }

    /// Discovers the target again, from any member that answers.
    pub(crate) fn refresh(&mut self) {
        self.refreshes += 1;
        let kind = AppKind::parse(&self.app.kind).unwrap_or(AppKind::Standalone);
        let mut seeds = vec![self.app.addr.clone()];
        seeds.extend(self.addrs.iter().cloned());
        for s in seeds {
            if let Ok(nodes) = registry::discover(kind, &s, &self.creds, Duration::from_secs(2)) {
                self.set_nodes(&nodes);
                return;
            }
        }
    }

    pub(crate) fn node_for(&self, key: &[u8]) -> Option<String> {
        self.node_index(key).map(|i| self.addrs[i].clone())
    }

    /// The index in `addrs` of the master that owns `key`.
    pub(crate) fn node_index(&self, key: &[u8]) -> Option<usize> {
        let i = if self.cluster {
            *self.slots.get(analyzer::slot::key_slot(key) as usize)?
        } else {
            0
        };
        (i < self.addrs.len()).then_some(i)
    }

    pub(crate) fn conn(&mut self, addr: &str) -> Result<&mut redis::Connection> {
        if !self.conns.contains_key(addr) {
            let c = registry::connect(addr, &self.creds, Duration::from_secs(3))?;
            self.conns.insert(addr.to_string(), (c, 0));
        }
        let db = self.db;
        let cluster = self.cluster;
        let (c, selected) = self.conns.get_mut(addr).expect("just inserted");
        if !cluster && *selected != db {
            redis::cmd("SELECT")
                .arg(db)
                .query::<()>(c)
                .map_err(Error::from)?;
            *selected = db;
        }
        Ok(c)
    }

    /// The dbs that hold keys on some master (`INFO keyspace`).
    pub(crate) fn dbs_with_keys(&mut self) -> Result<Vec<u32>> {
        let mut dbs = Vec::new();
        for addr in self.addrs.clone() {
            dbs.extend(
                registry::keyspace(self.conn(&addr)?)?
                    .into_iter()
                    .map(|(db, _)| db),
            );
        }
        dbs.sort_unstable();
        dbs.dedup();
        Ok(dbs)
    }

    /// `DBSIZE` of the current db, summed over the masters.
    pub(crate) fn dbsize(&mut self) -> Result<u64> {
        let mut n = 0;
        for addr in self.addrs.clone() {
            n += redis::cmd("DBSIZE")
                .query::<u64>(self.conn(&addr)?)
                .map_err(Error::from)?;
        }
        Ok(n)
    }

    /// A temporary key in the slot of `key`.
    pub(crate) fn tmp_key(&self, key: &[u8], ticket: i64) -> Vec<u8> {
        tmp_key(self.cluster, key, ticket)
    }

    /// Whether the target's `RESTORE` takes `ABSTTL` (Redis 5.0, RDB 9,
    /// and later): a value re-encoded for it can be written with
    /// `RESTORE`; an older one gets commands.
    pub(super) fn takes_abs_ttl(&self) -> bool {
        self.dump_version >= 9
    }

    /// Whether the target is a cluster's masters.
    pub(super) fn is_cluster(&self) -> bool {
        self.cluster
    }

    /// Runs, for each key, its command sequence on the node that owns it,
    /// following redirections and retrying through failovers. `build(i,
    /// retry, out)` writes key i's commands into its node's pipeline
    /// (`retry`: an earlier try may have written it). Returns each key's
    /// replies. A node that stops answering fails the call after one
    /// [`TARGET_IO`] for the whole batch (a timeout is not retried here,
    /// unlike a refused or reset connection). `idle()` runs once the
    /// first round's pipelines are sent, before their replies are read:
    /// work that overlaps the nodes'.
    pub(crate) fn exec(
        &mut self,
        ctx: &JobCtx,
        keys: &[&[u8]],
        build: &mut dyn FnMut(usize, bool, &mut Resp),
        idle: &mut dyn FnMut(),
    ) -> Result<Vec<Vec<RV>>> {
        let mut out: Vec<Vec<RV>> = vec![Vec::new(); keys.len()];
        let mut todo: Vec<(usize, Option<String>, bool)> =
            (0..keys.len()).map(|i| (i, None, false)).collect();
        let started = Instant::now();
        let mut attempt = 0u32;
        let mut last_error = String::new();
        while !todo.is_empty() {
            if attempt > 0 {
                ctx.check_cancel()?;
                if started.elapsed() > RETRY_FOR {
                    return Err(Error::transient(format!(
                        "the target {} kept failing for {}s: {last_error}",
                        self.app.name,
                        RETRY_FOR.as_secs()
                    )));
                }
                std::thread::sleep(Duration::from_millis((50 * u64::from(attempt)).min(1000)));
            }
            attempt += 1;
            // Each node's keys, nodes in address order.
            let mut by_node: Vec<(String, Vec<Routed>)> = Vec::new();
            let mut next = Vec::new();
            let mut refresh = false;
            for (i, ask, retry) in todo.drain(..) {
                let node = match &ask {
                    Some(a) => Some(a.as_str()),
                    None => self.node_index(keys[i]).map(|n| self.addrs[n].as_str()),
                };
                let Some(node) = node else {
                    refresh = true;
                    last_error = "a slot has no master".into();
                    next.push((i, None, retry));
                    continue;
                };
                let entry = (i, ask.is_some(), retry);
                match by_node.iter_mut().find(|(n, _)| n == node) {
                    Some((_, list)) => list.push(entry),
                    None => by_node.push((node.to_string(), vec![entry])),
                }
            }
            by_node.sort_by(|a, b| a.0.cmp(&b.0));
            // Every node's pipeline goes out before any reply is read, so
            // the masters work on their parts at the same time.
            let mut sent = Vec::with_capacity(by_node.len());
            for (node, list) in by_node {
                let mut pipe = Resp::default();
                let mut spans = Vec::with_capacity(list.len());
                for &(i, asking, retry) in &list {
                    pipe.asking = asking;
                    let before = pipe.count;
                    build(i, retry, &mut pipe);
                    spans.push((i, pipe.count - before));
                }
                let askings = std::mem::take(&mut pipe.askings);
                self.written.insert(node.clone());
                let replies = pipe.count;
                // One deadline for all the replies of the batch, from its send.
                let deadline = Instant::now() + TARGET_IO;
                let r = self
                    .conn(&node)
                    .and_then(|c| timed::send_packed(&pipe.buf, c));
                match r {
                    Ok(()) => sent.push((node, list, spans, askings, replies, deadline)),
                    Err(e) if e.is_transient() || e.message.contains("connect") => {
                        self.conns.remove(&node);
                        refresh = true;
                        last_error = format!("{node}: {}", e.message);
                        next.extend(list.iter().map(|&(i, _, _)| (i, None, true)));
                    }
                    Err(e) => {
                        // Batches already sent to other nodes go unread.
                        self.conns.clear();
                        return Err(e.context(format!("writing to {node}")));
                    }
                }
            }
            if attempt == 1 {
                idle();
            }
            for (node, list, spans, askings, count, deadline) in sent {
                // Error replies stay values, as in a pipeline that ignores
                // errors.
                let replies: std::result::Result<Vec<RV>, Error> = self
                    .conn(&node)
                    .and_then(|c| timed::replies(c, count, deadline, TARGET_IO));
                let replies = match replies {
                    Ok(r) => r,
                    Err(e) if e.is_timeout() => {
                        // A node that stopped answering (stalled, or cut off
                        // without a reset): the attempt ends now, the
                        // scheduler's retry and backoff take over, and the
                        // next attempt writes the batch again from its
                        // checkpoint. The other nodes' replies of this round
                        // are left unread: their connections go too.
                        self.conns.clear();
                        return Err(e.context(format!("writing to {node}")));
                    }
                    Err(e) if e.is_transient() || e.message.contains("connect") => {
                        // The node is gone or failing over: find the new owner.
                        self.conns.remove(&node);
                        refresh = true;
                        last_error = format!("{node}: {}", e.message);
                        next.extend(list.iter().map(|&(i, _, _)| (i, None, true)));
                        continue;
                    }
                    Err(e) => {
                        self.conns.clear();
                        return Err(e.context(format!("writing to {node}")));
                    }
                };
                let mut replies = replies.into_iter().enumerate();
                let mut askings = askings.into_iter().peekable();
                for (i, n) in spans {
                    // Each command's own reply (an `ASKING`'s `OK` skipped).
                    let mut mine: Vec<RV> = Vec::with_capacity(n);
                    for (at, r) in replies.by_ref().take(n) {
                        if askings.next_if_eq(&at).is_none() {
                            mine.push(r);
                        }
                    }
                    let redirect = mine.iter().find_map(|r| match server_error(r) {
                        Some((code, details)) if code == "MOVED" => Some((true, None, details)),
                        Some((code, details)) if code == "ASK" => Some((
                            false,
                            details.split_whitespace().nth(1).map(str::to_string),
                            details,
                        )),
                        Some((code, details))
                            if matches!(
                                code.as_str(),
                                "TRYAGAIN" | "CLUSTERDOWN" | "LOADING" | "MASTERDOWN"
                            ) =>
                        {
                            Some((code == "CLUSTERDOWN", None, format!("{code} {details}")))
                        }
                        _ => None,
                    });
                    match redirect {
                        Some((moved, ask, why)) => {
                            self.redirects += 1;
                            refresh |= moved;
                            last_error = why;
                            next.push((i, ask, true));
                        }
                        None => out[i] = mine,
                    }
                }
            }
            if refresh {
                self.refresh();
            }
            todo = next;
        }
        Ok(out)
    }
}

impl Target {
    /// `WAIT replicas timeout_ms` on every master written to since the last
    /// call: the writes reached that many replicas, or a (retryable)
    /// error says how many did. Nothing is asked with 0 replicas.
    pub(crate) fn wait(&mut self, replicas: u32, timeout_ms: u64) -> Result<()> {
        let nodes = std::mem::take(&mut self.written);
        if replicas == 0 {
            return Ok(());
        }
        for node in nodes {
            let Some((c, _)) = self.conns.get_mut(&node) else {
                continue;
            };
            self.waits += 1;
            let got: i64 = redis::cmd("WAIT")
                .arg(replicas)
                .arg(timeout_ms)
                .query(c)
                .map_err(|e| Error::from(e).context(format!("WAIT on {node}")))?;
            if got < i64::from(replicas) {
                return Err(Error::transient(format!(
                    "WAIT on {node}: {got} of {replicas} replica(s) acknowledged the batch's writes within {timeout_ms} ms"
                )));
            }
        }
        Ok(())
    }
}

/// Ticket `ticket`'s temporary key for `key`: its name ends with the key
/// itself, so that no two keys share one (a key's `RENAMENX` that finds
/// the key there leaves its own temporary key, deleted after the batch's
/// replies, not one the next key of its slot would append to), and on a
/// cluster it starts with a hash tag of the key's slot.
pub(super) fn tmp_key(cluster: bool, key: &[u8], ticket: i64) -> Vec<u8> {
    let mut t = if cluster {
        let tag = slot_tags()[analyzer::slot::key_slot(key) as usize];
        format!("{{rdbscope-{tag}}}:migrate-tmp:{ticket}:").into_bytes()
    } else {
        format!("rdbscope:migrate-tmp:{ticket}:").into_bytes()
    };
    t.extend_from_slice(key);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_tags() {
        let info = |v: &str| vec![("redis_version".to_string(), v.to_string())];
        assert_eq!(dump_version(&info("6.2.14")), 9);
        assert_eq!(dump_version(&info("7.0.15")), 10);
        assert_eq!(dump_version(&info("7.2.4")), 11);
        assert_eq!(dump_version(&info("7.4.1")), 12);
        let tags = slot_tags();
        for s in [0usize, 1, 5000, 16383] {
            let key = format!("{{rdbscope-{}}}:x", tags[s]);
            assert_eq!(analyzer::slot::key_slot(key.as_bytes()) as usize, s);
        }
    }
}
