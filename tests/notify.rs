//! Notifications as a receiver meets them: `rdbscope serve` as a child
//! process, a real HTTP server and a real SMTP server started here (std
//! sockets), tickets going through their lives on SQLite and PostgreSQL.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::service::{Service, Setup};

/// How the receiver answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// 200 with `{"errcode":0}` (what the robots answer).
    Ok,
    /// 500.
    Fail,
    /// Reads the request and closes the connection without an answer.
    Close,
    /// Reads the request and never answers.
    Hang,
}

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Request {
    path: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Request {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// A tiny HTTP/1.1 server on a loopback port, in a thread, that records
/// every request.
struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<Request>>>,
}

fn read_request(s: &mut TcpStream) -> Option<Request> {
    let mut r = BufReader::new(s.try_clone().ok()?);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    let n: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; n];
    r.read_exact(&mut body).ok()?;
    Some(Request {
        path,
        headers,
        body,
    })
}

impl Receiver {
    fn start(mode: Mode) -> Receiver {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                let g = g.clone();
                std::thread::spawn(move || {
                    let Some(req) = read_request(&mut s) else {
                        return;
                    };
                    g.lock().unwrap().push(req);
                    match mode {
                        Mode::Ok => {
                            let body = r#"{"errcode":0,"errmsg":"ok"}"#;
                            let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                        }
                        Mode::Fail => {
                            let body = "receiver broken";
                            let _ = write!(s, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                        }
                        Mode::Close => drop(s),
                        Mode::Hang => {
                            std::thread::sleep(Duration::from_secs(120));
                            drop(s);
                        }
                    }
                });
            }
        });
        Receiver { port, got }
    }

    fn requests(&self) -> Vec<Request> {
        self.got.lock().unwrap().clone()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Waits until `done` holds for the requests so far.
    fn wait(&self, what: &str, secs: u64, done: impl Fn(&[Request]) -> bool) -> Vec<Request> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let r = self.requests();
            if done(&r) {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: got {:?}",
                r.iter()
                    .map(|r| (r.path.clone(), r.json()))
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// One message the SMTP sink got.
#[derive(Clone, Debug)]
struct Mail {
    from: String,
    to: Vec<String>,
    data: String,
}

/// A minimal SMTP server (RFC 5321's EHLO, MAIL, RCPT, DATA, QUIT) on a
/// loopback port, recording each message.
struct SmtpSink {
    port: u16,
    got: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    fn start() -> SmtpSink {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(s) = s else { continue };
                let g = g.clone();
                std::thread::spawn(move || {
                    let _ = SmtpSink::serve(s, &g);
                });
            }
        });
        SmtpSink { port, got }
    }

    fn serve(mut s: TcpStream, got: &Mutex<Vec<Mail>>) -> std::io::Result<()> {
        let mut r = BufReader::new(s.try_clone()?);
        s.write_all(b"220 sink.test ESMTP\r\n")?;
        let (mut from, mut to) = (String::new(), Vec::new());
        loop {
            let mut line = String::new();
            if r.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let cmd = line.trim_end().to_string();
            let upper = cmd.to_ascii_uppercase();
            if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                s.write_all(b"250-sink.test\r\n250 8BITMIME\r\n")?;
            } else if upper.starts_with("MAIL FROM:") {
                from = cmd[10..].trim().to_string();
                s.write_all(b"250 OK\r\n")?;
            } else if upper.starts_with("RCPT TO:") {
                to.push(cmd[8..].trim().to_string());
                s.write_all(b"250 OK\r\n")?;
            } else if upper == "DATA" {
                s.write_all(b"354 go ahead\r\n")?;
                let mut data = String::new();
                loop {
                    let mut l = String::new();
                    if r.read_line(&mut l)? == 0 {
                        return Ok(());
                    }
                    if l == ".\r\n" {
                        break;
                    }
                    data.push_str(&l);
                }
                got.lock().unwrap().push(Mail {
                    from: std::mem::take(&mut from),
                    to: std::mem::take(&mut to),
                    data,
                });
                s.write_all(b"250 queued\r\n")?;
            } else if upper == "QUIT" {
                s.write_all(b"221 bye\r\n")?;
                return Ok(());
            } else if upper == "RSET" || upper == "NOOP" {
                s.write_all(b"250 OK\r\n")?;
            } else {
                s.write_all(b"502 not here\r\n")?;
            }
        }
    }

    fn mails(&self) -> Vec<Mail> {
        self.got.lock().unwrap().clone()
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Checks a webhook request's signature and timestamp headers against its body.
fn assert_signed(r: &Request, secret: &str) {
    let sig = r
        .headers
        .get("x-rdbscope-signature")
        .expect("a signature header");
    assert_eq!(
        sig,
        &format!("sha256={}", hex(&hmac_sha256(secret.as_bytes(), &r.body))),
        "bad signature on {}",
        String::from_utf8_lossy(&r.body)
    );
    let ts: i64 = r.headers["x-rdbscope-timestamp"].parse().unwrap();
    assert_eq!(r.json()["timestamp"], ts);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - ts).abs() < 300, "timestamp {ts} is not now ({now})");
    assert_eq!(
        r.headers["x-rdbscope-event"],
        r.json()["event"].as_str().unwrap()
    );
}

