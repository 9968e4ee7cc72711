//! The web console that `rdbscope serve` serves at `/`: its files and the
//! security headers of every answer, the API pieces it is built on (the
//! paged, filtered ticket list, the summary, the plan preview, users' roles
//! and tokens, one-use report view links), against real Redis nodes.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use testkit::{require_server, ServerKind};

use crate::service::{Service, Setup};

/// One HTTP exchange: status, headers (lower-case names) and body text.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: BTreeMap<String, String>,
    pub(crate) text: String,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }
}

/// Any method, any path, optional token and JSON body.
pub(crate) fn http(
    svc: &Service,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let url = format!("http://127.0.0.1:{}{path}", svc.port);
    let req = ureq::http::Request::builder()
        .method(method)
        .uri(&url)
        .header("Content-Type", "application/json");
    let req = match token {
        Some(t) => req.header("Authorization", format!("Bearer {t}")),
        None => req,
    };
    let req = req
        .body(body.map(|b| b.to_string()).unwrap_or_default())
        .unwrap();
    let mut resp = agent
        .run(req)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    Answer {
        status: resp.status().as_u16(),
        headers,
        text: resp.body_mut().read_to_string().unwrap_or_default(),
    }
}

fn assert_security_headers(a: &Answer, what: &str) {
    let csp = a.header("content-security-policy");
    assert!(csp.contains("script-src 'self'"), "{what}: CSP {csp:?}");
    assert!(csp.contains("style-src 'self'"), "{what}: CSP {csp:?}");
    assert!(!csp.contains("unsafe-inline"), "{what}: CSP {csp:?}");
    assert!(!csp.contains("unsafe-eval"), "{what}: CSP {csp:?}");
    assert!(
        csp.contains("frame-ancestors 'none'"),
        "{what}: CSP {csp:?}"
    );
    assert_eq!(a.header("x-frame-options"), "DENY", "{what}");
    assert_eq!(a.header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(a.header("referrer-policy"), "no-referrer", "{what}");
}

#[test]
fn console_files_carry_their_types_and_the_security_headers() {
    let Some(setup) = Setup::new("sqlite") else {
        return;
    };
    let admin = setup.init_admin("root");
    let svc = setup.start(0, "");
    let page = http(&svc, "GET", "/", None, None);
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").starts_with("text/html"));
    assert!(page.text.contains("/console/js/main.js"), "{}", page.text);
    assert_security_headers(&page, "/");
    for (path, ty) in [
        ("/console/console.css", "text/css"),
        ("/console/js/main.js", "text/javascript"),
        ("/console/js/schema.js", "text/javascript"),
    ] {
        let a = http(&svc, "GET", path, None, None);
        assert_eq!(a.status, 200, "{path}");
        assert!(
            a.header("content-type").starts_with(ty),
            "{path}: {:?}",
            a.headers
        );
        assert!(!a.text.is_empty());
        assert_security_headers(&a, path);
    }
    let missing = http(&svc, "GET", "/console/js/nothing.js", None, None);
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("x-content-type-options"), "nosniff");
    // The API's answers carry the headers too (JSON is never framed or sniffed).
    let me = http(&svc, "GET", "/me", Some(&admin), None);
    assert_eq!(me.status, 200);
    assert_security_headers(&me, "/me");
    // The console builds its forms from the document.
    let doc = http(&svc, "GET", "/openapi.json", None, None).json();
    for name in [
        "AnalysisParams",
        "HotkeysParams",
        "CleanupParams",
        "MigrationParams",
    ] {
        assert!(
            doc["components"]["schemas"][name]["properties"].is_object(),
            "{name}"
        );
    }
    for path in [
        "/tickets/plan",
        "/tickets/summary",
        "/users/{name}",
        "/users/{name}/token",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is not documented");
    }
}

