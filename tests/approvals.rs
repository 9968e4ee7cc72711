//! Teams and approval flows end to end: `rdbscope serve` as a child
//! process, a real Redis node, the real SQLite and PostgreSQL stores — a
//! two-approval cleanup, a return-amend-resubmit round, a stand-in, a
//! cross-team submission, self-approval and double counting refused, a
//! plan that grew sent back to approval, and a release-1 store upgraded in
//! place.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use testkit::cmd_args;

use crate::service::{setup_and_redis, Service, Setup};

/// Any method (the shared helper sends PUT and PATCH as POST).
fn send(svc: &Service, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let url = format!("http://127.0.0.1:{}{path}", svc.port);
    let auth = format!("Bearer {token}");
    let text = body.map(|b| b.to_string()).unwrap_or_default();
    let resp = match method {
        "PUT" => agent
            .put(&url)
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .send(text),
        "PATCH" => agent
            .patch(&url)
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .send(text),
        _ => return svc.call(method, path, token, serde_json::from_str(&text).ok()),
    };
    let mut resp = resp.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A ticket's audit trail: (state after, note).
fn audit(svc: &Service, id: i64, token: &str) -> Vec<(String, String)> {
    svc.ok("GET", &format!("/tickets/{id}/audit"), token, None)
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["to"].as_str().unwrap_or_default().to_string(),
                a["note"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn keys(node: &testkit::RedisServer, pattern: &str) -> usize {
    let mut c = node.client();
    let mut n = 0;
    crate::service::scan_keys(&mut c, |_, k| {
        let k = String::from_utf8_lossy(&k).to_string();
        if k.starts_with(pattern) {
            n += 1;
        }
    });
    n
}

fn fill(node: &testkit::RedisServer, prefix: &str, range: std::ops::Range<usize>) {
    let cmds: Vec<_> = range
        .map(|i| cmd_args!["SET", format!("{prefix}{i}"), "some value"])
        .collect();
    node.client().pipeline_must(&cmds);
}

fn cleanup(prefix: &str) -> Value {
    json!({"type": "cleanup", "params": {"app": "shop", "patterns": [{"prefix": prefix}], "rate": 5000}})
}

fn id_of(t: &Value) -> i64 {
    t["id"].as_i64().unwrap_or_else(|| panic!("no id in {t}"))
}

/// The ticket's records of its last round.
fn current(t: &Value) -> Vec<Value> {
    t["approvals"]
        .as_array()
        .unwrap_or_else(|| panic!("no approvals in {t}"))
        .iter()
        .filter(|a| a["current"] == true)
        .cloned()
        .collect()
}

fn needs(svc: &Service, token: &str) -> Vec<i64> {
    svc.ok("GET", "/tickets?needs_me=true", token, None)
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect()
}

fn flows(backend: &str) {
    let Some((setup, bin)) = setup_and_redis(backend) else {
        return;
    };
    let node = bin.start(&[]).unwrap();
    fill(&node, "tmp:", 0..200);
    fill(&node, "keep:", 0..50);
    fill(&node, "grow:", 0..100);
    let root = setup.init_admin("root");
    let svc = setup.start(1, "approval_margin = 0.2\n");
    let bob = svc.add_user(&root, "bob", "admin");
    let alice = svc.add_user(&root, "alice", "submitter");
    let carol = svc.add_user(&root, "carol", "submitter");
    let dave = svc.add_user(&root, "dave", "submitter");
    let mallory = svc.add_user(&root, "mallory", "submitter");
    svc.ok(
        "POST",
        "/teams",
        &root,
        Some(json!({"name": "payments", "lead": "carol", "members": ["alice"]})),
    );
    svc.ok(
        "POST",
        "/teams",
        &root,
        Some(json!({"name": "search", "members": ["mallory"]})),
    );
    let (status, _) = svc.call("POST", "/teams", &alice, Some(json!({"name": "x"})));
    assert_eq!(status, 403);
    svc.add_local_app(&root, "shop", "standalone", node.port());
    svc.add_local_app(&root, "plain", "standalone", node.port());
    let owner = json!({"team": "payments", "tags": ["production"]});
    assert_eq!(
        send(&svc, "PUT", "/apps/shop/owner", &alice, Some(owner.clone())).0,
        403
    );
    let (status, o) = send(&svc, "PUT", "/apps/shop/owner", &root, Some(owner));
    assert_eq!((status, o["team"].as_str()), (200, Some("payments")), "{o}");
    let team = svc.ok("GET", "/teams/payments", &alice, None);
    assert_eq!(team["members"], json!(["alice", "carol"]), "{team}");

    // A submitter outside the owning team is refused, saying which team owns it.
    for path in ["/tickets", "/tickets/plan"] {
        let (status, e) = svc.call("POST", path, &mallory, Some(cleanup("tmp:")));
        assert_eq!(status, 403, "{e}");
        let msg = e["error"].as_str().unwrap();
        assert!(msg.contains("team \"payments\""), "{msg}");
    }
    // An app without a team stays open to every submitter, with one admin's approval.
    let t = svc.ok(
        "POST",
        "/tickets",
        &mallory,
        Some(json!({"type": "cleanup", "params": {"app": "plain", "patterns": [{"prefix": "none:"}], "dry_run": true}})),
    );
    let recs = current(&t);
    assert_eq!(recs.len(), 1, "{t}");
    assert_eq!(
        (recs[0]["requirement"].as_str(), &recs[0]["approvers"]),
        (Some("admin"), &Value::Null)
    );
    let done = svc.ok(
        "POST",
        &format!("/tickets/{}/approve", id_of(&t)),
        &bob,
        None,
    );
    assert_ne!(done["state"], "pending", "{done}");
    assert_eq!(done["handler"], "bob", "{done}");

    // 1. A production cleanup needs the team lead and an admin; it runs only after both.
    let t = svc.ok("POST", "/tickets", &alice, Some(cleanup("tmp:")));
    let id = id_of(&t);
    assert_eq!(t["plan"]["keys"], 200, "{t}");
    assert_eq!(t["risk"], t["plan"]["risk"]);
    assert!(t["risk"].is_string(), "{t}");
    let recs = current(&t);
    assert_eq!(recs.len(), 2, "{t}");
    assert_eq!(recs[0]["requirement"], "team_lead");
    assert_eq!(recs[0]["approvers"], json!(["carol"]));
    assert_eq!(recs[0]["policy"], "cleanup-production");
    assert_eq!(recs[0]["impact_keys"], 200);
    assert_eq!(recs[1]["requirement"], "admin");
    assert!(needs(&svc, &carol).contains(&id));
    assert!(needs(&svc, &bob).contains(&id));
    assert!(!needs(&svc, &alice).contains(&id));
    assert!(!needs(&svc, &mallory).contains(&id));
    // The lead sees the ticket they approve; others do not.
    svc.ok("GET", &format!("/tickets/{id}"), &carol, None);
    assert_eq!(
        svc.call("GET", &format!("/tickets/{id}"), &mallory, None).0,
        404
    );
    // Nobody approves their own ticket.
    let (status, e) = svc.call("POST", &format!("/tickets/{id}/approve"), &alice, None);
    assert_eq!(status, 403, "{e}");
    let first = svc.ok(
        "POST",
        &format!("/tickets/{id}/approve"),
        &carol,
        Some(json!({"note": "fine by payments"})),
    );
    assert_eq!(first["state"], "pending", "{first}");
    assert_eq!(current(&first)[0]["state"], "approved");
    assert_eq!(current(&first)[0]["actor"], "carol");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        keys(&node, "tmp:"),
        200,
        "deleted before the second approval"
    );
    // The lead is no admin: the admin's record is not theirs.
    assert_eq!(
        svc.call("POST", &format!("/tickets/{id}/approve"), &carol, None)
            .0,
        403
    );
    assert!(!needs(&svc, &carol).contains(&id));
    let second = svc.ok("POST", &format!("/tickets/{id}/approve"), &root, None);
    assert_ne!(second["state"], "pending", "{second}");
    let done = svc.wait_state(id, &alice, &["succeeded", "failed"], 60);
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(keys(&node, "tmp:"), 0);
    let notes: Vec<String> = audit(&svc, id, &alice).into_iter().map(|s| s.1).collect();
    assert!(
        notes.iter().any(|n| n.contains("approval 1 of 2 by carol")),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.contains("approval 2 of 2 by root")),
        "{notes:?}"
    );

    // 2. Returned for changes, amended, resubmitted: the first approval is void.
    let t = svc.ok("POST", "/tickets", &alice, Some(cleanup("keep:")));
    let id = id_of(&t);
    let lead_rec = current(&t)[0]["id"].as_i64().unwrap();
    let admin_rec = current(&t)[1]["id"].as_i64().unwrap();
    svc.ok(
        "POST",
        &format!("/tickets/{id}/approvals/{lead_rec}/approve"),
        &carol,
        None,
    );
    let (status, _) = svc.call(
        "POST",
        &format!("/tickets/{id}/approvals/{admin_rec}/return"),
        &root,
        None,
    );
    assert_eq!(status, 400, "a return needs a note");
    let returned = svc.ok(
        "POST",
        &format!("/tickets/{id}/approvals/{admin_rec}/return"),
        &root,
        Some(json!({"note": "only keep:1*, please"})),
    );
    assert_eq!(returned["state"], "returned", "{returned}");
    let (status, _) = svc.call("POST", &format!("/tickets/{id}/approve"), &root, None);
    assert_eq!(status, 409);
    // Only the submitter (or an admin) amends.
    let new_params =
        json!({"params": {"app": "shop", "patterns": [{"prefix": "keep:1"}], "rate": 5000}});
    assert_eq!(
        send(
            &svc,
            "PATCH",
            &format!("/tickets/{id}"),
            &carol,
            Some(new_params.clone())
        )
        .0,
        403
    );
    let (status, amended) = send(
        &svc,
        "PATCH",
        &format!("/tickets/{id}"),
        &alice,
        Some(new_params),
    );
    assert_eq!(status, 200, "{amended}");
    assert_eq!(amended["state"], "returned");
    assert_ne!(amended["params_hash"], t["params_hash"]);
    assert_eq!(amended["plan"]["keys"], 11, "{amended}");
    let carol_rec = amended["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == lead_rec)
        .unwrap()
        .clone();
    assert_eq!(
        (carol_rec["state"].as_str(), carol_rec["actor"].as_str()),
        (Some("void"), Some("carol"))
    );
    let again = svc.ok("POST", &format!("/tickets/{id}/resubmit"), &alice, None);
    assert_eq!(again["state"], "pending", "{again}");
    let recs = current(&again);
    assert_eq!(recs.len(), 2);
    assert!(
        recs.iter()
            .all(|r| r["state"] == "pending" && r["round"] == 2),
        "{again}"
    );
    let steps = audit(&svc, id, &alice);
    let tos: Vec<&str> = steps.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(
        tos,
        ["pending", "pending", "returned", "returned", "pending"],
        "{steps:?}"
    );
    assert!(steps[3].1.contains("amended"), "{steps:?}");

    // 3. A stand-in approves for the lead, recorded as such; one person counts once.
    let until = "2099-01-01";
    assert_eq!(
        send(
            &svc,
            "PUT",
            "/users/carol/stand-in",
            &mallory,
            Some(json!({"stand_in": "dave", "until": until}))
        )
        .0,
        403
    );
    let (status, s) = send(
        &svc,
        "PUT",
        "/users/carol/stand-in",
        &carol,
        Some(json!({"stand_in": "dave", "until": until})),
    );
    assert_eq!((status, &s["active"]), (200, &json!(true)), "{s}");
    send(
        &svc,
        "PUT",
        "/users/root/stand-in",
        &root,
        Some(json!({"stand_in": "dave", "until": until})),
    );
    assert!(needs(&svc, &dave).contains(&id));
    let by_dave = svc.ok("POST", &format!("/tickets/{id}/approve"), &dave, None);
    let rec = &current(&by_dave)[0];
    assert_eq!(
        (rec["actor"].as_str(), rec["for_user"].as_str()),
        (Some("dave"), Some("carol")),
        "{by_dave}"
    );
    assert!(rec["note"].as_str().unwrap().contains("dave for carol"));
    let (status, e) = svc.call("POST", &format!("/tickets/{id}/approve"), &dave, None);
    assert_eq!(status, 403, "dave counted twice: {e}");
    assert!(
        e["error"].as_str().unwrap().contains("already counts"),
        "{e}"
    );
    let (status, _) = svc.call("POST", &format!("/tickets/{id}/approve"), &carol, None);
    assert_eq!(status, 403, "carol counts through dave already");
    let ok = svc.ok("POST", &format!("/tickets/{id}/approve"), &bob, None);
    assert_ne!(ok["state"], "pending", "{ok}");
    assert_eq!(
        svc.wait_state(id, &alice, &["succeeded", "failed"], 60)["state"],
        "succeeded"
    );
    assert_eq!(keys(&node, "keep:"), 39);
    assert_eq!(
        send(&svc, "DELETE", "/users/root/stand-in", &root, None).0,
        204
    );

    // 4. A plan that grew past the margin between approval and start goes back.
    let t = svc.ok("POST", "/tickets", &alice, Some(cleanup("grow:")));
    let id = id_of(&t);
    assert_eq!(t["plan"]["keys"], 100);
    svc.ok("POST", &format!("/tickets/{id}/approve"), &carol, None);
    fill(&node, "grow:", 100..500);
    svc.ok("POST", &format!("/tickets/{id}/approve"), &bob, None);
    let deadline = Instant::now() + Duration::from_secs(60);
    let note = loop {
        let steps = audit(&svc, id, &alice);
        if let Some(s) = steps.iter().find(|s| s.1.contains("grew")) {
            break s.1.clone();
        }
        assert!(
            Instant::now() < deadline,
            "not sent back: {steps:?}\n{}",
            svc.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        note.contains("approved 100 keys") && note.contains("now 500 keys"),
        "{note}"
    );
    let back = svc.wait_state(id, &alice, &["pending"], 10);
    assert_eq!(back["plan"]["keys"], 500, "{back}");
    let recs = current(&back);
    assert!(
        recs.iter()
            .all(|r| r["state"] == "pending" && r["impact_keys"] == 500),
        "{back}"
    );
    assert_eq!(keys(&node, "grow:"), 500, "nothing ran");
    assert_eq!(back["attempts"], 0);
}

/// A store made with the release-1 schema, filled, then opened by this
/// build: the data is kept and the new tables exist.
fn upgrade(backend: &str) {
    use jobsvc::store::{AppRow, Ownership, Store};
    use jobsvc::ticket::{Role, TicketState};
    let Some(setup) = Setup::new(backend) else {
        return;
    };
    let token = "rdbs_upgrade_test_token_of_root";
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (pending, rejected) = rt.block_on(async {
        let old = Store::open_at(&setup.store, 1).await.unwrap();
        assert_eq!(old.schema_version().await.unwrap(), 1);
        assert!(old.list_teams().await.is_err(), "release 1 has no teams");
        old.create_user("root", Role::Admin, &jobsvc::auth::token_hash(token))
            .await
            .unwrap();
        old.create_user("alice", Role::Submitter, "hash-of-alice")
            .await
            .unwrap();
        old.create_app(&AppRow {
            name: "old".into(),
            kind: "standalone".into(),
            addr: "127.0.0.1:1".into(),
            username: None,
            password: Some("secret".into()),
            maintenance_window: Some("01:00-05:00".into()),
            topology: "[]".into(),
            refreshed_at: None,
        })
        .await
        .unwrap();
        // Two tickets as release 1 wrote them (its columns, its audit
        // rows): this build's filing also records notifications, which a
        // release-1 store has no table for.
        let mut ids = Vec::new();
        for n in 0..2 {
            let (at, top) = (1_700_000_000_000i64 + n, 10 + n);
            old.execute_raw(&format!(
                "INSERT INTO tickets (kind, state, submitter, params, params_hash, created_at, updated_at, progress, plan) \
                 VALUES ('hotkeys', 'pending', 'alice', '{{\"app\":\"old\",\"top\":{top}}}', 'sha256:{n}', {at}, {at}, '{{}}', '{{}}')"
            ))
            .await
            .unwrap();
            let t = old
                .list_tickets(None, None, None, 10)
                .await
                .unwrap()
                .into_iter()
                .find(|t| t.params_hash == format!("sha256:{n}"))
                .unwrap();
            old.execute_raw(&format!(
                "INSERT INTO audit (ticket_id, at, actor, from_state, to_state, note) VALUES ({}, {at}, 'alice', NULL, 'pending', 'submitted')",
                t.id
            ))
            .await
            .unwrap();
            ids.push(t.id);
        }
        old.execute_raw(&format!(
            "UPDATE tickets SET state = 'rejected', error = 'rejected: old' WHERE id = {}",
            ids[1]
        ))
        .await
        .unwrap();
        old.execute_raw(&format!(
            "INSERT INTO audit (ticket_id, at, actor, from_state, to_state, note) VALUES ({}, 1700000000009, 'root', 'pending', 'rejected', 'old')",
            ids[1]
        ))
        .await
        .unwrap();
        old.close().await;

        let new = Store::open(&setup.store).await.unwrap();
        assert_eq!(
            new.schema_version().await.unwrap(),
            Store::latest_schema_version()
        );
        assert_eq!(new.list_users().await.unwrap().len(), 2);
        let app = new.get_app("old").await.unwrap().unwrap();
        assert_eq!(
            (app.password.as_deref(), app.maintenance_window.as_deref()),
            (Some("secret"), Some("01:00-05:00"))
        );
        assert_eq!(
            new.ownership("old").await.unwrap(),
            Some(Ownership::default())
        );
        let t0 = new.get_ticket(ids[0]).await.unwrap().unwrap();
        assert_eq!(
            (t0.state, t0.params_hash.as_str()),
            (TicketState::Pending, "sha256:0")
        );
        assert_eq!(
            new.get_ticket(ids[1]).await.unwrap().unwrap().state,
            TicketState::Rejected
        );
        assert_eq!(new.audit(ids[1]).await.unwrap().len(), 2);
        assert!(new.list_teams().await.unwrap().is_empty());
        assert!(new.approvals(ids[0]).await.unwrap().is_empty());
        assert!(new.delegates().await.unwrap().is_empty());
        assert!(new.stored_policies().await.unwrap().is_none());
        new.create_team("ops", Some("root"), &[]).await.unwrap();
        new.close().await;
        // Opening again changes nothing.
        let again = Store::open(&setup.store).await.unwrap();
        assert_eq!(
            again.schema_version().await.unwrap(),
            Store::latest_schema_version()
        );
        assert_eq!(again.list_teams().await.unwrap().len(), 1);
        again.close().await;
        (ids[0], ids[1])
    });
    // The service on the upgraded store: the old pending ticket gets its
    // approval record when an admin decides it (one admin, as in release 1).
    let svc = setup.start(1, "");
    let t = svc.ok("GET", &format!("/tickets/{pending}"), token, None);
    assert_eq!(t["approvals"], json!([]), "{t}");
    let t = svc.ok("POST", &format!("/tickets/{pending}/approve"), token, None);
    assert_ne!(t["state"], "pending", "{t}");
    let recs = current(&t);
    assert_eq!(
        (recs.len(), recs[0]["actor"].as_str()),
        (1, Some("root")),
        "{t}"
    );
    assert_eq!(
        svc.ok("GET", &format!("/tickets/{rejected}"), token, None)["state"],
        "rejected"
    );
}

#[test]
fn approvals_sqlite_flows() {
    flows("sqlite");
}

#[test]
fn approvals_postgres_flows() {
    flows("postgres");
}

#[test]
fn approvals_sqlite_store_upgrades_in_place() {
    upgrade("sqlite");
}

#[test]
fn approvals_postgres_store_upgrades_in_place() {
    upgrade("postgres");
}

/// The console: the 403 of a cross-team form, a ticket's approval records
/// and risk, approving one record, returning, resubmitting.
#[test]
fn approvals_console_in_chromium() {
    let Some(chromium) = testkit::require_chromium() else {
        return;
    };
    let Some((setup, bin)) = setup_and_redis("sqlite") else {
        return;
    };
    let node = bin.start(&[]).unwrap();
    fill(&node, "tmp:", 0..20);
    let root = setup.init_admin("root");
    let svc = setup.start(0, "");
    let alice = svc.add_user(&root, "alice", "submitter");
    let carol = svc.add_user(&root, "carol", "submitter");
    let mallory = svc.add_user(&root, "mallory", "submitter");
    svc.ok(
        "POST",
        "/teams",
        &root,
        Some(json!({"name": "payments", "lead": "carol", "members": ["alice"]})),
    );
    svc.add_local_app(&root, "shop", "standalone", node.port());
    send(
        &svc,
        "PUT",
        "/apps/shop/owner",
        &root,
        Some(json!({"team": "payments", "tags": ["production"]})),
    );
    let t = svc.ok("POST", "/tickets", &alice, Some(cleanup("tmp:")));
    let id = id_of(&t);
    let recs = current(&t);
    let (lead_rec, admin_rec) = (
        recs[0]["id"].as_i64().unwrap(),
        recs[1]["id"].as_i64().unwrap(),
    );

    let mut b = testkit::Browser::launch(&chromium);
    let base = format!("http://127.0.0.1:{}/", svc.port);
    b.goto(&base);
    let sign_in = |b: &mut testkit::Browser, token: &str, name: &str| {
        b.wait_for_selector("#signin #token");
        b.type_into("#token", token);
        b.click("#signin-go");
        let js = format!(
            "(document.querySelector('#me') || {{}}).textContent?.startsWith({})",
            serde_json::to_string(name).unwrap()
        );
        b.wait_for(&js, "signed in");
    };
    let open = |b: &mut testkit::Browser, hash: &str| {
        b.eval(&format!(
            "location.hash = {}; true",
            serde_json::to_string(hash).unwrap()
        ));
    };
    let sign_out = |b: &mut testkit::Browser| {
        b.click("#signout");
        b.wait_for_selector("#signin #token");
    };
    let ticket_in = |b: &mut testkit::Browser, state: &str| {
        let js = format!(
            "(() => {{ const h = document.querySelector('#ticket-title'); return h && h.dataset.id === '{id}' && h.dataset.state === '{state}'; }})()"
        );
        b.wait_for(&js, state);
    };

    // Another team's app: the form shows the 403 and who owns the app.
    sign_in(&mut b, &mallory, "mallory");
    open(&mut b, "#/submit/analysis");
    b.wait_for_selector("#submit-form[data-type='analysis'] #p-app");
    b.type_into("#p-app", "shop");
    b.click("#preview-plan");
    b.wait_for_selector("#form-error .api-error[data-status='403']");
    let msg = b.text("#form-error").unwrap_or_default();
    assert!(msg.contains("payments"), "{msg}");
    sign_out(&mut b);

    // The lead sees the records and the risk, and approves theirs.
    sign_in(&mut b, &carol, "carol");
    open(&mut b, &format!("#/ticket/{id}"));
    ticket_in(&mut b, "pending");
    b.wait_for_selector("#plan-risk");
    assert_eq!(
        b.eval("document.querySelectorAll('#approvals tbody tr').length"),
        json!(2)
    );
    b.click(&format!("#approve-{lead_rec}"));
    b.wait_for_selector("dialog[open] #dialog-ok");
    b.click("#dialog-ok");
    b.wait_for(
        &format!("document.querySelector('#approvals tr[data-approval=\"{lead_rec}\"]')?.dataset.state === 'approved'"),
        "lead approved",
    );
    assert!(b
        .text(&format!(
            "#approvals tr[data-approval=\"{lead_rec}\"] .approver"
        ))
        .unwrap_or_default()
        .contains("carol"));
    assert_eq!(node.client().must(&["DBSIZE"]).as_int(), Some(20));
    sign_out(&mut b);

    // The admin returns it with a note.
    sign_in(&mut b, &root, "root");
    open(&mut b, &format!("#/ticket/{id}"));
    ticket_in(&mut b, "pending");
    b.click(&format!("#return-{admin_rec}"));
    b.wait_for_selector("dialog[open] #dialog-text");
    b.type_into("#dialog-text", "only the first ten, please");
    b.click("#dialog-ok");
    ticket_in(&mut b, "returned");
    sign_out(&mut b);

    // The submitter resubmits: a new round of records.
    sign_in(&mut b, &alice, "alice");
    open(&mut b, &format!("#/ticket/{id}"));
    ticket_in(&mut b, "returned");
    b.wait_for_selector("#amend");
    b.click("#resubmit");
    b.wait_for_selector("dialog[open] #dialog-ok");
    b.click("#dialog-ok");
    ticket_in(&mut b, "pending");
    b.wait_for(
        "document.querySelectorAll('#approvals tbody tr[data-state=\"pending\"]').length === 2",
        "fresh records",
    );
    assert_eq!(
        b.eval("document.querySelectorAll('#approvals tbody tr[data-state=\"void\"]').length"),
        json!(1),
        "the lead's first approval is void"
    );
    let shot = std::env::current_exe()
        .unwrap()
        .ancestors()
        .nth(3)
        .unwrap()
        .join("console-approvals.png");
    b.screenshot(&shot, false);
}