/// The events a ticket's webhook requests carry, in delivery order.
fn events_of(reqs: &[Request], id: i64) -> Vec<String> {
    let mut v: Vec<(i64, String)> = reqs
        .iter()
        .map(Request::json)
        .filter(|j| j["ticket"]["id"] == id)
        .map(|j| {
            (
                j["delivery"].as_i64().unwrap(),
                j["event"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, e)| e).collect()
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_rdbscope")
}

/// Runs `rdbscope notify ARGS` against `svc` as `token`; returns stdout.
fn cli(svc: &Service, token: &str, args: &[&str]) -> String {
    let out = Command::new(bin())
        .arg("notify")
        .args(args)
        .env("RDBSCOPE_SERVER", format!("http://127.0.0.1:{}", svc.port))
        .env("RDBSCOPE_TOKEN", token)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rdbscope notify {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn notify_config(extra: &str) -> String {
    format!(
        "allow_self_approval = false\n[notify]\npoll_ms = 50\nbackoff_secs = 1\nbackoff_max_secs = 1\nmax_attempts = 3\ntimeout_secs = 1\nbase_url = \"http://console.test\"\n{extra}"
    )
}

fn sample_rdb(setup: &Setup) -> String {
    let dest = setup.allowed.join("sample.rdb");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sample.rdb"),
        &dest,
    )
    .unwrap();
    dest.display().to_string()
}

fn submit(svc: &Service, token: &str, file: &str) -> i64 {
    svc.ok(
        "POST",
        "/tickets",
        token,
        Some(json!({"type": "analysis", "params": {"file": file}})),
    )["id"]
        .as_i64()
        .unwrap()
}

/// Every event of three tickets' lives (succeeded, rejected, failed)
/// reaches a signed webhook once, the robots' bodies have their
/// documented shapes, and a subscriber's e-mail reaches the SMTP sink. On
/// PostgreSQL two instances share the outbox: still once each.
fn lifecycle(backend: &str) {
    let Some(setup) = Setup::new(backend) else {
        return;
    };
    let hook = Receiver::start(Mode::Ok);
    let smtp = SmtpSink::start();
    let admin = setup.init_admin("root");
    let channels = format!(
        r#"
[[notify.channels]]
name = "hook"
kind = "webhook"
url = "{}"
secret = "s3cret"
events = ["*"]
[[notify.channels]]
name = "wecom"
kind = "wecom"
url = "{}"
events = ["succeeded"]
[[notify.channels]]
name = "ding"
kind = "dingtalk"
url = "{}"
secret = "SECding"
events = ["succeeded"]
[[notify.channels]]
name = "slack"
kind = "slack"
url = "{}"
events = ["succeeded"]
[[notify.channels]]
name = "mail"
kind = "email"
smtp = {{ host = "127.0.0.1", port = {}, from = "rdbscope <rdbscope@example.com>" }}
"#,
        hook.url("/hook"),
        hook.url("/wecom/send?key=abc"),
        hook.url("/ding/robot/send?access_token=t0k"),
        hook.url("/slack/T000/B000"),
        smtp.port
    );
    let config = notify_config(&channels);
    let svc = setup.start(1, &config);
    let second = (backend == "postgres").then(|| setup.start(2, &config));
    let alice = svc.add_user(&admin, "alice", "submitter");
    // alice subscribes herself by e-mail, through the CLI.
    cli(
        &svc,
        &alice,
        &[
            "subscribe",
            "--events",
            "approved,rejected",
            "--channel",
            "mail",
            "--address",
            "alice@example.com",
        ],
    );
    let subs: Value = serde_json::from_str(&cli(&svc, &alice, &["subs", "--json"])).unwrap();
    assert_eq!(subs.as_array().unwrap().len(), 1, "{subs}");
    assert_eq!(subs[0]["address"], "alice@example.com");
    // A submitter may not subscribe to every ticket.
    let (status, e) = svc.call(
        "POST",
        "/notify/subscriptions",
        &alice,
        Some(json!({"events": ["*"], "channel": "hook", "all_tickets": true})),
    );
    assert_eq!(status, 403, "{e}");

    let rdb = sample_rdb(&setup);
    let bad = setup.allowed.join("bad.rdb");
    std::fs::write(&bad, b"REDIS0010\xfa\x09redis-ver\xff\xff\xff").unwrap();

    // 1: approved, started, succeeded.
    let ok = submit(&svc, &alice, &rdb);
    svc.ok(
        "POST",
        &format!("/tickets/{ok}/approve"),
        &admin,
        Some(json!({"note": "fine"})),
    );
    let done = svc.wait_state(ok, &alice, &["succeeded", "failed"], 120);
    assert_eq!(done["state"], "succeeded", "{done}");
    // 2: rejected, with its reason.
    let no = submit(&svc, &alice, &rdb);
    svc.ok(
        "POST",
        &format!("/tickets/{no}/reject"),
        &admin,
        Some(json!({"reason": "not this week"})),
    );
    // 3: failed, with its error.
    let fails = submit(&svc, &alice, &bad.display().to_string());
    svc.ok("POST", &format!("/tickets/{fails}/approve"), &admin, None);
    svc.wait_state(fails, &alice, &["failed"], 60);

    let reqs = hook.wait("every event of the three tickets", 60, |r| {
        let hooks: Vec<Request> = r.iter().filter(|q| q.path == "/hook").cloned().collect();
        events_of(&hooks, ok).contains(&"succeeded".to_string())
            && events_of(&hooks, no).contains(&"rejected".to_string())
            && events_of(&hooks, fails).contains(&"failed".to_string())
            && r.iter().filter(|q| q.path != "/hook").count() >= 3
    });
    let hooks: Vec<Request> = reqs.iter().filter(|q| q.path == "/hook").cloned().collect();
    for r in &hooks {
        assert_signed(r, "s3cret");
    }
    assert_eq!(
        events_of(&hooks, ok),
        [
            "submitted",
            "needs_approval",
            "approved",
            "started",
            "succeeded"
        ]
    );
    assert_eq!(
        events_of(&hooks, no),
        ["submitted", "needs_approval", "rejected"]
    );
    assert_eq!(
        events_of(&hooks, fails),
        [
            "submitted",
            "needs_approval",
            "approved",
            "started",
            "failed"
        ]
    );
    let by = |id: i64, event: &str| -> Value {
        hooks
            .iter()
            .map(Request::json)
            .find(|j| j["ticket"]["id"] == id && j["event"] == event)
            .unwrap()
    };
    let approved = by(ok, "approved");
    assert_eq!(approved["actor"], "root");
    assert_eq!(approved["note"], "fine");
    assert_eq!(approved["ticket"]["kind"], "analysis");
    assert_eq!(approved["ticket"]["state"], "approved");
    assert_eq!(approved["ticket"]["submitter"], "alice");
    assert_eq!(
        approved["ticket"]["url"],
        format!("http://console.test/#/ticket/{ok}")
    );
    assert_eq!(by(ok, "needs_approval")["users"], json!(["root"]));
    assert_eq!(by(ok, "started")["actor"], "scheduler");
    assert_eq!(by(ok, "succeeded")["ticket"]["state"], "succeeded");
    // The audit's note of the decision: who rejected, and the reason.
    let rejected = by(no, "rejected");
    assert!(
        rejected["note"]
            .as_str()
            .is_some_and(|n| n.ends_with("not this week")),
        "{rejected}"
    );
    assert!(by(fails, "failed")["note"]
        .as_str()
        .unwrap()
        .contains("offset"));

    // The robots got their documented bodies for the success.
    let robot = |prefix: &str| -> Request {
        let r: Vec<_> = reqs.iter().filter(|q| q.path.starts_with(prefix)).collect();
        assert_eq!(r.len(), 1, "{prefix}: {r:?}");
        r[0].clone()
    };
    let wecom = robot("/wecom/").json();
    assert_eq!(wecom["msgtype"], "markdown");
    let content = wecom["markdown"]["content"].as_str().unwrap();
    assert!(
        content.contains(&format!("#{ok}")) && content.contains("succeeded"),
        "{content}"
    );
    let ding = robot("/ding/");
    let query: BTreeMap<&str, &str> = ding
        .path
        .split_once('?')
        .unwrap()
        .1
        .split('&')
        .map(|kv| kv.split_once('=').unwrap())
        .collect();
    assert_eq!(query["access_token"], "t0k");
    let ts = query["timestamp"];
    let want = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .encode(hmac_sha256(b"SECding", format!("{ts}\nSECding").as_bytes()))
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    };
    assert_eq!(query["sign"], want);
    let ding = ding.json();
    assert_eq!(ding["msgtype"], "markdown");
    assert!(
        ding["markdown"]["title"]
            .as_str()
            .unwrap()
            .contains("succeeded"),
        "{ding}"
    );
    assert!(
        ding["markdown"]["text"]
            .as_str()
            .unwrap()
            .contains(&format!("/#/ticket/{ok}")),
        "{ding}"
    );
    let slack = robot("/slack/").json();
    let text = slack["text"].as_str().unwrap();
    assert!(
        text.contains("succeeded") && text.contains(&format!("|open ticket #{ok}>")),
        "{slack}"
    );

    // alice's e-mails: approved (ticket 1 and 3) and rejected (ticket 2).
    let deadline = Instant::now() + Duration::from_secs(30);
    while smtp.mails().len() < 3 {
        assert!(Instant::now() < deadline, "mails: {:?}", smtp.mails());
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let mails = smtp.mails();
    assert_eq!(mails.len(), 3, "{mails:?}");
    for m in &mails {
        assert_eq!(m.from, "<rdbscope@example.com>");
        assert_eq!(m.to, ["<alice@example.com>"]);
        assert!(m.data.contains("To: alice@example.com"), "{}", m.data);
        assert!(
            m.data.contains("From: rdbscope <rdbscope@example.com>"),
            "{}",
            m.data
        );
    }
    let rejected = mails
        .iter()
        .find(|m| {
            m.data.contains(&format!(
                "Subject: rdbscope ticket #{no} (analysis) rejected by root"
            ))
        })
        .unwrap_or_else(|| panic!("{mails:?}"));
    assert!(
        rejected
            .data
            .lines()
            .any(|l| l.starts_with("Note: ") && l.trim_end().ends_with("not this week")),
        "{}",
        rejected.data
    );

    // Once each, even with two instances sharing the outbox.
    let mut ids: Vec<i64> = hooks
        .iter()
        .map(|r| r.json()["delivery"].as_i64().unwrap())
        .collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "a delivery was sent twice");
    let sent = svc.ok(
        "GET",
        "/notify/deliveries?channel=hook&state=sent",
        &admin,
        None,
    );
    assert_eq!(sent.as_array().unwrap().len(), n, "{sent}");
    let channels = svc.ok("GET", "/notify/channels", &admin, None);
    let hook_health = channels
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "hook")
        .unwrap();
    assert_eq!(hook_health["health"]["state"], "ok", "{hook_health}");
    assert_eq!(hook_health["health"]["sent"], n, "{hook_health}");
    assert_eq!(hook_health["has_secret"], true);
    assert!(hook_health.get("secret").is_none(), "{hook_health}");
    drop(second);
}

/// Receivers that answer 500, close the connection or never answer hold
/// up neither the job nor the API: the job finishes, the outbox shows the
/// retries and the errors, the channel list shows them failing, and the
/// deliveries are given up after `max_attempts`.
fn failing_receivers(backend: &str) {
    let Some(setup) = Setup::new(backend) else {
        return;
    };
    let broken = Receiver::start(Mode::Fail);
    let closer = Receiver::start(Mode::Close);
    let hang = Receiver::start(Mode::Hang);
    let admin = setup.init_admin("root");
    let svc = setup.start(1, &notify_config(""));
    let alice = svc.add_user(&admin, "alice", "submitter");
    for (name, r) in [("broken", &broken), ("closer", &closer), ("hang", &hang)] {
        cli(
            &svc,
            &admin,
            &[
                "channel-set",
                name,
                "--kind",
                "webhook",
                "--url",
                &r.url("/x"),
                "--secret",
                "k",
                "--events",
                "started,succeeded",
            ],
        );
    }
    let rdb = sample_rdb(&setup);
    let id = submit(&svc, &alice, &rdb);
    let started = Instant::now();
    svc.ok("POST", &format!("/tickets/{id}/approve"), &admin, None);
    let done = svc.wait_state(id, &alice, &["succeeded", "failed"], 120);
    assert_eq!(done["state"], "succeeded", "{done}");
    // Each receiver was tried more than once (retries with backoff).
    for r in [&broken, &closer, &hang] {
        r.wait("retries", 60, |q| q.len() >= 3);
    }
    assert!(started.elapsed() < Duration::from_secs(100));
    // Given up after max_attempts (3) per delivery: 2 events × 3 attempts.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let dead = svc.ok("GET", "/notify/deliveries?state=dead", &admin, None);
        if dead.as_array().unwrap().len() == 6 {
            for d in dead.as_array().unwrap() {
                assert_eq!(d["attempts"], 3, "{d}");
                let err = d["last_error"].as_str().unwrap();
                match d["channel"].as_str().unwrap() {
                    "broken" => assert!(err.contains("HTTP 500"), "{err}"),
                    "closer" | "hang" => assert!(!err.is_empty()),
                    other => panic!("{other}"),
                }
            }
            break;
        }
        assert!(Instant::now() < deadline, "not given up: {dead}");
        std::thread::sleep(Duration::from_millis(200));
    }
    for r in [&broken, &closer, &hang] {
        assert_eq!(r.requests().len(), 6, "3 attempts of 2 deliveries");
    }
    let list: Value = serde_json::from_str(&cli(&svc, &admin, &["channels", "--json"])).unwrap();
    for c in list.as_array().unwrap() {
        assert_eq!(c["source"], "api");
        assert_eq!(c["health"]["state"], "failing", "{c}");
        assert_eq!(c["health"]["failures_in_row"], 6, "{c}");
        assert!(c["health"]["last_error"].is_string(), "{c}");
    }
    let table = cli(&svc, &admin, &["deliveries", "--state", "dead"]);
    assert!(table.contains("HTTP 500"), "{table}");
    // The ticket is untouched, and a submitter sees channels without URLs.
    assert_eq!(
        svc.ok("GET", &format!("/tickets/{id}"), &alice, None)["state"],
        "succeeded"
    );
    let seen = svc.ok("GET", "/notify/channels", &alice, None);
    assert!(seen[0].get("url").is_none(), "{seen}");
    assert_eq!(svc.call("GET", "/notify/deliveries", &alice, None).0, 403);
}