/// A standalone Redis with a few keys, registered as app `name`.
fn redis_app(svc: &Service, admin: &str, name: &str) -> Option<testkit::RedisServer> {
    let bin = require_server(ServerKind::Redis70)?;
    let node = bin.start(&[]).unwrap();
    let mut c = node.client();
    for i in 0..50 {
        c.cmd(&["SET", &format!("login:{i}"), "x"]).unwrap();
    }
    svc.add_local_app(admin, name, "standalone", node.port());
    Some(node)
}

#[test]
fn console_api_lists_pages_counts_and_previews() {
    let Some(setup) = Setup::new("sqlite") else {
        return;
    };
    let admin = setup.init_admin("root");
    let svc = setup.start(0, "");
    let Some(_shop) = redis_app(&svc, &admin, "shop") else {
        return;
    };
    let Some(_shelf) = redis_app(&svc, &admin, "shelf") else {
        return;
    };
    let alice = svc.add_user(&admin, "alice", "submitter");
    let bob = svc.add_user(&admin, "bob", "submitter");
    let submit = |token: &str, kind: &str, params: Value| -> i64 {
        svc.ok(
            "POST",
            "/tickets",
            token,
            Some(json!({"type": kind, "params": params})),
        )["id"]
            .as_i64()
            .unwrap()
    };
    let mut alice_ids = Vec::new();
    for i in 0..5 {
        let app = if i % 2 == 0 { "shop" } else { "shelf" };
        alice_ids.push(submit(
            &alice,
            "analysis",
            json!({"app": app, "top": 10 + i}),
        ));
    }
    let cleanup = submit(
        &bob,
        "cleanup",
        json!({"app": "shop", "patterns": [{"prefix": "login:"}]}),
    );
    let migration = submit(
        &bob,
        "migration",
        json!({"source": "shelf", "target": "shop"}),
    );
    svc.ok(
        "POST",
        &format!("/tickets/{cleanup}/reject"),
        &admin,
        Some(json!({"reason": "not now"})),
    );

    // Paging: newest first, the total in a header.
    let page = |query: &str, token: &str| -> (Vec<i64>, i64) {
        let a = http(&svc, "GET", &format!("/tickets{query}"), Some(token), None);
        assert_eq!(a.status, 200, "{query}: {}", a.text);
        let ids = a
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_i64().unwrap())
            .collect();
        (ids, a.header("x-total-count").parse().unwrap())
    };
    let (first, total) = page("?limit=3", &admin);
    assert_eq!(total, 7);
    assert_eq!(first, vec![migration, cleanup, alice_ids[4]]);
    let (second, _) = page("?limit=3&offset=3", &admin);
    assert_eq!(second, vec![alice_ids[3], alice_ids[2], alice_ids[1]]);
    let (last, _) = page("?limit=3&offset=6", &admin);
    assert_eq!(last, vec![alice_ids[0]]);
    // Filters: app (a migration names both its apps), type, state, submitter, dates.
    let (shelf, n) = page("?app=shelf", &admin);
    assert_eq!(n, 3);
    assert_eq!(shelf, vec![migration, alice_ids[3], alice_ids[1]]);
    assert_eq!(
        page("?app=sho", &admin).1,
        0,
        "an app filter is not a prefix match"
    );
    assert_eq!(page("?type=analysis&app=shop", &admin).1, 3);
    assert_eq!(page("?state=rejected", &admin).0, vec![cleanup]);
    assert_eq!(page("?submitter=bob", &admin).1, 2);
    let today = jobsvc::time::rfc3339(jobsvc::store::now_ms())[..10].to_string();
    assert_eq!(page(&format!("?since={today}&until={today}"), &admin).1, 7);
    assert_eq!(page("?until=2000-01-01", &admin).1, 0);
    assert_eq!(page("?since=2999-01-01T00:00:00Z", &admin).1, 0);
    // A submitter sees their own only, whatever the filter says.
    assert_eq!(page("", &alice).1, 5);
    assert_eq!(page("?submitter=bob", &alice).1, 0);
    for bad in [
        "?since=yesterday",
        "?limit=0",
        "?offset=-1",
        "?type=nope",
        "?colour=red",
    ] {
        let a = http(&svc, "GET", &format!("/tickets{bad}"), Some(&admin), None);
        assert_eq!(a.status, 400, "{bad}: {}", a.text);
        assert!(a.json()["error"].is_string());
    }

    // The summary: counts by state and type; what waits for an admin.
    let s = svc.ok("GET", "/tickets/summary", &admin, None);
    assert_eq!(s["total"], 7);
    assert_eq!(s["by_state"]["pending"], 6);
    assert_eq!(s["by_state"]["rejected"], 1);
    assert_eq!(s["by_type"]["analysis"], 5);
    assert_eq!(s["by_type"]["migration"], 1);
    assert_eq!(s["waiting_for_me"], 6);
    let mine = svc.ok("GET", "/tickets/summary", &bob, None);
    assert_eq!(mine["total"], 2);
    assert_eq!(mine["by_state"]["rejected"], 1);
    assert!(mine["waiting_for_me"].is_null());

    // The plan preview: the submission's checks and plan, nothing stored.
    let preview = svc.ok(
        "POST",
        "/tickets/plan",
        &alice,
        Some(json!({"type": "cleanup", "params": {"app": "shop", "patterns": [{"prefix": "login:"}]}})),
    );
    assert_eq!(preview["plan"]["keys"], 50, "{preview}");
    assert_eq!(preview["params"]["rate"], 1000);
    assert!(preview["params_hash"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    let filed = svc.ok("GET", &format!("/tickets/{cleanup}"), &admin, None);
    assert_eq!(
        preview["params_hash"], filed["params_hash"],
        "same params, same hash"
    );
    assert_eq!(page("", &admin).1, 7, "a preview files nothing");
    let (status, err) = svc.call(
        "POST",
        "/tickets/plan",
        &alice,
        Some(json!({"type": "cleanup", "params": {"app": "shop", "patterns": []}})),
    );
    assert_eq!(status, 400);
    assert!(err["error"].as_str().unwrap().contains("patterns"), "{err}");
    let (status, _) = svc.call(
        "POST",
        "/tickets/plan",
        &alice,
        Some(json!({"type": "cleanup", "params": {"app": "shop", "patterns": [{"glob": "*"}], "force": true}})),
    );
    assert_eq!(status, 403, "force is for admins");
}

#[test]
fn console_api_changes_roles_and_replaces_tokens() {
    let Some(setup) = Setup::new("sqlite") else {
        return;
    };
    let admin = setup.init_admin("root");
    let svc = setup.start(0, "");
    let carol = svc.add_user(&admin, "carol", "submitter");
    assert_eq!(http(&svc, "GET", "/users", Some(&carol), None).status, 403);
    let a = http(
        &svc,
        "PATCH",
        "/users/carol",
        Some(&admin),
        Some(json!({"role": "admin"})),
    );
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["role"], "admin");
    assert_eq!(http(&svc, "GET", "/users", Some(&carol), None).status, 200);
    // Not one's own role; not an unknown user or role; not a submitter.
    assert_eq!(
        http(
            &svc,
            "PATCH",
            "/users/root",
            Some(&admin),
            Some(json!({"role": "submitter"}))
        )
        .status,
        403
    );
    assert_eq!(
        http(
            &svc,
            "PATCH",
            "/users/nobody",
            Some(&admin),
            Some(json!({"role": "admin"}))
        )
        .status,
        404
    );
    assert_eq!(
        http(
            &svc,
            "PATCH",
            "/users/carol",
            Some(&admin),
            Some(json!({"role": "king"}))
        )
        .status,
        400
    );
    let dave = svc.add_user(&admin, "dave", "submitter");
    assert_eq!(
        http(
            &svc,
            "PATCH",
            "/users/carol",
            Some(&dave),
            Some(json!({"role": "submitter"}))
        )
        .status,
        403
    );
    // A replaced token stops working at once; the new one works.
    let a = http(&svc, "POST", "/users/dave/token", Some(&admin), None);
    assert_eq!(a.status, 200, "{}", a.text);
    let new = a.json()["token"].as_str().unwrap().to_string();
    assert_ne!(new, dave);
    assert_eq!(http(&svc, "GET", "/me", Some(&dave), None).status, 401);
    assert_eq!(svc.ok("GET", "/me", &new, None)["name"], "dave");
    assert_eq!(
        http(&svc, "POST", "/users/ghost/token", Some(&admin), None).status,
        404
    );
}

