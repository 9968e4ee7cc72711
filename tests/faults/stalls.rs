//! A TCP proxy between the service and a node drops and stalls the
//! connections of a running cleanup. As docs/job-service.md says: a
//! dropped connection fails the attempt at once and a stalled one after
//! the 20 s read timeout, both transient, so the job is retried with
//! backoff and resumes from its checkpoint; a node that stays stalled
//! fails the ticket once its attempts are spent. No job hangs: every wait
//! here is bounded.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::proxy::Proxy;
use super::watch::{keyset, wait_counter, Cmd};
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
    let cmds: Vec<Cmd> = (0..2200)
        .map(|i| {
            let key = if i % 11 == 0 {
                format!("keep:{i}")
            } else {
                format!("tmp:{i}")
            };
            testkit::cmd_args!["SET", key, "v"]
        })
        .collect();
    node.client().pipeline_must(&cmds);
    let expected: BTreeSet<Vec<u8>> = keyset(&[&node])
        .into_iter()
        .filter(|k| k.starts_with(b"keep:"))
        .collect();
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
    // timeout. The lease is renewed meanwhile: no rescue, one retry.
    link.stall();
    let stalled = Instant::now();
    std::thread::sleep(Duration::from_secs(22));
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
    // Small batches: a pipeline shares the 20 s among its replies (at
    // least 0.25 s each), so 40 replies wait 20 s in all.
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
