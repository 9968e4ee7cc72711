//! Bad input at the API, one table: oversized and deep bodies, wrong types
//! and unknown fields, huge patterns, path traversal in file sources and
//! report names, tokens in every wrong place. Each case must get a 4xx with
//! a message, and nothing may change (tickets, apps, users, audit, files).
//! Requests are written byte by byte on a socket, so each case says exactly
//! what reaches the service.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};

use super::service::{files_under, setup_and_redis, Service};

/// One raw request: method, path (sent as is), headers, body.
struct Req {
    method: &'static str,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Sends `r` and returns (status, body as JSON or as a string).
fn send(port: u16, r: &Req) -> (u16, Value) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n",
        r.method, r.path
    );
    for (k, v) in &r.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !r.body.is_empty() || r.method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", r.body.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    // The service may answer (413) before reading a huge body, and close.
    let _ = s.write_all(&r.body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line for {} {}: {text:?}", r.method, r.path));
    let body = text.split_once("\r\n\r\n").map_or("", |b| b.1);
    // Chunked answers: take the JSON between the first `{` and the last `}`.
    let json = match (body.find('{'), body.rfind('}')) {
        (Some(a), Some(b)) if b > a => serde_json::from_str(&body[a..=b]).ok(),
        _ => None,
    };
    (status, json.unwrap_or(Value::String(body.to_string())))
}

fn bearer(token: &str) -> Vec<(String, String)> {
    vec![("Authorization".into(), format!("Bearer {token}"))]
}

fn json_req(method: &'static str, path: &str, token: &str, body: Value) -> Req {
    let mut headers = bearer(token);
    headers.push(("Content-Type".into(), "application/json".into()));
    Req {
        method,
        path: path.into(),
        headers,
        body: body.to_string().into_bytes(),
    }
}

fn raw(method: &'static str, path: &str, headers: Vec<(String, String)>, body: &[u8]) -> Req {
    Req {
        method,
        path: path.into(),
        headers,
        body: body.to_vec(),
    }
}

/// Everything a bad request could have changed.
fn state(svc: &Service, admin: &str, reports: &std::path::Path) -> Value {
    let tickets = svc.ok("GET", "/tickets", admin, None);
    let audits: Vec<Value> = tickets
        .as_array()
        .unwrap()
        .iter()
        .map(|t| svc.ok("GET", &format!("/tickets/{}/audit", t["id"]), admin, None))
        .collect();
    let files = files_under(reports);
    json!({
        "tickets": tickets,
        "audits": audits,
        "apps": svc.ok("GET", "/apps", admin, None),
        "users": svc.ok("GET", "/users", admin, None),
        "files": files,
    })
}