/// A ticket waiting for approval: a reminder to the approvers, then an
/// escalation to every admin, each once, also across a restart.
fn reminders(backend: &str) {
    let Some(setup) = Setup::new(backend) else {
        return;
    };
    let hook = Receiver::start(Mode::Ok);
    let admin = setup.init_admin("root");
    let config = notify_config(&format!(
        "remind_after_secs = 1\nescalate_after_secs = 2\n[[notify.channels]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\n",
        hook.url("/h")
    ));
    let mut svc = setup.start(1, &config);
    let alice = svc.add_user(&admin, "alice", "submitter");
    svc.add_user(&admin, "boss", "admin");
    // Admins want reminders and escalations of every ticket on the hook.
    svc.ok(
        "POST",
        "/notify/subscriptions",
        &admin,
        Some(json!({"events": ["approval_reminder", "approval_escalation"], "channel": "hook", "all_tickets": true})),
    );
    let rdb = sample_rdb(&setup);
    let id = submit(&svc, &alice, &rdb);
    let kinds = |r: &[Request]| -> Vec<String> {
        r.iter()
            .map(|q| q.json()["event"].as_str().unwrap().to_string())
            .collect()
    };
    hook.wait("reminder and escalation", 30, |r| kinds(r).len() >= 2);
    svc.kill();
    std::thread::sleep(Duration::from_secs(1));
    let svc = setup.start(1, &config);
    std::thread::sleep(Duration::from_secs(3));
    let got = hook.requests();
    let mut k = kinds(&got);
    k.sort();
    assert_eq!(k, ["approval_escalation", "approval_reminder"], "once each");
    for r in &got {
        let j = r.json();
        assert_eq!(j["ticket"]["id"], id);
        assert_eq!(j["ticket"]["state"], "pending");
        assert!(
            !r.headers.contains_key("x-rdbscope-signature"),
            "no secret, no signature"
        );
        let users = j["users"].as_array().unwrap();
        match j["event"].as_str().unwrap() {
            "approval_reminder" => assert_eq!(users.len(), 2, "{j}"),
            _ => assert_eq!(j["users"], json!(["boss", "root"]), "{j}"),
        }
    }
    // Once decided, no more reminders.
    svc.ok("POST", &format!("/tickets/{id}/cancel"), &alice, None);
}

