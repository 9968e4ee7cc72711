//! What the fault tests share: waiting for a job's progress to reach a
//! point, SIGKILLing a process, key sets of nodes, writes routed to the
//! cluster master of a slot, and a cluster with a replica per master.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::{require_server, RedisServer, ServerKind};

use crate::service::{scan_keys, slot, small_cluster, Service};

pub(crate) type Cmd = Vec<Vec<u8>>;

/// Polls ticket `id` until `progress.counters[field]` reaches `at_least`
/// and returns the ticket; fails after `secs` or if it ends first.
pub(crate) fn wait_counter(
    svc: &Service,
    id: i64,
    token: &str,
    field: &str,
    at_least: u64,
    secs: u64,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let t = svc.ok("GET", &format!("/tickets/{id}"), token, None);
        let state = t["state"].as_str().unwrap_or_default();
        assert!(
            !["succeeded", "failed", "cancelled"].contains(&state),
            "ticket {id} ended before {field} reached {at_least}: {t}"
        );
        if t["progress"]["counters"][field].as_u64().unwrap_or(0) >= at_least {
            return t;
        }
        assert!(
            Instant::now() < deadline,
            "ticket {id}: {field} did not reach {at_least} in {secs}s: {t}\n{}",
            svc.log_text()
        );
        std::thread::sleep(Duration::from_millis(30));
    }
}

/// SIGKILL, as a crash or the OOM killer would.
pub(crate) fn sigkill(pid: u32) {
    let st = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(st.success(), "kill -9 {pid}");
}

/// Every key of db 0 of these nodes (SCAN, deduplicated).
pub(crate) fn keyset(nodes: &[&RedisServer]) -> BTreeSet<Vec<u8>> {
    let mut out = BTreeSet::new();
    for n in nodes {
        scan_keys(&mut n.client(), |_, k| {
            out.insert(k);
        });
    }
    out
}

/// `SET`s of `n` keys: `keep:<i>` for every `every`-th `i`, `tmp:<i>` for
/// the rest, the data of a cleanup of `tmp:*` that must leave exactly the
/// `keep:` keys.
pub(crate) fn keep_and_tmp(n: usize, every: usize) -> Vec<Cmd> {
    (0..n)
        .map(|i| {
            let key = if i % every == 0 {
                format!("keep:{i}")
            } else {
                format!("tmp:{i}")
            };
            testkit::cmd_args!["SET", key, "v"]
        })
        .collect()
}

/// The `keep:` keys the nodes hold ([`keep_and_tmp`]).
pub(crate) fn kept(nodes: &[&RedisServer]) -> BTreeSet<Vec<u8>> {
    keyset(nodes)
        .into_iter()
        .filter(|k| k.starts_with(b"keep:"))
        .collect()
}

/// Waits until `cond` holds (`what` names it in the failure).
pub(crate) fn wait_for(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "{what} within {secs}s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends each command to the master of the slot of its key (args[1]):
/// `small_cluster` gives master i the i-th third of the slots.
pub(crate) fn cluster_write(masters: &[RedisServer], cmds: Vec<Cmd>) {
    let mut per: Vec<Vec<Cmd>> = vec![Vec::new(); 3];
    for c in cmds {
        let i = match slot(&c[1]) {
            0..=5460 => 0,
            5461..=10922 => 1,
            _ => 2,
        };
        per[i].push(c);
    }
    for (n, cmds) in masters.iter().zip(per) {
        if !cmds.is_empty() {
            n.client().pipeline_must(&cmds);
        }
    }
}

/// Three masters, each with one replica (synced), on loopback; the
/// replicas fail over on their own 2 s after their master stops answering.
pub(crate) fn cluster_with_replicas() -> Option<(Vec<RedisServer>, Vec<RedisServer>)> {
    let bin = require_server(ServerKind::Redis70)?;
    let masters = small_cluster()?;
    let mut replicas = Vec::new();
    for m in &masters {
        let r = bin
            .start(&["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"])
            .unwrap();
        r.client()
            .must(&["CLUSTER", "MEET", "127.0.0.1", &m.port().to_string()]);
        let id = m.client().must(&["CLUSTER", "MYID"]);
        let id = id.as_str().unwrap().to_string();
        wait_for("a replica joins its master", 20, || {
            !r.client()
                .cmd(&["CLUSTER", "REPLICATE", &id])
                .unwrap()
                .is_error()
        });
        replicas.push(r);
    }
    for r in &replicas {
        wait_for("a replica syncs", 20, || {
            r.client()
                .must(&["INFO", "replication"])
                .as_str()
                .unwrap_or_default()
                .contains("master_link_status:up")
        });
    }
    Some((masters, replicas))
}

/// Waits until `replica` has as many keys as `master`.
pub(crate) fn wait_synced(master: &RedisServer, replica: &RedisServer) {
    let size = |s: &RedisServer| s.client().must(&["DBSIZE"]).as_int().unwrap();
    wait_for("the replica catches up", 20, || {
        size(master) == size(replica)
    });
}