/// JSON nested `depth` arrays deep inside the ticket's params.
fn deep(depth: usize) -> Vec<u8> {
    let mut s = String::from(r#"{"type":"analysis","params":{"app":"one","top":"#);
    s.push_str(&"[".repeat(depth));
    s.push_str(&"]".repeat(depth));
    s.push_str("}}");
    s.into_bytes()
}

#[test]
fn service_sqlite_rejects_bad_input_and_changes_nothing() {
    let Some((setup, bin)) = setup_and_redis("sqlite") else {
        return;
    };
    let node = bin.start(&[]).unwrap();
    let admin = setup.init_admin("root");
    let svc = setup.start(1, "");
    let alice = svc.add_user(&admin, "alice", "submitter");
    let bob = svc.add_user(&admin, "bob", "submitter");
    svc.add_local_app(&admin, "one", "standalone", node.port());
    let rdb = setup.allowed.join("x.rdb");
    std::fs::copy(testkit::workspace_root().join("testdata/sample.rdb"), &rdb).unwrap();
    // A symlink inside the allowed folder to a file outside it.
    let outside = setup.dir.join("outside.rdb");
    std::fs::copy(&rdb, &outside).unwrap();
    std::os::unix::fs::symlink(&outside, setup.allowed.join("link.rdb")).unwrap();
    // One finished analysis of alice's, so that report paths exist.
    let t = svc.ok(
        "POST",
        "/tickets",
        &alice,
        Some(json!({"type": "analysis", "params": {"file": rdb}})),
    );
    let id = t["id"].as_i64().unwrap();
    svc.ok("POST", &format!("/tickets/{id}/approve"), &admin, None);
    svc.wait_state(id, &alice, &["succeeded"], 60);
    let reports = setup.dir.join("reports");
    let before = state(&svc, &admin, &reports);

    let tickets = "/tickets";
    let analysis = |params: Value| json!({"type": "analysis", "params": params});
    let cleanup = |params: Value| json!({"type": "cleanup", "params": params});
    let huge = "k".repeat(100_000);
    let report = format!("/tickets/{id}/report");
    let cases: Vec<(&str, Req, &[u16])> = vec![
        // ---- tokens in every wrong place --------------------------------
        ("no token", raw("GET", "/me", vec![], b""), &[401]),
        (
            "token in the query",
            raw("GET", &format!("/me?token={alice}"), vec![], b""),
            &[401],
        ),
        (
            "access_token in the query",
            raw("GET", &format!("/me?access_token={alice}"), vec![], b""),
            &[401],
        ),
        (
            "token in a cookie",
            raw(
                "GET",
                "/me",
                vec![("Cookie".into(), format!("token={alice}"))],
                b"",
            ),
            &[401],
        ),
        (
            "Basic scheme",
            raw(
                "GET",
                "/me",
                vec![("Authorization".into(), format!("Basic {alice}"))],
                b"",
            ),
            &[401],
        ),
        (
            "no scheme",
            raw(
                "GET",
                "/me",
                vec![("Authorization".into(), alice.clone())],
                b"",
            ),
            &[401],
        ),
        (
            "Bearer and nothing",
            raw(
                "GET",
                "/me",
                vec![("Authorization".into(), "Bearer ".into())],
                b"",
            ),
            &[401],
        ),
        (
            "Bearer with a tail",
            raw(
                "GET",
                "/me",
                vec![("Authorization".into(), format!("Bearer {alice} x"))],
                b"",
            ),
            &[401],
        ),
        (
            "a made-up token",
            raw(
                "GET",
                "/me",
                bearer("rdbs_0000000000000000000000000000"),
                b"",
            ),
            &[401],
        ),
        (
            "a token cut short",
            raw("GET", "/me", bearer(&alice[..alice.len() - 1]), b""),
            &[401],
        ),
        (
            "token in an X- header",
            raw(
                "GET",
                "/me",
                vec![("X-Api-Token".into(), alice.clone())],
                b"",
            ),
            &[401],
        ),
        (
            "token in the body",
            raw(
                "POST",
                tickets,
                vec![("Content-Type".into(), "application/json".into())],
                json!({"token": alice, "type": "analysis", "params": {"app": "one"}})
                    .to_string()
                    .as_bytes(),
            ),
            &[401],
        ),
        // ---- which refusal comes first: body size, token, role, JSON ----
        (
            "no token and bad JSON",
            raw(
                "POST",
                tickets,
                vec![("Content-Type".into(), "application/json".into())],
                b"{not json",
            ),
            &[401],
        ),
        (
            "a submitter's bad JSON to an admin endpoint",
            raw(
                "POST",
                "/users",
                {
                    let mut h = bearer(&alice);
                    h.push(("Content-Type".into(), "application/json".into()));
                    h
                },
                b"{not json",
            ),
            &[403],
        ),
        (
            "a 4 MB body without a token",
            raw(
                "POST",
                "/users",
                vec![("Content-Type".into(), "application/json".into())],
                json!({"name": "x".repeat(4 << 20), "role": "submitter"})
                    .to_string()
                    .as_bytes(),
            ),
            &[413],
        ),
        (
            "a ticket id of letters without a token",
            raw("GET", "/tickets/abc", vec![], b""),
            &[400],
        ),
        // ---- bodies: size, depth, syntax, media type --------------------
        (
            "a 4 MB body",
            json_req(
                "POST",
                tickets,
                &alice,
                analysis(json!({"app": "one", "separators": "x".repeat(4 << 20)})),
            ),
            &[413],
        ),
        (
            "JSON 100,000 levels deep",
            raw(
                "POST",
                tickets,
                {
                    let mut h = bearer(&alice);
                    h.push(("Content-Type".into(), "application/json".into()));
                    h
                },
                &deep(100_000),
            ),
            &[400, 413, 422],
        ),
        (
            "JSON 200 levels deep",
            raw(
                "POST",
                tickets,
                {
                    let mut h = bearer(&alice);
                    h.push(("Content-Type".into(), "application/json".into()));
                    h
                },
                &deep(200),
            ),
            &[400, 422],
        ),
        (
            "not JSON",
            raw(
                "POST",
                tickets,
                {
                    let mut h = bearer(&alice);
                    h.push(("Content-Type".into(), "application/json".into()));
                    h
                },
                b"{not json",
            ),
            &[400],
        ),
        (
            "JSON cut short",
            raw(
                "POST",
                tickets,
                {
                    let mut h = bearer(&alice);
                    h.push(("Content-Type".into(), "application/json".into()));
                    h
                },
                br#"{"type":"analysis","params":{"app":"one""#,
            ),
            &[400],
        ),
        (
            "text/plain",
            raw(
                "POST",
                tickets,
                {
                    let mut h = bearer(&alice);
                    h.push(("Content-Type".into(), "text/plain".into()));
                    h
                },
                analysis(json!({"app": "one"})).to_string().as_bytes(),
            ),
            &[415],
        ),
        (
            "no content type",
            raw(
                "POST",
                tickets,
                bearer(&alice),
                analysis(json!({"app": "one"})).to_string().as_bytes(),
            ),
            &[415],
        ),
        (
            "empty body",
            raw(
                "POST",
                tickets,
                {
                    let mut h = bearer(&alice);
                    h.push(("Content-Type".into(), "application/json".into()));
                    h
                },
                b"",
            ),
            &[400],
        ),
        (
            "an array",
            json_req(
                "POST",
                tickets,
                &alice,
                json!([analysis(json!({"app": "one"}))]),
            ),
            &[400, 422],
        ),
        (
            "invalid UTF-8",
            raw(
                "POST",
                tickets,
                {
                    let mut h = bearer(&alice);
                    h.push(("Content-Type".into(), "application/json".into()));
                    h
                },
                b"{\"type\":\"analysis\",\"params\":{\"app\":\"\xff\"}}",
            ),
            &[400],
        ),
        // ---- wrong types and unknown fields ------------------------------
        (
            "type is a number",
            json_req(
                "POST",
                tickets,
                &alice,
                json!({"type": 5, "params": {"app": "one"}}),
            ),
            &[400, 422],
        ),
        (
            "params is a string",
            json_req(
                "POST",
                tickets,
                &alice,
                json!({"type": "analysis", "params": "app=one"}),
            ),
            &[400, 422],
        ),
        (
            "top is text",
            json_req(
                "POST",
                tickets,
                &alice,
                analysis(json!({"app": "one", "top": "ten"})),
            ),
            &[400, 422],
        ),
        (
            "top is negative",
            json_req(
                "POST",
                tickets,
                &alice,
                analysis(json!({"app": "one", "top": -1})),
            ),
            &[400, 422],
        ),
        (
            "top is a fraction",
            json_req(
                "POST",
                tickets,
                &alice,
                analysis(json!({"app": "one", "top": 1.5})),
            ),
            &[400, 422],
        ),
        (
            "top overflows",
            raw(
                "POST",
                tickets,
                {
                    let mut h = bearer(&alice);
                    h.push(("Content-Type".into(), "application/json".into()));
                    h
                },
                br#"{"type":"analysis","params":{"app":"one","top":1e400}}"#,
            ),
            &[400, 422],
        ),
        (
            "app is null",
            json_req(
                "POST",
                tickets,
                &alice,
                analysis(json!({"app": null, "file": null})),
            ),
            &[400, 422],
        ),
        (
            "keys_table is a string",
            json_req(
                "POST",
                tickets,
                &alice,
                analysis(json!({"app": "one", "keys_table": "yes"})),
            ),
            &[400, 422],
        ),
        (
            "unknown ticket field",
            json_req(
                "POST",
                tickets,
                &alice,
                json!({"type": "analysis", "params": {"app": "one"}, "priority": "high"}),
            ),
            &[400, 422],
        ),
        (
            "unknown cleanup field",
            json_req(
                "POST",
                tickets,
                &alice,
                cleanup(json!({"app": "one", "patterns": [{"prefix": "a:"}], "shards": 3})),
            ),
            &[400, 422],
        ),
        (
            "pattern of an unknown kind",
            json_req(
                "POST",
                tickets,
                &alice,
                cleanup(json!({"app": "one", "patterns": [{"regex": "a.*"}]})),
            ),
            &[400, 422],
        ),
        (
            "pattern of two kinds",
            json_req(
                "POST",
                tickets,
                &alice,
                cleanup(json!({"app": "one", "patterns": [{"prefix": "a", "glob": "b*"}]})),
            ),
            &[400, 422],
        ),
        (
            "a 100 KB prefix",
            json_req(
                "POST",
                tickets,
                &alice,
                cleanup(json!({"app": "one", "patterns": [{"prefix": huge}]})),
            ),
            &[400],
        ),
        (
            "a 100 KB glob",
            json_req(
                "POST",
                tickets,
                &alice,
                cleanup(json!({"app": "one", "patterns": [{"glob": format!("{huge}*")}]})),
            ),
            &[400],
        ),
        (
            "10,000 patterns",
            json_req(
                "POST",
                tickets,
                &alice,
                cleanup(json!({"app": "one", "patterns": vec![json!({"prefix": "p:"}); 10_000]})),
            ),
            &[400],
        ),
        (
            "no patterns",
            json_req(
                "POST",
                tickets,
                &alice,
                cleanup(json!({"app": "one", "patterns": []})),
            ),
            &[400],
        ),
        (
            "a glob matching everything",
            json_req(
                "POST",
                tickets,
                &alice,
                cleanup(json!({"app": "one", "patterns": [{"glob": "*"}]})),
            ),
            &[400, 403],
        ),
        (
            "an unknown key type",
            json_req(
                "POST",
                tickets,
                &alice,
                cleanup(json!({"app": "one", "patterns": [{"prefix": "a:"}], "type": "graph"})),
            ),
            &[400],
        ),
        (
            "database 100000",
            json_req(
                "POST",
                tickets,
                &alice,
                cleanup(json!({"app": "one", "patterns": [{"prefix": "a:"}], "dbs": [100000]})),
            ),
            &[400],
        ),
        (
            "an expire range upside down",
            json_req(
                "POST",
                tickets,
                &alice,
                cleanup(
                    json!({"app": "one", "patterns": [{"prefix": "a:"}], "mode": "expire", "expire_secs": [100, 10]}),
                ),
            ),
            &[400],
        ),
        (
            "a 10 KB idempotency key",
            json_req(
                "POST",
                tickets,
                &alice,
                json!({"type": "analysis", "params": {"app": "one"}, "idempotency_key": "i".repeat(10_000)}),
            ),
            &[400],
        ),
        // ---- file sources and report names --------------------------------
        (
            "a file outside the allowed folders",
            json_req(
                "POST",
                tickets,
                &alice,
                analysis(json!({"file": "/etc/hostname"})),
            ),
            &[403],
        ),
        (
            "dot-dot out of an allowed folder",
            json_req(
                "POST",
                tickets,
                &alice,
                analysis(json!({"file": setup.allowed.join("../outside.rdb")})),
            ),
            &[403],
        ),
        (
            "a symlink out of an allowed folder",
            json_req(
                "POST",
                tickets,
                &alice,
                analysis(json!({"file": setup.allowed.join("link.rdb")})),
            ),
            &[403],
        ),
        (
            "a relative file",
            json_req("POST", tickets, &alice, analysis(json!({"file": "x.rdb"}))),
            &[400, 403],
        ),
        (
            "a file with a NUL",
            json_req(
                "POST",
                tickets,
                &alice,
                analysis(json!({"file": format!("{}\u{0}.rdb", rdb.display())})),
            ),
            &[400, 403],
        ),
        (
            "a report name with ..",
            raw(
                "GET",
                &format!("{report}/../../../jobs.db"),
                bearer(&alice),
                b"",
            ),
            &[400, 404],
        ),
        (
            "a report name with %2e%2e",
            raw(
                "GET",
                &format!("{report}/%2e%2e/%2e%2e/jobs.db"),
                bearer(&alice),
                b"",
            ),
            &[400, 404],
        ),
        (
            "a report name with %2f",
            raw(
                "GET",
                &format!("{report}/..%2f..%2fjobs.db"),
                bearer(&alice),
                b"",
            ),
            &[400, 404],
        ),
        (
            "an absolute report name",
            raw("GET", &format!("{report}//etc/passwd"), bearer(&alice), b""),
            &[400, 404],
        ),
        (
            "a report name with a NUL",
            raw(
                "GET",
                &format!("{report}/summary.json%00.txt"),
                bearer(&alice),
                b"",
            ),
            &[400, 404],
        ),
        (
            "another user's report",
            raw("GET", &format!("{report}/summary.json"), bearer(&bob), b""),
            &[403, 404],
        ),
        (
            "another user's ticket",
            raw("GET", &format!("/tickets/{id}"), bearer(&bob), b""),
            &[403, 404],
        ),
        (
            "another user's cancel",
            raw("POST", &format!("/tickets/{id}/cancel"), bearer(&bob), b""),
            &[403, 404, 409],
        ),
        // ---- ids, queries, methods -------------------------------------------
        (
            "a ticket id of letters",
            raw("GET", "/tickets/abc", bearer(&alice), b""),
            &[400, 404],
        ),
        (
            "a negative ticket id",
            raw("GET", "/tickets/-1", bearer(&alice), b""),
            &[400, 404],
        ),
        (
            "a ticket id past i64",
            raw(
                "GET",
                "/tickets/99999999999999999999999",
                bearer(&alice),
                b"",
            ),
            &[400, 404],
        ),
        (
            "a fractional ticket id",
            raw("GET", "/tickets/1.5", bearer(&alice), b""),
            &[400, 404],
        ),
        (
            "a negative limit",
            raw("GET", "/tickets?limit=-1", bearer(&alice), b""),
            &[400],
        ),
        (
            "a limit of letters",
            raw("GET", "/tickets?limit=all", bearer(&alice), b""),
            &[400],
        ),
        (
            "an unknown state",
            raw("GET", "/tickets?state=sleeping", bearer(&alice), b""),
            &[400],
        ),
        (
            "PUT on tickets",
            raw("PUT", tickets, bearer(&alice), b""),
            &[405],
        ),
        (
            "DELETE on a ticket",
            raw("DELETE", &format!("/tickets/{id}"), bearer(&admin), b""),
            &[405],
        ),
        (
            "a user with an empty name",
            json_req(
                "POST",
                "/users",
                &admin,
                json!({"name": "", "role": "submitter"}),
            ),
            &[400],
        ),
        (
            "a user name of 10 KB",
            json_req(
                "POST",
                "/users",
                &admin,
                json!({"name": "u".repeat(10_000), "role": "submitter"}),
            ),
            &[400],
        ),
        (
            "a user name with a newline",
            json_req(
                "POST",
                "/users",
                &admin,
                json!({"name": "eve\nroot", "role": "submitter"}),
            ),
            &[400],
        ),
        (
            "an app name with a slash",
            json_req(
                "POST",
                "/apps",
                &admin,
                json!({"name": "a/b", "kind": "standalone", "addr": format!("127.0.0.1:{}", node.port())}),
            ),
            &[400],
        ),
        (
            "an app address without a port",
            json_req(
                "POST",
                "/apps",
                &admin,
                json!({"name": "np", "kind": "standalone", "addr": "127.0.0.1"}),
            ),
            &[400],
        ),
        (
            "an unknown app kind",
            json_req(
                "POST",
                "/apps",
                &admin,
                json!({"name": "mesh", "kind": "mesh", "addr": format!("127.0.0.1:{}", node.port())}),
            ),
            &[400],
        ),
        (
            "a reject reason of 1 MB",
            json_req(
                "POST",
                &format!("/tickets/{id}/reject"),
                &admin,
                json!({"reason": "r".repeat(1 << 20)}),
            ),
            &[400, 409, 413],
        ),
    ];
    assert!(cases.len() >= 50, "{} cases", cases.len());
    let mut failures = Vec::new();
    for (what, req, want) in &cases {
        let (status, body) = send(svc.port, req);
        let message = body["error"].as_str().unwrap_or_default();
        if !want.contains(&status) || message.trim().is_empty() {
            let shown: String = body.to_string().chars().take(300).collect();
            failures.push(format!(
                "{what}: {} {} -> {status} {shown} (want {want:?} with an error message)",
                req.method,
                req.path.chars().take(80).collect::<String>()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n"),
        svc.log_text()
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The service is still up, and nothing changed.
    let after = state(&svc, &admin, &reports);
    assert_eq!(after, before, "a bad request changed something");
}
