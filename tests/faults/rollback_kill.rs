//! The service SIGKILLed during a rollback (a `restore` ticket) at three
//! points (early, mid-run, near the end), and restarted each time: the
//! restore of a delete cleanup's `backup.rdb` resumes from its checkpoint
//! and puts every key back once with its value and TTL (none missing, none
//! doubled, the counts add up to the backup's keys); the restore of an
//! expire cleanup's `ttls.jsonl` gives every key its previous TTL back.
//! The audit shows each kill as a rescue; the report is whole.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::service_kill::{assert_audit, kill_at_points, CONFIG};
use crate::rollback::{assert_same, load_keys, snapshot, write};
use crate::service::{files_under, setup_and_redis, Service, Setup};

/// Files the rollback of cleanup `id` and approves it; returns its id.
fn file_rollback(svc: &Service, admin: &str, id: i64, body: Value) -> i64 {
    let t = svc.ok(
        "POST",
        &format!("/tickets/{id}/rollback"),
        admin,
        Some(body),
    );
    assert_eq!(t["type"], "restore", "{t}");
    let rid = t["id"].as_i64().unwrap();
    svc.ok("POST", &format!("/tickets/{rid}/approve"), admin, None);
    rid
}

/// Runs a cleanup to its end; returns the finished ticket.
fn cleanup(svc: &Service, admin: &str, params: Value) -> Value {
    let id = svc.ok(
        "POST",
        "/tickets",
        admin,
        Some(json!({"type": "cleanup", "params": params})),
    )["id"]
        .as_i64()
        .unwrap();
    svc.ok("POST", &format!("/tickets/{id}/approve"), admin, None);
    let done = svc.wait_state(id, admin, &["succeeded", "failed"], 120);
    assert_eq!(done["state"], "succeeded", "{done}\n{}", svc.log_text());
    done
}

/// Under the restore ticket's folder only its report, nothing
/// half-written; the cleanup's backup is still whole beside it.
fn assert_only(setup: &Setup, rid: i64, report: &str) {
    let files: Vec<String> = files_under(&setup.reports.join(rid.to_string()))
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    assert!(
        files.len() == 1 && files[0].ends_with(report),
        "only {report} in the restore's folder: {files:?}"
    );
}

#[test]
fn rollback_kill_during_a_restore_of_a_delete_backup_at_three_points() {
    let Some((setup, bin)) = setup_and_redis("sqlite") else {
        return;
    };
    let node = bin.start(&[]).unwrap();
    // Strings (some with TTLs), lists, sets, sorted sets, hashes, streams.
    write(&node, &load_keys(1500, 0, "gone:"));
    write(&node, &load_keys(100, 0, "keep:"));
    let before = snapshot(&[&node], b"gone:");
    let kept = snapshot(&[&node], b"keep:");
    assert_eq!(before.len(), 1500);
    let admin = setup.init_admin("root");
    let svc = setup.start(1, CONFIG);
    svc.add_local_app(&admin, "shop", "standalone", node.port());
    // Keys that expire between the cleanup and the rollback.
    let short: Vec<super::watch::Cmd> = (0..20)
        .map(|i| testkit::cmd_args!["SET", format!("gone:short:{i}"), "x", "PX", "4000"])
        .collect();
    write(&node, &short);
    let short_at = Instant::now();
    let done = cleanup(
        &svc,
        &admin,
        json!({"app": "shop", "patterns": [{"glob": "gone:*"}], "rate": 100000, "batch": 300}),
    );
    let id = done["id"].as_i64().unwrap();
    let r = &done["result"];
    let backed_up = r["backup"]["keys"].as_u64().unwrap();
    assert_eq!(r["deleted"], backed_up, "{r}");
    // Every long-lived key, and the short ones not yet expired then.
    assert!((1500..=1520).contains(&backed_up), "{r}");
    assert_eq!(snapshot(&[&node], b"gone:").len(), 0);
    // Three keys exist again, with other values: skipped, not overwritten.
    let back: Vec<&Vec<u8>> = before.keys().step_by(500).collect();
    assert_eq!(back.len(), 3);
    for k in &back {
        node.client().must(&[&b"SET"[..], &k[..], &b"again"[..]]);
    }
    if let Some(left) = Duration::from_millis(4200).checked_sub(short_at.elapsed()) {
        std::thread::sleep(left);
    }
    let rid = file_rollback(&svc, &admin, id, json!({"rate": 300, "batch": 20}));
    let svc = kill_at_points(&setup, svc, rid, &admin, "written", &[40, 700, 1400]);
    let t = svc.wait_state(rid, &admin, &["succeeded", "failed"], 90);
    assert_eq!(t["state"], "succeeded", "{t}\n{}", svc.log_text());
    assert_eq!(t["attempts"], 4, "{t}");
    let res = &t["result"]["restore"];
    let n = |f: &str| res[f].as_u64().unwrap_or(u64::MAX);
    assert_eq!(n("restored"), 1500 - 3, "every key written once: {res}");
    assert_eq!(n("skipped_existing"), 3, "{res}");
    assert_eq!(n("skipped_expired"), backed_up - 1500, "{res}");
    assert_eq!(
        n("restored") + n("skipped_existing") + n("skipped_expired"),
        backed_up,
        "the counts add up to the backup: {res}"
    );
    assert_eq!(n("replaced"), 0, "{res}");
    assert_eq!(n("failed"), 0, "{res}");
    assert_eq!(t["result"]["counts"]["selected"], backed_up, "{t}");
    assert_eq!(t["result"]["counts"]["conflicts"], 0, "{t}");
    assert_eq!(t["result"]["verification"]["mismatch_count"], 0, "{t}");
    // The data: every key back with its value and TTL, the three that
    // existed again left as they were, nothing else changed.
    let mut after = snapshot(&[&node], b"gone:");
    for k in &back {
        assert_eq!(
            node.client().must(&[&b"GET"[..], &k[..]]).as_bytes(),
            Some(&b"again"[..])
        );
        after.insert(k.to_vec(), before[*k].clone());
    }
    assert_same(&[&node], &before, &after);
    assert_same(&[&node], &kept, &snapshot(&[&node], b"keep:"));
    assert_audit(&svc, rid, &admin, 3);
    let report: Value = serde_json::from_slice(
        &svc.bytes(&format!("/tickets/{rid}/report/migration.json"), &admin),
    )
    .expect("a whole migration.json");
    assert_eq!(report["counts"]["written"], 1500 - 3, "{report}");
    assert_only(&setup, rid, "migration.json");
    // The backup is left as it was: a second rollback could run.
    let backup = setup
        .reports
        .join(id.to_string())
        .join("report/backup/backup.rdb");
    assert_eq!(
        std::fs::metadata(&backup).unwrap().len(),
        r["backup"]["bytes"].as_u64().unwrap()
    );
}

