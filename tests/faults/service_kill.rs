//! The service SIGKILLed during a snapshot fetch, a cleanup and a
//! migration, each at three points (early, mid-run, near the end, chosen
//! by polling the job's progress), and restarted each time: the cleanup
//! and the migration resume from their checkpoints, the fetch starts over
//! (a replication stream cannot be resumed). Nothing is lost, doubled or
//! left half-written: the data is compared, the counts are exact, the
//! report is whole, no temporary file is left, and the audit shows each
//! kill as a rescue.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use testkit::{RedisServer, ServerBin};

use super::proxy::Proxy;
use super::watch::{keep_and_tmp, kept, keyset, wait_counter, Cmd};
use crate::service::{audit_steps, files_under, setup_and_redis, Service, Setup};

pub(super) const CONFIG: &str = "allow_self_approval = true\nmax_attempts = 8\n";

/// Kills the service once `field` reaches each point, restarting it each
/// time; returns the instance that runs on.
pub(super) fn kill_at_points(
    setup: &Setup,
    mut svc: Service,
    id: i64,
    admin: &str,
    field: &str,
    points: &[u64],
) -> Service {
    for &at in points {
        wait_counter(&svc, id, admin, field, at, 60);
        svc.kill();
        svc = setup.start(1, CONFIG);
    }
    svc
}

/// The audit after `kills` kills: a rescue per kill, one start per
/// attempt, one success at the end.
pub(super) fn assert_audit(svc: &Service, id: i64, admin: &str, kills: usize) {
    let steps = audit_steps(svc, id, admin);
    let n = |to: &str, actor: &str| {
        steps
            .iter()
            .filter(|s| s.1 == to && (actor.is_empty() || s.2 == actor))
            .count()
    };
    assert_eq!(n("approved", "rescuer"), kills, "{steps:?}");
    assert_eq!(n("running", ""), kills + 1, "{steps:?}");
    assert_eq!(n("succeeded", ""), 1, "{steps:?}");
    assert_eq!(steps.last().unwrap().1, "succeeded", "{steps:?}");
}

/// The files under the reports folder: only the ticket's report, nothing
/// half-written beside it.
fn assert_only_report(setup: &Setup, id: i64, expect: &[&str]) {
    let files: Vec<String> = files_under(&setup.reports)
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    for f in &files {
        assert!(
            expect.iter().any(|e| f.ends_with(e)) && f.starts_with(&id.to_string()),
            "a stray file in the reports folder: {f} (all: {files:?})"
        );
    }
    for e in expect {
        assert!(files.iter().any(|f| f.ends_with(e)), "{e} in {files:?}");
    }
}

/// A cleanup of 3,000 of 3,300 keys (`params` beside the app and pattern)
/// killed at three points: it succeeds with every deletion counted once,
/// three resumes, the kept keys untouched and the kills audited; returns
/// the service, the ticket, its final state and the admin's token.
fn cleanup_killed_at_three_points(
    setup: &Setup,
    bin: &ServerBin,
    params: Value,
) -> (Service, i64, Value, String) {
    let node = bin.start(&[]).unwrap();
    let cmds = keep_and_tmp(3300, 11);
    node.client().pipeline_must(&cmds);
    let keep = kept(&[&node]);
    assert_eq!(keep.len(), 300);
    let admin = setup.init_admin("root");
    let svc = setup.start(1, CONFIG);
    svc.add_local_app(&admin, "shop", "standalone", node.port());
    let mut p = json!({"app": "shop", "patterns": [{"prefix": "tmp:"}]});
    p.as_object_mut()
        .unwrap()
        .extend(params.as_object().unwrap().clone());
    let id = svc.ok(
        "POST",
        "/tickets",
        &admin,
        Some(json!({"type": "cleanup", "params": p})),
    )["id"]
        .as_i64()
        .unwrap();
    svc.ok("POST", &format!("/tickets/{id}/approve"), &admin, None);
    let svc = kill_at_points(setup, svc, id, &admin, "deleted", &[100, 1500, 2750]);
    let done = svc.wait_state(id, &admin, &["succeeded", "failed"], 60);
    assert_eq!(done["state"], "succeeded", "{done}\n{}", svc.log_text());
    let r = &done["result"];
    assert_eq!(r["deleted"], 3000, "every deletion counted once: {r}");
    assert_eq!(r["resumes"], 3, "{r}");
    assert_eq!(keyset(&[&node]), keep);
    assert_audit(&svc, id, &admin, 3);
    (svc, id, done, admin)
}