fn target_dir() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    // target/release/deps/integration-…
    exe.ancestors().nth(3).expect("target dir").to_path_buf()
}

/// The console in a headless Chromium, signed in as nobody yet.
struct Console {
    b: testkit::Browser,
    base: String,
    shots: usize,
}

impl Console {
    fn shot(&mut self, name: &str) {
        self.shots += 1;
        let path = target_dir().join(format!("console-{:02}-{name}.png", self.shots));
        self.b.screenshot(&path, false);
    }

    fn open(&mut self, hash: &str) {
        let js = format!(
            "location.hash = {}; true",
            serde_json::to_string(hash).unwrap()
        );
        self.b.eval(&js);
    }

    fn sign_in(&mut self, token: &str, name: &str) {
        self.b.wait_for_selector("#signin #token");
        self.b.type_into("#token", token);
        self.b.click("#signin-go");
        let js = format!(
            "(document.querySelector('#me') || {{}}).textContent?.startsWith({})",
            serde_json::to_string(name).unwrap()
        );
        self.b.wait_for(&js, "signed in");
    }

    fn sign_out(&mut self) {
        self.b.click("#signout");
        self.b.wait_for_selector("#signin #token");
        // The token is gone from the tab.
        let kept = self.b.eval("window['sess' + 'ionStorage'].length");
        assert_eq!(kept, json!(0));
    }

