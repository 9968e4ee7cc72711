//! Tickets that run at a set time, recurring analyses and ticket statistics,
//! through `rdbscope serve` child processes, a real Redis node and the real
//! SQLite and PostgreSQL stores: a `run_at` ticket waits and then runs, an
//! approver moves it, a schedule's runs are diffed one against the next and
//! pruned to `keep`, runs missed while the service was down fire once, and
//! `/stats` and `/metrics` match the tickets made.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use testkit::{RedisServer, ServerBin};

use crate::service::{setup_and_redis, Service};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// RFC 3339 of a whole second `secs` from now.
fn in_secs(secs: i64) -> String {
    jobsvc::time::rfc3339((now_ms() / 1000 + secs) * 1000)
}

/// A standalone node with 3000 keys whose RDB is fetched at once (no
/// diskless delay).
fn node(bin: &ServerBin) -> RedisServer {
    let node = bin.start(&["--repl-diskless-sync", "no"]).unwrap();
    let cmds: Vec<Vec<Vec<u8>>> = (0..3000)
        .map(|i| testkit::cmd_args!["SET", format!("user:{i}:name"), format!("name-{i}")])
        .collect();
    node.client().pipeline_must(&cmds);
    node
}

fn patch(svc: &Service, path: &str, token: &str, body: Value) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent
        .patch(&format!("http://127.0.0.1:{}{path}", svc.port))
        .header("Authorization", &format!("Bearer {token}"))
        .send_json(&body)
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// When the ticket's audit trail says it started (`approved -> running`).
fn started_at(svc: &Service, id: i64, token: &str) -> String {
    svc.ok("GET", &format!("/tickets/{id}/audit"), token, None)
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["to"] == "running")
        .unwrap_or_else(|| panic!("ticket {id} never started"))["at"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `rdbscope ARGS --server … --token TOKEN`: its stdout (it must succeed).
fn cli(svc: &Service, token: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_rdbscope"))
        .args(args)
        .arg("--server")
        .arg(format!("http://127.0.0.1:{}", svc.port))
        .args(["--token", token])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn error_of(v: &Value) -> &str {
    v["error"].as_str().unwrap_or_default()
}

/// `run_at` set by the submitter, moved by the approver and later by an
/// admin; bad times refused; then the statistics of the tickets made.
fn run_at_and_stats(backend: &str) {
    let Some((setup, bin)) = setup_and_redis(backend) else {
        return;
    };
    let node = node(&bin);
    let admin = setup.init_admin("root");
    let svc = setup.start(1, "");
    let alice = svc.add_user(&admin, "alice", "submitter");
    svc.add_local_app(&admin, "shop", "standalone", node.port());
    let analysis = |body: Value| -> (u16, Value) {
        let mut req = json!({"type": "analysis", "params": {"app": "shop", "keys_table": false}});
        for (k, v) in body.as_object().unwrap() {
            req[k] = v.clone();
        }
        svc.call("POST", "/tickets", &alice, Some(req))
    };

    // Bad times are refused with a message, and file nothing.
    for (when, why) in [
        ("2020-01-01T00:00:00Z".to_string(), "in the past"),
        (in_secs(400 * 86_400), "days ahead"),
        ("next tuesday".to_string(), "RFC 3339"),
    ] {
        let (status, e) = analysis(json!({"run_at": when}));
        assert_eq!(status, 400, "{when}: {e}");
        assert!(error_of(&e).contains(why), "{when}: {e}");
    }
    assert_eq!(svc.count("/tickets", &admin), 0);

    // 1. The submitter's run_at: approved at once, started not before it.
    let at1 = in_secs(6);
    let (status, t1) = analysis(json!({"run_at": at1}));
    assert_eq!(status, 201, "{t1}");
    assert_eq!(t1["run_at"], at1.as_str(), "{t1}");
    let id1 = t1["id"].as_i64().unwrap();
    svc.ok("POST", &format!("/tickets/{id1}/approve"), &admin, None);

    // 2. The approver moves a far run_at closer.
    let (_, t2) = analysis(json!({"run_at": in_secs(3600)}));
    let id2 = t2["id"].as_i64().unwrap();
    let at2 = in_secs(5);
    let approved = svc.ok(
        "POST",
        &format!("/tickets/{id2}/approve"),
        &admin,
        Some(json!({"note": "sooner", "run_at": at2})),
    );
    assert_eq!(approved["run_at"], at2.as_str(), "{approved}");
    let (status, e) = svc.call(
        "POST",
        &format!("/tickets/{id2}/approve"),
        &admin,
        Some(json!({"run_at": "2020-01-01T00:00:00Z"})),
    );
    assert_eq!(
        status, 400,
        "a past run_at is refused before the state: {e}"
    );

    // 3. Approved now, then held by an admin while it waits, then moved back.
    let (_, t3) = analysis(json!({}));
    let id3 = t3["id"].as_i64().unwrap();
    svc.ok(
        "POST",
        &format!("/tickets/{id3}/approve"),
        &admin,
        Some(json!({"run_at": in_secs(3600)})),
    );
    let (status, e) = svc.call(
        "POST",
        &format!("/tickets/{id3}/run-at"),
        &alice,
        Some(json!({"run_at": in_secs(2)})),
    );
    assert_eq!(status, 403, "only an admin moves a waiting ticket: {e}");
    // The list says when it will run.
    let approved_list = svc.ok("GET", "/tickets?state=approved", &admin, None);
    let listed = approved_list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id3)
        .unwrap()
        .clone();
    assert!(listed["run_at"].is_string(), "{listed}");
    let table = cli(&svc, &admin, &["ticket", "list", "--state", "approved"]);
    let far = listed["run_at"].as_str().unwrap();
    assert!(
        table.lines().next().unwrap().ends_with("SCHEDULED"),
        "{table}"
    );
    assert!(table.contains(far), "the list says when: {table}");
    assert!(cli(&svc, &admin, &["ticket", "show", &id3.to_string()]).contains(far));
    std::thread::sleep(Duration::from_millis(1500));
    for id in [id1, id2, id3] {
        let t = svc.ok("GET", &format!("/tickets/{id}"), &admin, None);
        assert_eq!(
            t["state"], "approved",
            "ticket {id} waits for its run_at: {t}"
        );
    }
    let at3 = in_secs(3);
    let moved = svc.ok(
        "POST",
        &format!("/tickets/{id3}/run-at"),
        &admin,
        Some(json!({"run_at": at3})),
    );
    assert_eq!(moved["run_at"], at3.as_str());
    for (id, at) in [(id1, &at1), (id2, &at2), (id3, &at3)] {
        let t = svc.wait_state(id, &admin, &["succeeded", "failed"], 60);
        assert_eq!(t["state"], "succeeded", "{t}");
        assert!(t["run_at"].is_null(), "{t}");
        let started = started_at(&svc, id, &admin);
        assert!(
            started.as_str() >= at.as_str(),
            "ticket {id} started at {started}, before {at}"
        );
    }
    let notes: Vec<String> = svc
        .ok("GET", &format!("/tickets/{id3}/audit"), &admin, None)
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["note"].as_str().map(str::to_string))
        .collect();
    assert!(
        notes.iter().any(|n| n == &format!("run_at set to {at3}")),
        "the move is audited: {notes:?}"
    );
    // A ticket that ran cannot be moved.
    let (status, e) = svc.call(
        "POST",
        &format!("/tickets/{id1}/run-at"),
        &admin,
        Some(json!({"run_at": in_secs(60)})),
    );
    assert_eq!(status, 409, "{e}");

    // The rest of the mix: one rejected, one failed (not an RDB file), one pending.
    let (_, r) = analysis(json!({}));
    let rejected = r["id"].as_i64().unwrap();
    svc.ok(
        "POST",
        &format!("/tickets/{rejected}/reject"),
        &admin,
        Some(json!({"reason": "not today"})),
    );
    let junk = setup.allowed.join("junk.rdb");
    std::fs::write(&junk, b"this is not an RDB file").unwrap();
    let f = svc.ok(
        "POST",
        "/tickets",
        &alice,
        Some(json!({"type": "analysis", "params": {"file": junk}})),
    );
    let failed = f["id"].as_i64().unwrap();
    svc.ok("POST", &format!("/tickets/{failed}/approve"), &admin, None);
    assert_eq!(
        svc.wait_state(failed, &admin, &["succeeded", "failed"], 60)["state"],
        "failed"
    );
    analysis(json!({}));

    let stats = svc.ok("GET", "/stats", &admin, None);
    assert_eq!(stats["tickets"], 6, "{stats}");
    assert_eq!(stats["by_type"]["analysis"]["succeeded"], 3, "{stats}");
    assert_eq!(stats["by_type"]["analysis"]["rejected"], 1, "{stats}");
    assert_eq!(stats["by_type"]["analysis"]["failed"], 1, "{stats}");
    assert_eq!(stats["by_type"]["analysis"]["pending"], 1, "{stats}");
    assert_eq!(stats["by_state"]["succeeded"], 3, "{stats}");
    // Decided: 4 approved, 1 rejected; finished: 3 succeeded, 1 failed.
    assert_eq!(stats["rejection_rate"], 0.2, "{stats}");
    assert_eq!(stats["failure_rate"], 0.25, "{stats}");
    for what in ["time_to_approval", "time_to_completion"] {
        let d = &stats[what];
        assert_eq!(d["count"], 4, "{what}: {stats}");
        let (median, p90) = (
            d["median_secs"].as_f64().unwrap(),
            d["p90_secs"].as_f64().unwrap(),
        );
        assert!(0.0 <= median && median <= p90 && p90 < 600.0, "{what}: {d}");
    }
    // Completion waits for run_at: at least the 3 s of the slowest run_at.
    assert!(
        stats["time_to_completion"]["p90_secs"].as_f64().unwrap() >= 3.0,
        "{stats}"
    );
    let rdb_bytes: u64 = [id1, id2, id3]
        .iter()
        .map(|id| {
            svc.ok("GET", &format!("/tickets/{id}"), &admin, None)["result"]["rdb_bytes"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert!(rdb_bytes > 0);
    assert_eq!(
        stats["per_app"]["shop"]["bytes_analyzed"], rdb_bytes,
        "{stats}"
    );
    assert_eq!(stats["per_app"]["shop"]["tickets"], 5, "{stats}");
    // Per team: the team that owns the app counts the app's tickets.
    assert_eq!(
        stats["per_team"],
        json!({}),
        "no app has a team yet: {stats}"
    );
    svc.ok(
        "POST",
        "/teams",
        &admin,
        Some(json!({"name": "shopteam", "members": ["alice"]})),
    );
    svc.ok(
        "PUT",
        "/apps/shop/owner",
        &admin,
        Some(json!({"team": "shopteam"})),
    );
    let by_team = svc.ok("GET", "/stats?team=shopteam", &admin, None);
    assert_eq!(by_team["tickets"], 5, "{by_team}");
    assert_eq!(by_team["team"], "shopteam", "{by_team}");
    assert_eq!(
        by_team["per_team"]["shopteam"], stats["per_app"]["shop"],
        "{by_team}"
    );
    // Filters: by app, by period; bad ones are 400s.
    let none = svc.ok("GET", "/stats?app=other", &admin, None);
    assert_eq!(none["tickets"], 0, "{none}");
    let past = svc.ok("GET", "/stats?from=2020-01-01&to=2020-01-31", &admin, None);
    assert_eq!(past["tickets"], 0, "{past}");
    for bad in [
        "/stats?from=yesterday",
        "/stats?from=2030-01-02&to=2030-01-01",
        "/stats?team=ops",
        "/stats?colour=red",
    ] {
        let (status, e) = svc.call("GET", bad, &admin, None);
        assert_eq!(status, 400, "{bad}: {e}");
    }
    let (status, _) = svc.call("GET", "/stats", &alice, None);
    assert_eq!(status, 403);

    // The same counters in /metrics.
    let (_, m) = svc.try_call("GET", "/metrics", None, None).unwrap();
    let m = m.as_str().unwrap().to_string();
    for line in [
        "rdbscope_tickets_by_type{type=\"analysis\",state=\"succeeded\"} 3".to_string(),
        "rdbscope_tickets_by_type{type=\"analysis\",state=\"rejected\"} 1".to_string(),
        "rdbscope_ticket_approval_seconds_count 4".to_string(),
        "rdbscope_ticket_completion_seconds_count 4".to_string(),
        "rdbscope_ticket_failure_ratio 0.25".to_string(),
        format!("rdbscope_app_bytes_analyzed_total{{app=\"shop\"}} {rdb_bytes}"),
    ] {
        assert!(m.lines().any(|l| l == line), "{line} not in\n{m}");
    }
    assert!(
        m.contains("rdbscope_ticket_approval_seconds{quantile=\"0.9\"}"),
        "{m}"
    );

    // The CLI's tables.
    let text = cli(&svc, &admin, &["ticket", "stats"]);
    assert!(text.contains("time to approval"), "{text}");
    assert!(
        text.contains("rejected 1 (20.0 % of decided), failed 1 (25.0 % of finished runs)"),
        "{text}"
    );
}

/// A schedule's runs, oldest first, as `GET /schedules/{name}` lists them.
fn runs(svc: &Service, name: &str, token: &str) -> Vec<Value> {
    let mut v = svc.ok("GET", &format!("/schedules/{name}"), token, None)["runs"]
        .as_array()
        .unwrap()
        .clone();
    v.reverse();
    v
}

/// Waits until `done(succeeded runs' tickets)` holds; returns those tickets.
fn wait_runs(
    svc: &Service,
    name: &str,
    token: &str,
    secs: u64,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let tickets: Vec<Value> = runs(svc, name, token)
            .iter()
            .map(|r| svc.ok("GET", &format!("/tickets/{}", r["ticket"]), token, None))
            .filter(|t| t["state"] == "succeeded")
            .collect();
        if done(&tickets) {
            return tickets;
        }
        assert!(
            Instant::now() < deadline,
            "schedule {name}: runs {:?}\n{}",
            runs(svc, name, token),
            svc.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A recurring analysis every 2 s (two instances on PostgreSQL): the first
/// run after the data changed is diffed against the run before it, reports
/// beyond `keep` are deleted, and runs missed while down fire once.
fn recurring(backend: &str) {
    let Some((setup, bin)) = setup_and_redis(backend) else {
        return;
    };
    let node = node(&bin);
    let admin = setup.init_admin("root");
    let mut svc = setup.start(1, "");
    let second = (backend == "postgres").then(|| setup.start(2, ""));
    let alice = svc.add_user(&admin, "alice", "submitter");
    svc.add_local_app(&admin, "shop", "standalone", node.port());
    // Bad definitions are refused.
    for (body, why) in [
        (
            json!({"name": "s", "app": "shop", "cron": "0 3 * *"}),
            "5 fields",
        ),
        (
            json!({"name": "s", "app": "shop", "cron": "0 25 * * *"}),
            "cron",
        ),
        (
            json!({"name": "s", "app": "nope", "cron": "0 3 * * *"}),
            "unknown app",
        ),
        (
            json!({"name": "s", "app": "shop", "cron": "0 3 * * *", "keep": 0}),
            "keep",
        ),
        (
            json!({"name": "s", "app": "shop", "cron": "0 3 * * *", "params": {"file": "/x"}}),
            "file",
        ),
        (
            json!({"name": "s", "app": "shop", "cron": "0 3 * * *", "params": {"top": 0}}),
            "top",
        ),
    ] {
        let (status, e) = svc.call("POST", "/schedules", &admin, Some(body.clone()));
        assert_eq!(status, 400, "{body}: {e}");
        assert!(error_of(&e).contains(why), "{body}: {e}");
    }
    let (status, _) = svc.call(
        "POST",
        "/schedules",
        &alice,
        Some(json!({"name": "s", "app": "shop", "cron": "0 3 * * *"})),
    );
    assert_eq!(status, 403);
    let daily = svc.ok(
        "POST",
        "/schedules",
        &admin,
        Some(json!({"name": "daily", "app": "shop", "cron": "0 3 * * *", "enabled": false})),
    );
    assert!(daily["next_run"].is_null(), "disabled: {daily}");
    let daily = patch(&svc, "/schedules/daily", &admin, json!({"enabled": true})).1;
    assert!(
        daily["next_run"].as_str().unwrap().ends_with("T03:00:00Z"),
        "{daily}"
    );
    svc.call("DELETE", "/schedules/daily", &admin, None);
    assert_eq!(svc.call("GET", "/schedules/daily", &admin, None).0, 404);

    let s = svc.ok(
        "POST",
        "/schedules",
        &admin,
        Some(json!({"name": "shop-2s", "app": "shop", "cron": "*/2 * * * * *", "keep": 2, "params": {"keys_table": false}})),
    );
    assert_eq!(s["params"]["app"], "shop", "{s}");
    let first = wait_runs(&svc, "shop-2s", &admin, 60, |t| !t.is_empty());
    assert_eq!(first[0]["submitter"], "schedule:shop-2s");
    assert_eq!(first[0]["handler"], "schedule:shop-2s");
    assert_eq!(first[0]["result"]["keys"], 3000, "{}", first[0]);

    // One atomic change: 500 more keys.
    let mut mset = vec!["MSET".to_string()];
    for i in 0..500 {
        mset.push(format!("new:{i}"));
        mset.push("v".repeat(40));
    }
    node.client().must(&mset);
    let after = |t: &Value| t["result"]["keys"] == 3500;
    let done = wait_runs(&svc, "shop-2s", &admin, 60, |ts| {
        ts.iter().filter(|t| after(t)).count() >= 2
    });
    let changed = done.iter().find(|t| after(t)).unwrap();
    let sched = &changed["result"]["schedule"];
    let prev = sched["previous"]["ticket"].as_i64().unwrap();
    let prev_t = svc.ok("GET", &format!("/tickets/{prev}"), &admin, None);
    assert_eq!(
        prev_t["result"]["keys"], 3000,
        "the previous run is the one before the change"
    );
    assert!(
        sched["report_dir"].as_str().unwrap().contains(&format!(
            "/shop-2s/snapshot_date={}/source=shop/ticket={}",
            &jobsvc::time::rfc3339(now_ms())[..10],
            changed["id"]
        )),
        "{sched}"
    );
    let id = changed["id"].as_i64().unwrap();
    let files: Vec<String> = svc
        .ok("GET", &format!("/tickets/{id}/report"), &admin, None)
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    for f in ["summary.json", "diff/diff.json", "diff/diff.html"] {
        assert!(files.contains(&f.to_string()), "{f} not in {files:?}");
    }
    let diff: Value =
        serde_json::from_slice(&svc.bytes(&format!("/tickets/{id}/report/diff/diff.json"), &admin))
            .unwrap();
    assert_eq!(diff["totals"]["keys_before"], 3000, "{}", diff["totals"]);
    assert_eq!(diff["totals"]["keys_after"], 3500, "{}", diff["totals"]);
    assert_eq!(diff["totals"]["keys_delta"], 500, "{}", diff["totals"]);
    assert_eq!(sched["diff"]["totals"], diff["totals"]);
    let grown: Vec<&str> = diff["new_prefixes"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p["pattern"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        grown.iter().any(|p| p.starts_with("new:")),
        "{grown:?} / {diff}"
    );

    // Stop firing and let the last run finish; then keep 2: older reports
    // are gone from disk and from the API.
    let (status, s) = patch(
        &svc,
        "/schedules/shop-2s",
        &admin,
        json!({"enabled": false}),
    );
    assert_eq!(status, 200, "{s}");
    let all = runs(&svc, "shop-2s", &admin);
    for r in &all {
        svc.wait_state(
            r["ticket"].as_i64().unwrap(),
            &admin,
            &["succeeded", "failed"],
            60,
        );
    }
    let all = runs(&svc, "shop-2s", &admin);
    let kept: Vec<&Value> = all
        .iter()
        .filter(|r| r["report_dir"].is_string() && r["pruned_at"].is_null())
        .collect();
    assert_eq!(kept.len(), 2, "{all:?}");
    let pruned: Vec<&Value> = all.iter().filter(|r| r["pruned_at"].is_string()).collect();
    assert!(!pruned.is_empty(), "{all:?}");
    for r in &pruned {
        let dir = r["report_dir"].as_str().unwrap();
        assert!(!std::path::Path::new(dir).exists(), "{dir} was kept");
        assert_eq!(
            svc.count(&format!("/tickets/{}/report", r["ticket"]), &admin),
            0
        );
    }
    for r in &kept {
        let dir = std::path::Path::new(r["report_dir"].as_str().unwrap());
        assert!(dir.join("summary.json").is_file(), "{dir:?}");
    }
    // Every firing is a distinct cron time (on PostgreSQL, from two
    // instances sharing the store).
    let fired: Vec<&str> = all
        .iter()
        .map(|r| r["fired_at"].as_str().unwrap())
        .collect();
    assert_eq!(
        fired.iter().collect::<BTreeSet<_>>().len(),
        fired.len(),
        "{fired:?}"
    );

    // Resumed, then down for 9 s: the 4 firings missed run once at start.
    let (status, s) = patch(
        &svc,
        "/schedules/shop-2s",
        &admin,
        json!({"enabled": true, "keep": 3}),
    );
    assert_eq!((status, &s["keep"]), (200, &json!(3)), "{s}");
    let n = all.len();
    wait_runs(&svc, "shop-2s", &admin, 60, |_| {
        runs(&svc, "shop-2s", &admin).len() > n
    });
    drop(second);
    svc.kill();
    let killed = jobsvc::time::rfc3339(now_ms());
    std::thread::sleep(Duration::from_secs(9));
    let restarting = jobsvc::time::rfc3339(now_ms());
    svc = setup.start(1, "");
    let up = jobsvc::time::rfc3339(now_ms() + 1000);
    std::thread::sleep(Duration::from_secs(1));
    let after_kill: Vec<String> = runs(&svc, "shop-2s", &admin)
        .iter()
        .map(|r| r["fired_at"].as_str().unwrap().to_string())
        .filter(|f| f.as_str() > killed.as_str())
        .collect();
    let in_downtime = after_kill
        .iter()
        .filter(|f| f.as_str() <= restarting.as_str())
        .count();
    let at_start = after_kill
        .iter()
        .filter(|f| f.as_str() <= up.as_str())
        .count();
    assert!(
        in_downtime <= 1 && at_start >= 1,
        "killed {killed}, restarted {restarting}, up {up}: fired {after_kill:?}"
    );
    // Disabled: no more firings.
    patch(
        &svc,
        "/schedules/shop-2s",
        &admin,
        json!({"enabled": false}),
    );
    let n = runs(&svc, "shop-2s", &admin).len();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(runs(&svc, "shop-2s", &admin).len(), n);
    let list = svc.ok("GET", "/schedules", &alice, None);
    assert_eq!(list[0]["name"], "shop-2s");
    assert_eq!(list[0]["keep"], 3);
    // The CLI: list, show with the runs, set, add, rm.
    let table = cli(&svc, &alice, &["schedule", "list"]);
    assert!(
        table.contains("shop-2s") && table.contains("*/2 * * * * *"),
        "{table}"
    );
    let shown = cli(&svc, &admin, &["schedule", "show", "shop-2s"]);
    assert!(shown.contains("snapshot_date="), "{shown}");
    cli(&svc, &admin, &["schedule", "set", "shop-2s", "--keep", "5"]);
    assert_eq!(svc.ok("GET", "/schedules/shop-2s", &admin, None)["keep"], 5);
    cli(
        &svc,
        &admin,
        &[
            "schedule",
            "add",
            "other",
            "--app",
            "shop",
            "--cron",
            "0 3 * * *",
            "--disabled",
        ],
    );
    cli(&svc, &admin, &["schedule", "rm", "other"]);
    assert_eq!(svc.call("GET", "/schedules/other", &admin, None).0, 404);
}

#[test]
fn schedules_sqlite_run_at_and_stats() {
    run_at_and_stats("sqlite");
}

#[test]
fn schedules_postgres_run_at_and_stats() {
    run_at_and_stats("postgres");
}

#[test]
fn schedules_sqlite_recurring_analysis() {
    recurring("sqlite");
}

#[test]
fn schedules_postgres_recurring_analysis() {
    recurring("postgres");
}

/// The console's schedules and statistics pages, in a headless Chromium.
#[test]
fn schedules_console_pages_in_chromium() {
    let Some(chromium) = testkit::require_chromium() else {
        return;
    };
    let Some((setup, bin)) = setup_and_redis("sqlite") else {
        return;
    };
    let node = bin.start(&[]).unwrap();
    let admin = setup.init_admin("root");
    let svc = setup.start(1, "");
    let alice = svc.add_user(&admin, "alice", "submitter");
    svc.add_local_app(&admin, "shop", "standalone", node.port());
    let t = svc.ok(
        "POST",
        "/tickets",
        &alice,
        Some(json!({"type": "analysis", "params": {"app": "shop"}})),
    );
    svc.ok(
        "POST",
        &format!("/tickets/{}/reject", t["id"]),
        &admin,
        Some(json!({"reason": "no"})),
    );
    let mut b = testkit::Browser::launch(&chromium);
    b.goto(&format!("http://127.0.0.1:{}/", svc.port));
    b.wait_for_selector("#signin #token");
    b.type_into("#token", &admin);
    b.click("#signin-go");
    b.wait_for_selector("#nav-stats");
    b.eval("location.hash = '#/stats'; true");
    b.wait_for(
        "(() => { const c = document.querySelector('#stats-types tr[data-type=analysis] td[data-state=rejected]'); return c && c.textContent.trim() === '1'; })()",
        "the rejected analysis counted",
    );
    let rates = b.text("#stats-rates").unwrap_or_default();
    assert!(rates.contains("100.0 %"), "{rates}");
    b.eval("location.hash = '#/schedules'; true");
    b.wait_for_selector("#schedule-add");
    b.type_into("#sched-name", "nightly");
    b.type_into("#sched-app", "shop");
    b.click("#sched-add-go");
    b.wait_for_selector("#schedules tr[data-schedule=nightly]");
    let s = svc.ok("GET", "/schedules/nightly", &admin, None);
    assert_eq!(s["cron"], "0 3 * * *", "{s}");
    assert_eq!(s["enabled"], true);
    b.click("#toggle-nightly");
    b.wait_for(
        "(() => { const r = document.querySelector('#schedules tr[data-schedule=nightly]'); return r && r.textContent.includes('disabled'); })()",
        "disabled",
    );
    assert_eq!(
        svc.ok("GET", "/schedules/nightly", &admin, None)["enabled"],
        false
    );
    // A submitter sees the schedules but no statistics link and no form.
    b.click("#signout");
    b.wait_for_selector("#signin #token");
    b.type_into("#token", &alice);
    b.click("#signin-go");
    b.wait_for_selector("#nav-schedules");
    assert_eq!(
        b.eval("document.querySelector('#nav-stats') === null"),
        json!(true)
    );
    b.eval("location.hash = '#/schedules'; true");
    b.wait_for_selector("#schedules tr[data-schedule=nightly]");
    assert_eq!(
        b.eval("document.querySelector('#schedule-add') === null"),
        json!(true)
    );
    // (The browser's own favicon request is a 404, as in tests/console.rs.)
    let errors: Vec<String> = b
        .console_errors()
        .into_iter()
        .filter(|e| !(e.contains("Failed to load resource") && e.contains("404")))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    for page in ["/console/js/stats.js", "/console/js/schedules.js"] {
        assert!(b.requests().iter().any(|u| u.ends_with(page)), "{page}");
    }
}