#[test]
fn service_kill_during_a_cleanup_at_three_points() {
    let Some((setup, bin)) = setup_and_redis("sqlite") else {
        return;
    };
    let (svc, id, done, admin) =
        cleanup_killed_at_three_points(&setup, &bin, json!({"rate": 500, "batch": 100}));
    assert_eq!(done["attempts"], 4, "{done}");
    let report: Value =
        serde_json::from_slice(&svc.bytes(&format!("/tickets/{id}/report/cleanup.json"), &admin))
            .expect("a whole cleanup.json");
    assert_eq!(report["totals"]["deleted"], 3000, "{report}");
    assert_eq!(report["resumes"], 3);
    // The report, and the backup of what was deleted (finished, whole).
    assert_only_report(&setup, id, &["cleanup.json", "backup/backup.rdb"]);
}

/// The same without a backup (`"backup": false`: large `SCAN`s, many
/// keys per `UNLINK`, a group of 100 keys a chunk at this rate, so the
/// next `SCAN` is in flight during the checkpoint): each resumed run
/// settles the checkpoint's pending keys, every deletion is counted once,
/// and no backup file is left.
#[test]
fn service_kill_during_a_cleanup_without_a_backup() {
    let Some((setup, bin)) = setup_and_redis("sqlite") else {
        return;
    };
    let params = json!({"rate": 1000, "batch": 50, "backup": false});
    let (_svc, id, done, _) = cleanup_killed_at_three_points(&setup, &bin, params);
    assert_eq!(done["result"]["backup"], Value::Null, "{done}");
    assert_only_report(&setup, id, &["cleanup.json"]);
}

/// Every key of db 0 with its DUMP payload and whether it has a TTL.
pub(super) fn dumps(node: &RedisServer) -> BTreeMap<Vec<u8>, (Vec<u8>, bool)> {
    let keys: Vec<Vec<u8>> = keyset(&[node]).into_iter().collect();
    let mut c = node.client();
    let mut cmds: Vec<Cmd> = Vec::new();
    for k in &keys {
        cmds.push(vec![b"DUMP".to_vec(), k.clone()]);
        cmds.push(vec![b"PTTL".to_vec(), k.clone()]);
    }
    let replies = c.pipeline_must(&cmds);
    keys.into_iter()
        .zip(replies.chunks(2))
        .map(|(k, r)| {
            let ttl = r[1].as_int().unwrap() > 0;
            (k, (r[0].as_bytes().unwrap().to_vec(), ttl))
        })
        .collect()
}