    fn text(&mut self, selector: &str) -> String {
        self.b.wait_for_selector(selector);
        self.b.text(selector).unwrap_or_default()
    }

    /// Waits for the ticket page of `id` in `state`.
    fn ticket_in(&mut self, id: i64, state: &str, secs_note: &str) {
        let js = format!(
            "(() => {{ const h = document.querySelector('#ticket-title'); return h && h.dataset.id === '{id}' && h.dataset.state === '{state}'; }})()"
        );
        self.b.wait_for(&js, secs_note);
    }

    /// The value of the plan's line `label` (inside `within`).
    fn plan_value(&mut self, within: &str, label: &str) -> String {
        let js = format!(
            "(() => {{ const dt = [...document.querySelectorAll({})].find(d => d.textContent === {}); return dt ? dt.nextElementSibling.textContent : null; }})()",
            serde_json::to_string(&format!("{within} #plan dt")).unwrap(),
            serde_json::to_string(label).unwrap()
        );
        self.b
            .wait_for(&js, label)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Asks the API for the plan of the form's parameters.
    fn preview(&mut self) {
        self.b.click("#preview-plan");
    }
}

const XSS_KEY: &str = "login:<script>window.__xss=1</script><img src=x onerror=window.__xss=3>";
const XSS_REASON: &str = "<script>window.__xss=2</script> too big, run at night";

#[test]
fn console_whole_flow_in_chromium() {
    let Some(chromium) = testkit::require_chromium() else {
        return;
    };
    let Some(setup) = Setup::new("sqlite") else {
        return;
    };
    let admin = setup.init_admin("root");
    let svc = setup.start(0, "");
    let Some(bin) = require_server(ServerKind::Redis70) else {
        return;
    };
    let node = bin.start(&[]).unwrap();
    {
        let mut c = node.client();
        // Few enough `login:` keys for the plan's sample (10) to hold them all.
        for i in 0..5 {
            c.cmd(&["SET", &format!("login:{i}"), "x"]).unwrap();
        }
        for i in 0..300 {
            c.cmd(&["HSET", &format!("user:{i}"), "name", "n"]).unwrap();
        }
        c.cmd(&["SET", XSS_KEY, "x"]).unwrap();
    }
    svc.add_local_app(&admin, "shop", "standalone", node.port());
    let alice = svc.add_user(&admin, "alice", "submitter");
    let bob = svc.add_user(&admin, "bob", "submitter");
    let bobs = svc.ok(
        "POST",
        "/tickets",
        &bob,
        Some(json!({"type": "hotkeys", "params": {"app": "shop", "duration_secs": 1}})),
    )["id"]
        .as_i64()
        .unwrap();

    let mut c = Console {
        b: testkit::Browser::launch(&chromium),
        base: format!("http://127.0.0.1:{}/", svc.port),
        shots: 0,
    };
    let base = c.base.clone();
    c.b.goto(&base);
    c.b.wait_for_selector("#signin #token");
    c.shot("signin");

    // A submitter signs in: their summary counts nothing pending yet.
    c.sign_in(&alice, "alice");
    c.b.wait_for_selector("#summary");
    // Bob's pending ticket is not hers: she counts only her own.
    assert_eq!(c.text("#count-pending .n"), "0");
    assert_eq!(c.text("#count-total .n"), "0");
    assert!(
        c.b.eval("document.querySelectorAll('#tickets tbody tr').length")
            .as_u64()
            == Some(0)
    );

    // She submits an analysis from the form made from the OpenAPI schema.
    c.open("#/submit/analysis");
    c.b.wait_for_selector("#submit-form[data-type='analysis'] #p-app");
    for field in [
        "p-file",
        "p-separators",
        "p-prefix_depth",
        "p-top",
        "p-keys_table",
        "p-loaded",
    ] {
        assert!(
            c.b.eval(&format!("!!document.getElementById('{field}')"))
                .as_bool()
                .unwrap(),
            "the analysis form has no {field}"
        );
    }
    c.b.type_into("#p-app", "shop");
    c.preview();
    c.b.wait_for_selector("#submit-ticket");
    assert!(
        c.text("#preview").contains("127.0.0.1"),
        "the plan names the node read"
    );
    c.shot("analysis-plan");
    c.b.click("#submit-ticket");
    c.b.wait_for(
        "document.querySelector('#ticket-title[data-state=pending]')",
        "analysis filed",
    );
    let analysis: i64 =
        c.b.eval("Number(document.querySelector('#ticket-title').dataset.id)")
            .as_i64()
            .unwrap();

    // A cleanup: the API's 400 lands at the field it names.
    c.open("#/submit/cleanup");
    c.b.wait_for_selector("#submit-form[data-type='cleanup'] #p-app");
    c.b.type_into("#p-app", "shop");
    c.preview();
    c.b.wait_for(
        "document.querySelector('#err-patterns').textContent",
        "error at patterns",
    );
    assert!(c.text("#err-patterns").contains("patterns"));
    c.shot("cleanup-field-error");
    c.b.type_into("#p-patterns-0-value", "login:");
    c.preview();
    c.b.wait_for_selector("#submit-ticket");
    assert_eq!(
        c.plan_value("#preview", "Keys"),
        "6",
        "the plan counts the login: keys"
    );
    c.b.click("#submit-ticket");
    c.b.wait_for(
        "document.querySelector('#ticket-title[data-state=pending]')",
        "cleanup filed",
    );
    let cleanup: i64 =
        c.b.eval("Number(document.querySelector('#ticket-title').dataset.id)")
            .as_i64()
            .unwrap();
    assert_ne!(cleanup, analysis);

    // Both pending in her list.
    c.open("#/tickets");
    c.b.wait_for(
        "document.querySelectorAll('#tickets tbody tr[data-state=pending]').length === 2",
        "two pending",
    );
    assert_eq!(c.text("#count-total .n"), "2");
    c.shot("submitter-list");

    // Bob's ticket: the API says 404 and the page says so.
    c.open(&format!("#/ticket/{bobs}"));
    assert!(c.text("#ticket-error").contains("404"));
    let (status, _) = svc.call("POST", &format!("/tickets/{bobs}/cancel"), &alice, None);
    assert_eq!(status, 404);
    let (status, _) = svc.call("POST", &format!("/tickets/{bobs}/approve"), &alice, None);
    assert_eq!(status, 404);
    let (status, _) = svc.call(
        "POST",
        &format!("/tickets/{analysis}/approve"),
        &alice,
        None,
    );
    assert_eq!(
        status, 403,
        "a submitter approves nothing, not even her own"
    );
    c.sign_out();

    // An admin: the summary counts every pending ticket, all waiting for them.
    c.sign_in(&admin, "root");
    c.b.wait_for_selector("#summary");
    assert_eq!(c.text("#count-pending .n"), "3");
    assert_eq!(c.text("#count-waiting .n"), "3");
    assert_eq!(c.text("#count-type-cleanup .n"), "1");
    c.shot("admin-summary");
    // The list's filters, paged by the server.
    c.b.eval("document.getElementById('f-type').value = 'cleanup'; true");
    c.b.click("#f-apply");
    c.b.wait_for("location.hash.includes('type=cleanup') && document.querySelectorAll('#tickets tbody tr').length === 1", "filtered");

    // The admin opens the cleanup, reads its plan (the hostile key is text).
    c.open(&format!("#/ticket/{cleanup}"));
    c.ticket_in(cleanup, "pending", "cleanup page");
    let plan = c.text("#plan");
    assert_eq!(c.plan_value("", "Keys"), "6");
    assert!(plan.contains("sha256:"), "the params hash: {plan}");
    assert!(plan.contains("127.0.0.1"), "the master: {plan}");
    assert!(
        plan.contains(XSS_KEY),
        "the sample keys show the hostile key as text: {plan}"
    );
    c.shot("admin-cleanup-plan");
    // Approving a cleanup asks for confirmation with a warning: it deletes
    // keys on a live node. Backing out changes nothing.
    c.b.click("#approve");
    c.b.wait_for_selector("dialog[open] .notice.bad");
    assert!(c.text("dialog[open] .notice.bad").contains("delete shop"));
    c.b.click("#dialog-cancel");
    c.b.wait_for("!document.querySelector('dialog[open]')", "dialog closed");
    assert_eq!(
        svc.ok("GET", &format!("/tickets/{cleanup}"), &admin, None)["state"],
        "pending"
    );
    // Rejecting needs a reason.
    c.b.click("#reject");
    c.b.wait_for_selector("dialog[open] #dialog-ok");
    c.b.click("#dialog-ok");
    c.b.wait_for(
        "document.querySelector('#dialog-error').textContent",
        "reason required",
    );
    c.b.type_into("#dialog-text", XSS_REASON);
    c.b.click("#dialog-ok");
    c.ticket_in(cleanup, "rejected", "rejected");
    assert!(c.text("#reject-reason").contains(XSS_REASON));
    assert_eq!(c.text("#handler"), "root");
    c.shot("admin-rejected");
    c.open("#/tickets");
    c.b.wait_for_selector("#summary");
    assert_eq!(c.text("#count-rejected .n"), "1");
    assert_eq!(c.text("#count-waiting .n"), "2");

    // The admin approves the analysis and watches it run to success.
    c.open(&format!("#/ticket/{analysis}"));
    c.ticket_in(analysis, "pending", "analysis page");
    c.b.click("#approve");
    c.b.wait_for_selector("dialog[open] #dialog-ok");
    c.b.click("#dialog-ok");
    c.b.wait_for("document.querySelector('#progress')", "progress shown");
    c.ticket_in(analysis, "succeeded", "analysis succeeded");
    assert!(
        c.text("#progress").contains("100"),
        "{}",
        c.text("#progress")
    );
    c.b.wait_for(
        "document.querySelector('#reports tr[data-file=\"keys.parquet\"]')",
        "report files",
    );
    c.b.wait_for(
        "(document.querySelector('#report-frame') || {getAttribute() { return ''; }}).getAttribute('src')?.startsWith('/report-view/')",
        "report frame",
    );
    assert_eq!(
        c.b.eval("document.querySelector('#report-frame').getAttribute('sandbox')"),
        json!("allow-scripts")
    );
    // The frame loaded the page through its one-use link.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !c.b.requests().iter().any(|u| u.contains("/report-view/")) {
        assert!(
            std::time::Instant::now() < deadline,
            "the frame never loaded the report"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(700));
    c.b.eval("document.getElementById('report-frame').scrollIntoView(); true");
    c.shot("admin-report");
    assert!(c.text("#audit").contains("succeeded"));

    // Users: the admin adds one; the token is shown once.
    c.open("#/users");
    c.b.type_into("#user-name", "carol");
    c.b.click("#user-add-go");
    let token = c.text("#new-token-value");
    assert!(token.starts_with("rdbs_"), "{token}");
    assert_eq!(svc.ok("GET", "/me", &token, None)["name"], "carol");
    c.shot("admin-users");
    // Carol becomes an admin from the page.
    c.b.eval("const s = document.getElementById('role-carol'); s.value = 'admin'; s.dispatchEvent(new Event('change')); true");
    c.b.wait_for(
        "document.getElementById('role-carol')?.value === 'admin'",
        "role changed",
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while svc.ok("GET", "/me", &token, None)["role"] != "admin" {
        assert!(
            std::time::Instant::now() < deadline,
            "carol is still a submitter"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Apps and nodes.
    c.open("#/apps/shop");
    c.b.wait_for_selector("#nodes");
    assert!(c.text("#nodes").contains(&node.port().to_string()));
    c.sign_out();

    // The submitter sees the reason, as text, in Chinese too.
    c.sign_in(&alice, "alice");
    c.open(&format!("#/ticket/{cleanup}"));
    c.ticket_in(cleanup, "rejected", "alice sees the rejection");
    assert!(c.text("#reject-reason").contains(XSS_REASON));
    c.b.click("#lang");
    c.b.wait_for(
        "document.querySelector('#ticket-title .state')?.textContent === '驳回'",
        "chinese state",
    );
    assert!(c.text("#reject-reason").contains("驳回原因"));
    c.shot("submitter-rejected-zh");
    // At phone width (in English: a test machine may lack CJK fonts).
    c.b.click("#lang");
    c.b.set_viewport(390, 844, true);
    c.open("#/tickets");
    c.b.wait_for_selector("#tickets");
    c.shot("phone-list");

    // Both languages have every word.
    let keys = c.b.eval(
        "import('/console/js/i18n.js').then(m => { const k = m.keys(); return [k.en.length, k.zh.length, k.en.filter(x => !k.zh.includes(x)).concat(k.zh.filter(x => !k.en.includes(x)))]; })",
    );
    assert_eq!(keys[0], keys[1], "{keys}");
    assert_eq!(keys[2], json!([]), "words in one language only");
    assert!(keys[0].as_u64().unwrap() > 100);

    // Nothing ran from the data, no CSP violation, no script error: the only
    // errors are the API's expected 404 for bob's ticket and 400 for the form.
    assert_eq!(c.b.eval("window.__xss === undefined"), json!(true));
    let errors: Vec<String> =
        c.b.console_errors()
            .into_iter()
            .filter(|e| {
                !(e.contains("Failed to load resource") && (e.contains("404") || e.contains("400")))
            })
            .collect();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    // Every request stayed on the service's origin (the token never in a URL).
    for url in c.b.requests() {
        assert!(url.starts_with(&base) || url.starts_with("data:"), "{url}");
        assert!(
            !url.contains(&alice) && !url.contains(&admin),
            "a token in {url}"
        );
    }
}
