//! PostgreSQL restarts under two service instances mid-run, and the
//! instance running a cleanup loses its store for good (its link goes
//! through a proxy the test cuts): it stops the job before its lease can
//! expire, the other instance rescues the job once it has, and finishes it
//! from the checkpoint. The job is taken over exactly once (the audit),
//! every key is deleted once (the data and the counts), and the first
//! instance records nothing once its link is back.

use std::time::Duration;

use serde_json::json;

use super::proxy::Proxy;
use super::watch::{keep_and_tmp, kept, keyset, wait_counter};
use crate::service::{audit_steps, setup_and_redis};

const CONFIG: &str = "allow_self_approval = true\nmax_attempts = 8\n";

#[test]
fn postgres_restart_under_two_instances_one_loses_its_store() {
    let Some((mut setup, bin)) = setup_and_redis("postgres") else {
        return;
    };
    let node = bin.start(&[]).unwrap();
    let cmds = keep_and_tmp(3500, 7);
    node.client().pipeline_must(&cmds);
    let expected = kept(&[&node]);
    assert_eq!(expected.len(), 500);
    let pg_port = setup.pg.as_ref().unwrap().port();
    let link = Proxy::start(pg_port);
    let via_link = setup
        .store
        .replace(&format!(":{pg_port}/"), &format!(":{}/", link.port));
    assert_ne!(via_link, setup.store);
    let admin = setup.init_admin("root");
    let first = setup.start_with_store(1, CONFIG, &via_link);
    first.add_local_app(&admin, "shop", "standalone", node.port());
    let id = first.ok(
        "POST",
        "/tickets",
        &admin,
        Some(json!({"type": "cleanup", "params": {"app": "shop", "patterns": [{"prefix": "tmp:"}], "rate": 300, "batch": 50}})),
    )["id"]
        .as_i64()
        .unwrap();
    first.ok("POST", &format!("/tickets/{id}/approve"), &admin, None);
    // The first instance (alone so far) runs it.
    wait_counter(&first, id, &admin, "deleted", 600, 30);
    let second = setup.start(2, CONFIG);

    // The first instance loses its store; PostgreSQL restarts under both.
    link.drop_all();
    setup
        .pg
        .as_mut()
        .unwrap()
        .restart(Duration::from_secs(1))
        .expect("restart postgres");

    let done = second.wait_state(id, &admin, &["succeeded", "failed"], 120);
    assert_eq!(done["state"], "succeeded", "{done}\n{}", second.log_text());
    assert_eq!(done["result"]["deleted"], 3000, "{done}");
    assert_eq!(done["result"]["resumes"], 1, "{done}");
    assert_eq!(keyset(&[&node]), expected, "exactly the tmp: keys gone");
    assert!(
        second.log_text().contains(&format!("ticket {id}: started")),
        "the second instance ran it: {}",
        second.log_text()
    );
    let log = first.log_text();
    assert!(
        ["lease not renewed", "cannot record the outcome", "stopped"]
            .iter()
            .any(|w| log.contains(&format!("ticket {id}: {w}"))),
        "the first instance stopped the job: {log}"
    );

    // The first instance's link comes back: it records nothing more.
    link.pass();
    std::thread::sleep(Duration::from_secs(4));
    let after = second.ok("GET", &format!("/tickets/{id}"), &admin, None);
    assert_eq!(after["state"], "succeeded", "{after}");
    assert_eq!(after["result"], done["result"]);
    let steps = audit_steps(&second, id, &admin);
    let count = |from: &str, to: &str, actor: &str| {
        steps
            .iter()
            .filter(|s| s.0 == from && s.1 == to && (actor.is_empty() || s.2 == actor))
            .count()
    };
    assert_eq!(count("running", "approved", "rescuer"), 1, "{steps:?}");
    assert_eq!(count("approved", "running", ""), 2, "{steps:?}");
    assert_eq!(count("running", "succeeded", ""), 1, "{steps:?}");
    assert_eq!(steps.last().unwrap().1, "succeeded", "{steps:?}");
    assert_eq!(keyset(&[&node]), expected);
}