/// An approved ticket held by its app's closed maintenance window tells
/// its submitter once that it is paused, and why.
fn window_pause(backend: &str) {
    let Some((setup, bin)) = super::service::setup_and_redis(backend) else {
        return;
    };
    let node = bin.start(&[]).unwrap();
    let hook = Receiver::start(Mode::Ok);
    let admin = setup.init_admin("root");
    let svc = setup.start(
        1,
        &notify_config(&format!(
            "[[notify.channels]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\n",
            hook.url("/h")
        )),
    );
    let alice = svc.add_user(&admin, "alice", "submitter");
    cli(
        &svc,
        &alice,
        &["subscribe", "--events", "paused", "--channel", "hook"],
    );
    // A window that opens in two hours and closes in three (UTC).
    let hour = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 3600
        % 24;
    let window = format!("{:02}:00-{:02}:00", (hour + 2) % 24, (hour + 3) % 24);
    svc.ok(
        "POST",
        "/apps",
        &admin,
        Some(json!({"name": "shop", "kind": "standalone", "addr": format!("127.0.0.1:{}", node.port()), "maintenance_window": window})),
    );
    let id = svc.ok(
        "POST",
        "/tickets",
        &alice,
        Some(json!({"type": "analysis", "params": {"app": "shop"}})),
    )["id"]
        .as_i64()
        .unwrap();
    svc.ok("POST", &format!("/tickets/{id}/approve"), &admin, None);
    let got = hook.wait("the pause", 30, |r| !r.is_empty());
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(hook.requests().len(), 1, "told once");
    let j = got[0].json();
    assert_eq!(j["event"], "paused");
    assert_eq!(j["ticket"]["id"], id);
    assert_eq!(j["ticket"]["state"], "approved");
    let why = j["note"].as_str().unwrap();
    assert!(
        why.contains(&format!("maintenance window {window}")) && why.contains("shop"),
        "{why}"
    );
    assert_eq!(
        svc.ok("GET", &format!("/tickets/{id}"), &alice, None)["state"],
        "approved"
    );
}

