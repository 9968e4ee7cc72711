//! The Redis master a cleanup is writing to is SIGKILLed and its replica
//! takes over (promoted by hand with `REPLICAOF NO ONE`, or by the cluster
//! on its own): the job is retried, finds the new master (from the members
//! it found last time when the registered node is gone), settles the keys
//! of its last batch there and goes on. Every matching key is deleted once
//! and counted once; every other key is still there.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use testkit::RedisServer;

use super::watch::{
    cluster_with_replicas, cluster_write, keep_and_tmp, kept, keyset, sigkill, wait_counter,
    wait_for, wait_synced, Cmd,
};
use crate::service::{audit_steps, master_with_replica, Service, Setup};

const CONFIG: &str = "allow_self_approval = true\nmax_attempts = 8\n";

fn cleanup(svc: &Service, admin: &str, params: Value) -> i64 {
    let t = svc.ok(
        "POST",
        "/tickets",
        admin,
        Some(json!({"type": "cleanup", "params": params})),
    );
    let id = t["id"].as_i64().unwrap();
    svc.ok("POST", &format!("/tickets/{id}/approve"), admin, None);
    id
}

/// The retries the failover caused, from the audit.
fn retries(svc: &Service, id: i64, admin: &str) -> usize {
    audit_steps(svc, id, admin)
        .iter()
        .filter(|s| s.0 == "running" && s.1 == "approved")
        .count()
}

#[test]
fn failover_standalone_master_killed_replica_promoted_mid_cleanup() {
    let Some(setup) = Setup::new("sqlite") else {
        return;
    };
    let Some((master, replica)) = master_with_replica() else {
        return;
    };
    let cmds: Vec<Cmd> = (0..3000)
        .map(|i| testkit::cmd_args!["SET", format!("tmp:{i}"), "v"])
        .collect();
    master.client().pipeline_must(&cmds);
    wait_synced(&master, &replica);
    let before = keyset(&[&master]);
    let expected: BTreeSet<Vec<u8>> = before
        .iter()
        .filter(|k| !k.starts_with(b"tmp:"))
        .cloned()
        .collect();
    assert_eq!(before.len() - expected.len(), 3000);
    let admin = setup.init_admin("root");
    let svc = setup.start(1, CONFIG);
    // Registered by its master's address, the one that will die.
    let app = svc.add_local_app(&admin, "shop", "replicated", master.port());
    assert_eq!(app["nodes"].as_array().unwrap().len(), 2, "{app}");
    let id = cleanup(
        &svc,
        &admin,
        json!({"app": "shop", "patterns": [{"prefix": "tmp:"}], "rate": 600, "batch": 100}),
    );
    wait_counter(&svc, id, &admin, "deleted", 900, 30);
    sigkill(master.pid());
    replica.client().must(&["REPLICAOF", "NO", "ONE"]);

    let done = svc.wait_state(id, &admin, &["succeeded", "failed"], 120);
    assert_eq!(done["state"], "succeeded", "{done}\n{}", svc.log_text());
    assert_eq!(keyset(&[&replica]), expected, "exactly the tmp: keys gone");
    let r = &done["result"];
    assert_eq!(r["deleted"], 3000, "every deletion counted once: {r}");
    assert!(retries(&svc, id, &admin) >= 1, "the kill was noticed");
    let report: Value =
        serde_json::from_slice(&svc.bytes(&format!("/tickets/{id}/report/cleanup.json"), &admin))
            .unwrap();
    let nodes = report["nodes"].as_array().unwrap();
    let per = |addr: String| {
        nodes
            .iter()
            .find(|n| n["node"] == addr)
            .map(|n| n["deleted"].as_u64().unwrap())
            .unwrap_or(0)
    };
    let (old, new) = (
        per(format!("127.0.0.1:{}", master.port())),
        per(format!("127.0.0.1:{}", replica.port())),
    );
    assert!(old >= 900 && new > 0 && old + new == 3000, "{report}");
    // The app now names the promoted replica as its master.
    let app = svc.ok("GET", "/apps/shop", &admin, None);
    let masters: Vec<&Value> = app["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["role"] == "master")
        .collect();
    assert_eq!(masters.len(), 1, "{app}");
    assert_eq!(masters[0]["addr"], format!("127.0.0.1:{}", replica.port()));
}

#[test]
fn failover_cluster_master_killed_replica_takes_over_mid_cleanup() {
    let Some(setup) = Setup::new("sqlite") else {
        return;
    };
    let Some((masters, replicas)) = cluster_with_replicas() else {
        return;
    };
    let cmds = keep_and_tmp(4000, 4);
    cluster_write(&masters, cmds);
    for (m, r) in masters.iter().zip(&replicas) {
        wait_synced(m, r);
    }
    let all: Vec<&RedisServer> = masters.iter().collect();
    let expected = kept(&all);
    assert_eq!(expected.len(), 1000);
    let admin = setup.init_admin("root");
    let svc = setup.start(1, CONFIG);
    svc.add_local_app(&admin, "orders", "cluster", masters[0].port());
    let id = cleanup(
        &svc,
        &admin,
        json!({"app": "orders", "patterns": [{"prefix": "tmp:"}], "rate": 600, "batch": 100}),
    );
    // Kill the master the job is working on, mid-pass.
    let t = wait_counter(&svc, id, &admin, "deleted", 1200, 60);
    let busy = t["progress"]["counters"]["node"]
        .as_str()
        .unwrap()
        .to_string();
    let victim = masters
        .iter()
        .position(|m| format!("127.0.0.1:{}", m.port()) == busy)
        .unwrap_or(1);
    sigkill(masters[victim].pid());
    wait_for("the replica takes over", 30, || {
        replicas[victim]
            .client()
            .must(&["INFO", "replication"])
            .as_str()
            .unwrap_or_default()
            .contains("role:master")
    });

    let done = svc.wait_state(id, &admin, &["succeeded", "failed"], 180);
    assert_eq!(done["state"], "succeeded", "{done}\n{}", svc.log_text());
    let live: Vec<&RedisServer> = masters
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != victim)
        .map(|(_, m)| m)
        .chain([&replicas[victim]])
        .collect();
    assert_eq!(keyset(&live), expected, "exactly the tmp: keys gone");
    let r = &done["result"];
    assert_eq!(r["deleted"], 3000, "every deletion counted once: {r}");
    assert!(retries(&svc, id, &admin) >= 1, "the kill was noticed");
}