#[test]
fn rollback_kill_during_a_restore_of_an_expire_backup_at_three_points() {
    let Some((setup, bin)) = setup_and_redis("sqlite") else {
        return;
    };
    let node = bin.start(&[]).unwrap();
    write(&node, &load_keys(1500, 0, "cold:"));
    let before = snapshot(&[&node], b"cold:");
    let admin = setup.init_admin("root");
    let svc = setup.start(1, CONFIG);
    svc.add_local_app(&admin, "shop", "standalone", node.port());
    let done = cleanup(
        &svc,
        &admin,
        json!({"app": "shop", "patterns": [{"glob": "cold:*"}], "mode": "expire", "expire_secs": [30000, 40000], "rate": 100000}),
    );
    let id = done["id"].as_i64().unwrap();
    let selected = done["result"]["selected"].as_u64().unwrap();
    let persistent = before.values().filter(|(_, at)| *at < 0).count() as u64;
    assert!(persistent > 1000, "{persistent}");
    assert_eq!(done["result"]["backup"]["keys"], selected, "{done}");
    let rid = file_rollback(&svc, &admin, id, json!({"rate": 300, "batch": 20}));
    let points = [40, persistent / 2, persistent * 9 / 10];
    let svc = kill_at_points(&setup, svc, rid, &admin, "persisted", &points);
    let t = svc.wait_state(rid, &admin, &["succeeded", "failed"], 90);
    assert_eq!(t["state"], "succeeded", "{t}\n{}", svc.log_text());
    assert_eq!(t["attempts"], 4, "{t}");
    let res = &t["result"]["restore"];
    let n = |f: &str| res[f].as_u64().unwrap_or(u64::MAX);
    assert_eq!(n("persisted"), persistent, "{res}");
    assert_eq!(n("restored"), selected - persistent, "{res}");
    assert_eq!((n("skipped_expired"), n("missing")), (0, 0), "{res}");
    assert_eq!(
        n("restored") + n("persisted") + n("skipped_expired") + n("missing"),
        selected,
        "each key of the backup counted once: {res}"
    );
    assert_eq!(res["verification"]["mismatch_count"], 0, "{t}");
    assert_same(&[&node], &before, &snapshot(&[&node], b"cold:"));
    assert_audit(&svc, rid, &admin, 3);
    let report: Value =
        serde_json::from_slice(&svc.bytes(&format!("/tickets/{rid}/report/restore.json"), &admin))
            .expect("a whole restore.json");
    assert_eq!(report["persisted"], persistent, "{report}");
    assert_only(&setup, rid, "restore.json");
}