/// A cleanup paused by a fork on its node (a slow BGSAVE) tells its
/// submitter once, with the reason, and still finishes.
fn fork_pause(backend: &str) {
    let Some((setup, bin)) = super::service::setup_and_redis(backend) else {
        return;
    };
    let node = bin.start(&[]).unwrap();
    let cmds: Vec<Vec<Vec<u8>>> = (0..1000)
        .map(|i| testkit::cmd_args!["SET", format!("p:{i}"), "v"])
        .collect();
    node.client().pipeline_must(&cmds);
    let hook = Receiver::start(Mode::Ok);
    let admin = setup.init_admin("root");
    let svc = setup.start(
        1,
        &notify_config(&format!(
            "[[notify.channels]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\nevents = [\"paused\", \"succeeded\"]\n",
            hook.url("/h")
        )),
    );
    let alice = svc.add_user(&admin, "alice", "submitter");
    svc.add_local_app(&admin, "one", "standalone", node.port());
    let id = svc.ok(
        "POST",
        "/tickets",
        &alice,
        Some(json!({"type": "cleanup", "params": {"app": "one", "patterns": [{"prefix": "p:"}], "rate": 10000}})),
    )["id"]
        .as_i64()
        .unwrap();
    // About 2 s of BGSAVE: 2 ms per key.
    let mut c = node.client();
    c.must(&["CONFIG", "SET", "rdb-key-save-delay", "2000"]);
    c.must(&["BGSAVE"]);
    svc.ok("POST", &format!("/tickets/{id}/approve"), &admin, None);
    let done = svc.wait_state(id, &alice, &["succeeded", "failed"], 60);
    assert_eq!(done["state"], "succeeded", "{done}");
    let got = hook.wait("paused and succeeded", 30, |r| r.len() >= 2);
    let events: Vec<Value> = got.iter().map(Request::json).collect();
    let paused: Vec<&Value> = events.iter().filter(|e| e["event"] == "paused").collect();
    assert_eq!(paused.len(), 1, "once per attempt and reason: {events:?}");
    assert!(
        paused[0]["note"].as_str().unwrap().contains("fork"),
        "{events:?}"
    );
    assert_eq!(paused[0]["ticket"]["state"], "running");
    assert_eq!(paused[0]["actor"], "worker");
}

#[test]
fn notify_sqlite_fork_pause() {
    fork_pause("sqlite");
}

#[test]
fn notify_sqlite_window_pause() {
    window_pause("sqlite");
}

#[test]
fn notify_sqlite_lifecycle() {
    lifecycle("sqlite");
}

#[test]
fn notify_postgres_lifecycle_two_instances() {
    lifecycle("postgres");
}

#[test]
fn notify_sqlite_failing_receivers() {
    failing_receivers("sqlite");
}

#[test]
fn notify_postgres_failing_receivers() {
    failing_receivers("postgres");
}

#[test]
fn notify_sqlite_reminders() {
    reminders("sqlite");
}

#[test]
fn notify_postgres_reminders() {
    reminders("postgres");
}