#[test]
fn service_kill_during_a_migration_at_three_points() {
    let Some((setup, bin)) = setup_and_redis("sqlite") else {
        return;
    };
    let source = bin.start(&[]).unwrap();
    let target = bin.start(&[]).unwrap();
    let cmds: Vec<Cmd> = (0..1500)
        .map(|i| match i % 3 {
            0 => testkit::cmd_args!["SET", format!("s:{i}"), format!("v{i}")],
            1 => testkit::cmd_args!["RPUSH", format!("l:{i}"), "a", "b", i.to_string()],
            _ => testkit::cmd_args!["HSET", format!("h:{i}"), "f", i.to_string(), "g", "x"],
        })
        .collect();
    source.client().pipeline_must(&cmds);
    source.client().must(&["EXPIRE", "s:0", "100000"]);
    let admin = setup.init_admin("root");
    let svc = setup.start(1, CONFIG);
    svc.add_local_app(&admin, "a", "standalone", source.port());
    svc.add_local_app(&admin, "b", "standalone", target.port());
    let id = svc.ok(
        "POST",
        "/tickets",
        &admin,
        Some(json!({"type": "migration", "params": {"source": "a", "target": "b", "write": "restore", "rate": 300, "batch": 20}})),
    )["id"]
        .as_i64()
        .unwrap();
    svc.ok("POST", &format!("/tickets/{id}/approve"), &admin, None);
    let svc = kill_at_points(&setup, svc, id, &admin, "written", &[40, 750, 1400]);
    let done = svc.wait_state(id, &admin, &["succeeded", "failed"], 60);
    assert_eq!(done["state"], "succeeded", "{done}\n{}", svc.log_text());
    let r = &done["result"];
    assert_eq!(r["counts"]["written"], 1500, "{r}");
    assert_eq!(r["counts"]["conflicts"], 0, "{r}");
    assert_eq!(r["counts"]["failed"], 0, "{r}");
    assert_eq!(dumps(&source), dumps(&target), "the same keys and values");
    assert_eq!(done["attempts"], 4, "{done}");
    assert_audit(&svc, id, &admin, 3);
    let report: Value =
        serde_json::from_slice(&svc.bytes(&format!("/tickets/{id}/report/migration.json"), &admin))
            .expect("a whole migration.json");
    assert_eq!(report["counts"]["written"], 1500, "{report}");
    assert_only_report(&setup, id, &["migration.json"]);
}

#[test]
fn service_kill_during_a_snapshot_fetch_at_three_points() {
    let Some((setup, bin)) = setup_and_redis("sqlite") else {
        return;
    };
    let node = bin.start(&["--repl-diskless-sync-delay", "0"]).unwrap();
    // Values LZF cannot shrink: the snapshot is about 2.4 MB.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let cmds: Vec<Cmd> = (0..20000)
        .map(|i| {
            let value: String = (0..7)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    format!("{x:016x}")
                })
                .collect();
            testkit::cmd_args!["SET", format!("k:{i}"), value]
        })
        .collect();
    node.client().pipeline_must(&cmds);
    let size = std::fs::metadata(node.save()).unwrap().len();
    assert!(size > 2_000_000, "{size}");
    // The fetch goes through a proxy that passes 512 KB/s: slow enough to
    // be caught at each point.
    let link = Proxy::start(node.port());
    link.throttle(512 << 10);
    let admin = setup.init_admin("root");
    let svc = setup.start(1, CONFIG);
    svc.add_app(&admin, "shop", "standalone", link.addr());
    let id = svc.ok(
        "POST",
        "/tickets",
        &admin,
        Some(json!({"type": "analysis", "params": {"app": "shop"}})),
    )["id"]
        .as_i64()
        .unwrap();
    svc.ok("POST", &format!("/tickets/{id}/approve"), &admin, None);
    // The last point leaves a quarter of the file (about 1.2 s at this
    // rate): a busy machine's polls still see the counter pass it.
    let points = [1, size / 2, size * 3 / 4];
    let svc = kill_at_points(&setup, svc, id, &admin, "bytes", &points);
    let done = svc.wait_state(id, &admin, &["succeeded", "failed"], 60);
    assert_eq!(done["state"], "succeeded", "{done}\n{}", svc.log_text());
    assert_eq!(done["result"]["keys"], 20000, "{done}");
    assert_eq!(done["attempts"], 4, "{done}");
    assert_audit(&svc, id, &admin, 3);
    let summary: Value =
        serde_json::from_slice(&svc.bytes(&format!("/tickets/{id}/report/summary.json"), &admin))
            .expect("a whole summary.json");
    assert_eq!(summary["totals"]["keys"], 20000);
    // No fetched snapshot (whole or partial) is left, only the report.
    let files: Vec<String> = files_under(&setup.reports)
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    assert!(
        !files
            .iter()
            .any(|f| f.contains("fetch") || f.ends_with(".rdb")),
        "{files:?}"
    );
    assert!(
        files.iter().any(|f| f.ends_with("summary.json")),
        "{files:?}"
    );
    // The node served four fetches (three cut short) and is fine.
    assert_eq!(
        node.client().must(&["DBSIZE"]).as_int(),
        Some(20000),
        "the node is untouched"
    );
}
