//! A TCP proxy between the service and a node drops and stalls the
//! connections of a running cleanup or migration. As docs/job-service.md
//! says: a dropped connection fails the attempt at once and a stalled one
//! after one read timeout (20 s; 12 s for a migration's target) for the
//! whole batch in flight, however many replies it waits for; both are
//! transient, so the job is retried with backoff and resumes from its
//! checkpoint; a node that stays stalled fails the ticket once its
//! attempts are spent. No job hangs: every wait here is bounded.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::proxy::Proxy;
use super::service_kill::dumps;
use super::watch::{keep_and_tmp, kept, keyset, wait_counter, Cmd};
use crate::service::{audit_steps, setup_and_redis, Service};

fn retries(svc: &Service, id: i64, admin: &str) -> Vec<String> {
    svc.ok("GET", &format!("/tickets/{id}/audit"), admin, None)
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["from"] == "running" && a["to"] == "approved")
        .map(|a| a["note"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn cleanup(svc: &Service, admin: &str, app: &str, rate: u64, batch: u64) -> i64 {
    let id = svc.ok(
        "POST",
        "/tickets",
        admin,
        Some(json!({"type": "cleanup", "params": {"app": app, "patterns": [{"prefix": "tmp:"}], "rate": rate, "batch": batch}})),
    )["id"]
        .as_i64()
        .unwrap();
    svc.ok("POST", &format!("/tickets/{id}/approve"), admin, None);
    id
}

#[test]
fn stalls_dropped_then_stalled_links_are_retried_and_the_job_ends() {
    let Some((setup, bin)) = setup_and_redis("sqlite") else {
        return;
    };
    let node = bin.start(&[]).unwrap();
    let cmds = keep_and_tmp(2200, 11);
    node.client().pipeline_must(&cmds);
    let expected = kept(&[&node]);
    let link = Proxy::start(node.port());
    let admin = setup.init_admin("root");
    let svc = setup.start(1, "allow_self_approval = true\nmax_attempts = 5\n");
    svc.add_app(&admin, "shop", "standalone", link.addr());
    let id = cleanup(&svc, &admin, "shop", 300, 100);

    // Dropped: every connection closed, new ones too, for 1.5 s.
    wait_counter(&svc, id, &admin, "deleted", 300, 30);
    link.drop_all();
    std::thread::sleep(Duration::from_millis(1500));
    link.pass();
    wait_counter(&svc, id, &admin, "deleted", 900, 60);
    let after_drop = retries(&svc, id, &admin).len();
    assert!(after_drop >= 1, "the drop was retried");

    // Stalled: held open, nothing forwarded, for longer than the read
    // timeout (20 s) plus the few seconds before the job's next request
    // (its pacing, a checkpoint). The lease is renewed meanwhile: no
    // rescue, one retry.
    link.stall();
    let stalled = Instant::now();
    std::thread::sleep(Duration::from_secs(27));
    link.pass();
    let done = svc.wait_state(id, &admin, &["succeeded", "failed"], 90);
    assert_eq!(done["state"], "succeeded", "{done}\n{}", svc.log_text());
    let notes = retries(&svc, id, &admin);
    assert!(notes.len() > after_drop, "the stall was retried: {notes:?}");
    assert!(
        notes.iter().any(|n| n.contains("timed out")),
        "a stall ends in a timeout: {notes:?}"
    );
    assert!(
        notes.iter().all(|n| n.starts_with("retrying after:")),
        "{notes:?}"
    );
    assert!(
        !audit_steps(&svc, id, &admin)
            .iter()
            .any(|s| s.2 == "rescuer"),
        "a stall is not a lost lease"
    );
    assert!(stalled.elapsed() < Duration::from_secs(120));
    assert_eq!(done["result"]["deleted"], 2000, "{done}");
    assert_eq!(keyset(&[&node]), expected, "exactly the tmp: keys gone");
}

#[test]
fn stalls_a_node_that_stays_stalled_fails_the_ticket_in_bounded_time() {
    let Some((setup, bin)) = setup_and_redis("sqlite") else {
        return;
    };
    let node = bin.start(&[]).unwrap();
    let cmds: Vec<Cmd> = (0..500)
        .map(|i| testkit::cmd_args!["SET", format!("tmp:{i}"), "v"])
        .collect();
    node.client().pipeline_must(&cmds);
    let link = Proxy::start(node.port());
    let admin = setup.init_admin("root");
    let svc = setup.start(1, "allow_self_approval = true\nmax_attempts = 2\n");
    svc.add_app(&admin, "shop", "standalone", link.addr());
    // A batch in flight waits one 20 s read timeout in all.
    let id = cleanup(&svc, &admin, "shop", 50, 20);
    wait_counter(&svc, id, &admin, "deleted", 50, 30);
    link.stall();
    let stalled = Instant::now();
    // Two attempts, each ending after the 20 s read timeout, 1 s apart.
    let done = svc.wait_state(id, &admin, &["succeeded", "failed"], 90);
    let took = stalled.elapsed();
    assert_eq!(done["state"], "failed", "{done}");
    assert_eq!(done["attempts"], 2, "{done}");
    let error = done["error"].as_str().unwrap_or_default().to_lowercase();
    assert!(error.contains("timed out"), "{done}");
    assert!(
        took >= Duration::from_secs(35) && took < Duration::from_secs(80),
        "{took:?}"
    );
    assert!(link.accepted() >= 2);
    let _: Value = done;
}

/// The read timeouts docs/job-service.md gives: a cleanup's reads and
/// writes on a node, a migration's writes to its target.
const NODE_TIMEOUT: Duration = Duration::from_secs(20);
const TARGET_TIMEOUT: Duration = Duration::from_secs(12);

/// Waits for the first `running → approved` retry of ticket `id`; returns
/// its note and the time since `since`.
fn first_retry(
    svc: &Service,
    id: i64,
    admin: &str,
    since: Instant,
    secs: u64,
) -> (String, Duration) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(note) = retries(svc, id, admin).into_iter().next() {
            return (note, since.elapsed());
        }
        let t = svc.ok("GET", &format!("/tickets/{id}"), admin, None);
        assert!(
            t["state"] == "running" || t["state"] == "approved",
            "no retry before the end: {t}"
        );
        assert!(
            Instant::now() < deadline,
            "no retry within {secs}s of the stall (a job that hangs): {t}\n{}",
            svc.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A migration whose target stalls mid-batch (80 `RESTORE`s in flight):
/// the batch is given up on after one 12 s timeout, not one per reply
/// (16 minutes), the job is retried and, once the stall ends, finishes
/// with every key copied once.
#[test]
fn stalls_a_stalled_migration_batch_costs_one_timeout() {
    let Some((setup, bin)) = setup_and_redis("sqlite") else {
        return;
    };
    let source = bin.start(&[]).unwrap();
    let target = bin.start(&[]).unwrap();
    let cmds: Vec<Cmd> = (0..2400)
        .map(|i| match i % 3 {
            0 => testkit::cmd_args!["SET", format!("s:{i}"), format!("v{i}")],
            1 => testkit::cmd_args!["RPUSH", format!("l:{i}"), "a", "b", i.to_string()],
            _ => testkit::cmd_args!["HSET", format!("h:{i}"), "f", i.to_string()],
        })
        .collect();
    source.client().pipeline_must(&cmds);
    source.client().must(&["EXPIRE", "s:0", "100000"]);
    let link = Proxy::start(target.port());
    let admin = setup.init_admin("root");
    let svc = setup.start(1, "allow_self_approval = true\nmax_attempts = 8\n");
    svc.add_local_app(&admin, "a", "standalone", source.port());
    svc.add_app(&admin, "b", "standalone", link.addr());
    // 400 keys/s in batches of 80: a batch every 0.2 s.
    let id = svc.ok(
        "POST",
        "/tickets",
        &admin,
        Some(json!({"type": "migration", "params": {"source": "a", "target": "b", "write": "restore", "rate": 400, "batch": 80}})),
    )["id"]
        .as_i64()
        .unwrap();
    svc.ok("POST", &format!("/tickets/{id}/approve"), &admin, None);
    wait_counter(&svc, id, &admin, "written", 400, 60);
    link.stall();
    let stalled = Instant::now();
    let (note, took) = first_retry(&svc, id, &admin, stalled, 300);
    link.pass();
    assert!(note.contains("timed out"), "{note}");
    // One timeout for the batch, with room for a slow machine; waiting it
    // per reply would be 80 of them.
    assert!(took < TARGET_TIMEOUT * 4, "{took:?}: {note}");
    let done = svc.wait_state(id, &admin, &["succeeded", "failed"], 120);
    assert_eq!(done["state"], "succeeded", "{done}\n{}", svc.log_text());
    let c = &done["result"]["counts"];
    assert_eq!(c["written"], 2400, "{done}");
    assert_eq!(
        (c["conflicts"].as_u64(), c["failed"].as_u64()),
        (Some(0), Some(0)),
        "{done}"
    );
    assert!(done["attempts"].as_u64().unwrap() >= 2, "{done}");
    assert_eq!(dumps(&source), dumps(&target), "the same keys and values");
}

/// A cleanup whose node stalls while big batches are in flight (pipelines
/// of 500 to 2000 commands): given up on after one 20 s timeout (not a
/// quarter second or more per reply, 125 s and up), retried, and finished
/// exactly once the stall ends.
#[test]
fn stalls_a_stalled_cleanup_batch_costs_one_timeout() {
    let Some((setup, bin)) = setup_and_redis("sqlite") else {
        return;
    };
    let node = bin.start(&[]).unwrap();
    let cmds = keep_and_tmp(22000, 11);
    node.client().pipeline_must(&cmds);
    let expected = kept(&[&node]);
    let link = Proxy::start(node.port());
    let admin = setup.init_admin("root");
    let svc = setup.start(1, "allow_self_approval = true\nmax_attempts = 8\n");
    svc.add_app(&admin, "shop", "standalone", link.addr());
    // 5000 keys/s: `SCAN`s of 1000 keys, acted on 500 at a time.
    let id = cleanup(&svc, &admin, "shop", 5000, 1000);
    wait_counter(&svc, id, &admin, "deleted", 4000, 60);
    link.stall();
    let stalled = Instant::now();
    let (note, took) = first_retry(&svc, id, &admin, stalled, 600);
    link.pass();
    assert!(note.contains("timed out"), "{note}");
    assert!(took < NODE_TIMEOUT * 4, "{took:?}: {note}");
    let done = svc.wait_state(id, &admin, &["succeeded", "failed"], 120);
    assert_eq!(done["state"], "succeeded", "{done}\n{}", svc.log_text());
    assert_eq!(
        done["result"]["deleted"], 20000,
        "every key counted once: {done}"
    );
    assert_eq!(keyset(&[&node]), expected, "exactly the tmp: keys gone");
}
