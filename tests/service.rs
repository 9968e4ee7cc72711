//! The job service as a user meets it: `rdbscope serve` as a child process,
//! real Redis nodes, the HTTP API. Each scenario runs on SQLite and on
//! PostgreSQL (two instances sharing the queue).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use testkit::{require_server, Client, RedisServer, ServerBin, ServerKind, TempDir};

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_rdbscope")
}

/// A `rdbscope serve` child process, killed on drop.
pub(crate) struct Service {
    child: Option<Child>,
    pub(crate) port: u16,
    log: PathBuf,
}

/// Everything a scenario needs to start (and restart) instances.
pub(crate) struct Setup {
    pub(crate) dir: TempDir,
    pub(crate) store: String,
    pub(crate) allowed: PathBuf,
    pub(crate) reports: PathBuf,
    pub(crate) pg: Option<testkit::Postgres>,
}

impl Setup {
    pub(crate) fn new(backend: &str) -> Option<Setup> {
        let dir = testkit::temp_dir("service");
        let allowed = dir.join("allowed");
        std::fs::create_dir_all(&allowed).unwrap();
        let reports = dir.join("reports");
        let (store, pg) = match backend {
            "sqlite" => (format!("sqlite://{}", dir.join("jobs.db").display()), None),
            _ => {
                let pg = testkit::require_postgres()?
                    .start()
                    .expect("start postgres");
                (pg.url(), Some(pg))
            }
        };
        Some(Setup {
            dir,
            store,
            allowed,
            reports,
            pg,
        })
    }

    /// Writes instance `n`'s config (own data dir, shared store and reports).
    pub(crate) fn config(&self, n: usize, extra: &str) -> (PathBuf, u16) {
        self.config_with_store(n, extra, &self.store)
    }

    /// Instance `n`'s config with its own store URL (e.g. through a proxy).
    pub(crate) fn config_with_store(&self, n: usize, extra: &str, store: &str) -> (PathBuf, u16) {
        let port = free_port();
        let data = self.dir.join(format!("data{n}"));
        let path = self.dir.join(format!("config{n}.toml"));
        std::fs::write(
            &path,
            format!(
                "listen = \"127.0.0.1:{port}\"\ndata_dir = \"{}\"\nreports_dir = \"{}\"\nstore = \"{}\"\nallowed_dirs = [\"{}\"]\npoll_ms = 100\nlease_secs = 3\nretry_backoff_secs = 1\n{extra}",
                data.display(),
                self.reports.display(),
                store,
                self.allowed.display()
            ),
        )
        .unwrap();
        (path, port)
    }

    pub(crate) fn init_admin(&self, name: &str) -> String {
        let (config, _) = self.config(0, "");
        let out = Command::new(bin())
            .args(["serve", "--config"])
            .arg(&config)
            .args(["--init-admin", name])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "init-admin: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let token = text
            .split_whitespace()
            .find(|w| w.starts_with("rdbs_"))
            .unwrap_or_else(|| panic!("no token in {text:?}"))
            .trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .to_string();
        token
    }

    pub(crate) fn start(&self, n: usize, extra: &str) -> Service {
        self.start_with_store(n, extra, &self.store)
    }

    /// Starts instance `n` on its own store URL.
    pub(crate) fn start_with_store(&self, n: usize, extra: &str, store: &str) -> Service {
        let (config, port) = self.config_with_store(n, extra, store);
        let log = self.dir.join(format!("serve{n}.log"));
        let child = Command::new(bin())
            .args(["serve", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let svc = Service {
            child: Some(child),
            port,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((200, _)) = svc.try_call("GET", "/healthz", None, None) {
                return svc;
            }
            assert!(
                Instant::now() < deadline,
                "service did not start: {}",
                svc.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Service {
    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub(crate) fn try_call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let auth = token.map(|t| format!("Bearer {t}"));
        let resp = match method {
            "GET" | "DELETE" => {
                let mut r = if method == "GET" {
                    agent.get(&url)
                } else {
                    agent.delete(&url)
                };
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            }
            _ => {
                let mut r = match method {
                    "PUT" => agent.put(&url),
                    "PATCH" => agent.patch(&url),
                    _ => agent.post(&url),
                };
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                match body {
                    Some(b) => r
                        .header("Content-Type", "application/json")
                        .send(b.to_string()),
                    None => r.send_empty(),
                }
            }
        };
        let mut resp = resp.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())?;
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, value))
    }

    pub(crate) fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.try_call(method, path, Some(token), body.as_ref())
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.log_text()))
    }

    pub(crate) fn ok(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
        let (status, v) = self.call(method, path, token, body);
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {v}"
        );
        v
    }

    /// How many items a list endpoint returns.
    pub(crate) fn count(&self, path: &str, token: &str) -> usize {
        self.ok("GET", path, token, None).as_array().unwrap().len()
    }

    /// Creates a user (as `admin`) and returns their token.
    pub(crate) fn add_user(&self, admin: &str, name: &str, role: &str) -> String {
        self.ok(
            "POST",
            "/users",
            admin,
            Some(json!({"name": name, "role": role})),
        )["token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Registers an app (as `admin`) and returns it as the API shows it.
    pub(crate) fn add_app(&self, admin: &str, name: &str, kind: &str, addr: String) -> Value {
        self.ok(
            "POST",
            "/apps",
            admin,
            Some(json!({"name": name, "kind": kind, "addr": addr})),
        )
    }

    /// Registers a node on 127.0.0.1 as an app (as `admin`).
    pub(crate) fn add_local_app(&self, admin: &str, name: &str, kind: &str, port: u16) -> Value {
        self.add_app(admin, name, kind, format!("127.0.0.1:{port}"))
    }

    pub(crate) fn bytes(&self, path: &str, token: &str) -> Vec<u8> {
        let mut resp = ureq::get(&format!("http://127.0.0.1:{}{path}", self.port))
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .unwrap();
        resp.body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .unwrap()
    }

    pub(crate) fn wait_state(&self, id: i64, token: &str, states: &[&str], secs: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let t = self.ok("GET", &format!("/tickets/{id}"), token, None);
            if states.contains(&t["state"].as_str().unwrap()) {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "ticket {id} stuck in {}: {t}\n{}",
                t["state"],
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

pub(crate) fn master_with_replica() -> Option<(RedisServer, RedisServer)> {
    let bin = require_server(ServerKind::Redis70)?;
    let master = bin.start(&["--repl-diskless-sync", "no"]).unwrap();
    let mut c = master.client();
    let cmds: Vec<Vec<Vec<u8>>> = (0..3000)
        .map(|i| match i % 4 {
            0 => testkit::cmd_args!["SET", format!("user:{i}:name"), format!("name-{i}")],
            1 => testkit::cmd_args!["HSET", format!("user:{i}:profile"), "a", "1", "b", "2"],
            2 => testkit::cmd_args!["RPUSH", format!("queue:{i}"), "x", "y", "z"],
            _ => testkit::cmd_args!["SET", format!("login:{i}"), "s", "EX", "3600"],
        })
        .collect();
    c.pipeline_must(&cmds);
    let replica = bin
        .start(&["--replicaof", "127.0.0.1", &master.port().to_string()])
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info = replica.client().must(&["INFO", "replication"]);
        if info
            .as_str()
            .unwrap_or_default()
            .contains("master_link_status:up")
        {
            break;
        }
        assert!(Instant::now() < deadline, "replica did not sync");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some((master, replica))
}

/// A setup on `backend` and the Redis 7.0 binary; None (the test is
/// skipped) when either is missing.
pub(crate) fn setup_and_redis(backend: &str) -> Option<(Setup, ServerBin)> {
    let setup = Setup::new(backend)?;
    let bin = require_server(ServerKind::Redis70)?;
    Some((setup, bin))
}

/// A node holding `keys` small strings whose replication (diskless, after
/// a 4 s delay) keeps a fetch waiting: the window in which a service is
/// killed mid-job.
pub(crate) fn slow_fetch_node(bin: &ServerBin, keys: usize) -> RedisServer {
    let node = bin
        .start(&[
            "--repl-diskless-sync",
            "yes",
            "--repl-diskless-sync-delay",
            "4",
        ])
        .unwrap();
    let cmds: Vec<Vec<Vec<u8>>> = (0..keys)
        .map(|i| testkit::cmd_args!["SET", format!("k{i}"), "v"])
        .collect();
    node.client().pipeline_must(&cmds);
    node
}

/// Every key SCAN returns in the connection's db, each handed to `each`
/// with the connection.
pub(crate) fn scan_keys(c: &mut Client, mut each: impl FnMut(&mut Client, Vec<u8>)) {
    let mut cursor = b"0".to_vec();
    loop {
        let r = c.must(&[&b"SCAN"[..], &cursor, b"COUNT", b"1000"]);
        let parts = r.as_array().unwrap();
        cursor = parts[0].as_bytes().unwrap().to_vec();
        for k in parts[1].as_array().unwrap() {
            each(c, k.as_bytes().unwrap().to_vec());
        }
        if cursor == b"0" {
            break;
        }
    }
}

fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The cluster slot of a key (hash tags honoured).
pub(crate) fn slot(key: &[u8]) -> u16 {
    let tagged = key.iter().position(|&b| b == b'{').and_then(|s| {
        let e = key[s + 1..].iter().position(|&b| b == b'}')?;
        (e > 0).then(|| &key[s + 1..s + 1 + e])
    });
    crc16(tagged.unwrap_or(key)) % 16384
}

pub(crate) fn dbsize(s: &RedisServer) -> u64 {
    s.client().must(&["DBSIZE"]).as_int().unwrap() as u64
}

/// Every file under `dir` with its size: (path relative to `dir`, bytes),
/// sorted; empty when `dir` does not exist.
pub(crate) fn files_under(dir: &std::path::Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let name = p.strip_prefix(dir).unwrap_or(&p).display().to_string();
                out.push((name, e.metadata().map_or(0, |m| m.len())));
            }
        }
    }
    out.sort();
    out
}

pub(crate) fn audit_steps(svc: &Service, id: i64, token: &str) -> Vec<(String, String, String)> {
    svc.ok("GET", &format!("/tickets/{id}/audit"), token, None)
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["from"].as_str().unwrap_or("-").to_string(),
                a["to"].as_str().unwrap().to_string(),
                a["actor"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The README's path: register a live app, file an analysis ticket as a
/// submitter, approve as an admin, download the report.
fn analysis_of_a_live_app(backend: &str) {
    let Some(setup) = Setup::new(backend) else {
        return;
    };
    let Some((master, replica)) = master_with_replica() else {
        return;
    };
    let admin = setup.init_admin("root");
    let svc = setup.start(1, "");
    let alice = svc.add_user(&admin, "alice", "submitter");
    let app = svc.add_local_app(&admin, "shop", "replicated", master.port());
    let nodes = app["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2, "{app}");
    assert_eq!(nodes[1]["role"], "replica");
    assert_eq!(nodes[1]["addr"], format!("127.0.0.1:{}", replica.port()));
    assert_eq!(app["has_password"], false);

    let t = svc.ok(
        "POST",
        "/tickets",
        &alice,
        Some(json!({"type": "analysis", "params": {"app": "shop"}})),
    );
    let id = t["id"].as_i64().unwrap();
    assert_eq!(t["state"], "pending");
    assert_eq!(
        t["plan"]["reads"][0]["read_from"],
        format!("127.0.0.1:{}", replica.port())
    );
    // Nothing runs before approval.
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        svc.ok("GET", &format!("/tickets/{id}"), &alice, None)["state"],
        "pending"
    );
    let (status, e) = svc.call("POST", &format!("/tickets/{id}/approve"), &alice, None);
    assert_eq!(status, 403, "{e}");
    assert!(e["error"].as_str().unwrap().contains("submitter"), "{e}");
    let approved = svc.ok(
        "POST",
        &format!("/tickets/{id}/approve"),
        &admin,
        Some(json!({"note": "fine"})),
    );
    assert_eq!(approved["handler"], "root");
    let done = svc.wait_state(id, &alice, &["succeeded", "failed"], 120);
    assert_eq!(done["state"], "succeeded", "{done}");
    let expected = dbsize(&master);
    assert_eq!(done["result"]["keys"], expected, "{done}");
    let source = &done["result"]["sources"][0];
    assert_eq!(source["role"], "replica", "{done}");
    assert_eq!(source["addr"], format!("127.0.0.1:{}", replica.port()));
    assert_eq!(done["progress"]["percent"], 100.0);

    let files: Vec<String> = svc
        .ok("GET", &format!("/tickets/{id}/report"), &alice, None)
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    for f in [
        "keys.parquet",
        "summary.json",
        "summary.txt",
        "prefixes.parquet",
    ] {
        assert!(files.contains(&f.to_string()), "{f} missing from {files:?}");
    }
    let summary: Value =
        serde_json::from_slice(&svc.bytes(&format!("/tickets/{id}/report/summary.json"), &alice))
            .unwrap();
    assert_eq!(summary["totals"]["keys"], expected, "{}", summary["totals"]);
    let parquet = svc.bytes(&format!("/tickets/{id}/report/keys.parquet"), &alice);
    assert!(parquet.starts_with(b"PAR1") && parquet.ends_with(b"PAR1"));
    let (status, _) = svc.call(
        "GET",
        &format!("/tickets/{id}/report/..%2Fjobs.db"),
        &alice,
        None,
    );
    assert!(status == 400 || status == 404, "{status}");

    assert_eq!(
        audit_steps(&svc, id, &alice),
        vec![
            ("-".into(), "pending".into(), "alice".into()),
            ("pending".into(), "approved".into(), "root".into()),
            ("approved".into(), "running".into(), "scheduler".into()),
            ("running".into(), "succeeded".into(), "worker".into()),
        ]
    );
    // Another submitter sees nothing of alice's ticket.
    let bob = svc.add_user(&admin, "bob", "submitter");
    assert_eq!(
        svc.call("GET", &format!("/tickets/{id}"), &bob, None).0,
        404
    );
    assert_eq!(svc.count("/tickets", &bob), 0);
    let metrics = svc.try_call("GET", "/metrics", None, None).unwrap().1;
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains("rdbscope_tickets{state=\"succeeded\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("rdbscope_keys_touched_total {expected}")),
        "{metrics}"
    );
}

/// Bad requests get 4xx JSON errors and change nothing.
fn bad_requests(backend: &str) {
    let Some((setup, bin)) = setup_and_redis(backend) else {
        return;
    };
    let node = bin.start(&[]).unwrap();
    let admin = setup.init_admin("root");
    let svc = setup.start(1, "");
    let alice = svc.add_user(&admin, "alice", "submitter");
    svc.add_local_app(&admin, "one", "standalone", node.port());
    let rdb = setup.allowed.join("x.rdb");
    std::fs::copy(testkit::workspace_root().join("testdata/sample.rdb"), &rdb).unwrap();
    // (method, path, token, body, expected status)
    type Case<'a> = (&'a str, &'a str, Option<&'a str>, Option<Value>, u16);
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/tickets",
            Some(&alice),
            Some(json!({"type": "defrag", "params": {}})),
            400,
        ),
        (
            "POST",
            "/tickets",
            Some(&alice),
            Some(json!({"type": "analysis"})),
            400,
        ),
        (
            "POST",
            "/tickets",
            Some(&alice),
            Some(json!({"type": "analysis", "params": {"app": "one", "colour": "red"}})),
            400,
        ),
        (
            "POST",
            "/tickets",
            Some(&alice),
            Some(json!({"type": "analysis", "params": {"app": "nope"}})),
            400,
        ),
        (
            "POST",
            "/tickets",
            Some(&alice),
            Some(json!({"type": "analysis", "params": {"app": "one", "file": "/x.rdb"}})),
            400,
        ),
        (
            "POST",
            "/tickets",
            Some(&alice),
            Some(json!({"type": "analysis", "params": {"file": "/etc/hostname"}})),
            403,
        ),
        (
            "POST",
            "/tickets",
            Some(&alice),
            Some(json!({"type": "hotkeys", "params": {"app": "one", "duration_secs": 0}})),
            400,
        ),
        (
            "POST",
            "/tickets",
            Some(&alice),
            Some(json!({"type": "analysis", "params": {"app": "one"}, "extra": 1})),
            400,
        ),
        (
            "POST",
            "/tickets",
            Some("rdbs_wrong"),
            Some(json!({"type": "analysis", "params": {"app": "one"}})),
            401,
        ),
        (
            "POST",
            "/tickets",
            None,
            Some(json!({"type": "analysis", "params": {"app": "one"}})),
            401,
        ),
        (
            "POST",
            "/users",
            Some(&alice),
            Some(json!({"name": "eve", "role": "admin"})),
            403,
        ),
        (
            "POST",
            "/users",
            Some(&admin),
            Some(json!({"name": "eve", "role": "king"})),
            400,
        ),
        (
            "POST",
            "/users",
            Some(&admin),
            Some(json!({"name": "alice", "role": "submitter"})),
            409,
        ),
        (
            "POST",
            "/apps",
            Some(&admin),
            Some(
                json!({"name": "dead", "kind": "standalone", "addr": format!("127.0.0.1:{}", free_port())}),
            ),
            400,
        ),
        (
            "POST",
            "/apps",
            Some(&admin),
            Some(
                json!({"name": "w", "kind": "standalone", "addr": "127.0.0.1:1", "maintenance_window": "25:00-26:00"}),
            ),
            400,
        ),
        (
            "POST",
            "/apps",
            Some(&alice),
            Some(json!({"name": "x", "kind": "standalone", "addr": "127.0.0.1:1"})),
            403,
        ),
        ("GET", "/tickets/999", Some(&alice), None, 404),
        ("POST", "/tickets/999/approve", Some(&admin), None, 404),
        ("GET", "/tickets?state=sleeping", Some(&alice), None, 400),
        ("GET", "/nowhere", Some(&alice), None, 404),
    ];
    for (method, path, token, body, want) in &cases {
        let (status, v) = svc.try_call(method, path, *token, body.as_ref()).unwrap();
        assert_eq!(status, *want, "{method} {path} {body:?}: {v}");
        assert!(
            v["error"].as_str().is_some_and(|m| !m.is_empty()),
            "{method} {path}: {v}"
        );
    }
    // Malformed JSON.
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut r = agent
        .post(&format!("http://127.0.0.1:{}/tickets", svc.port))
        .header("Authorization", &format!("Bearer {alice}"))
        .header("Content-Type", "application/json")
        .send("{not json")
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.body_mut().read_to_string().unwrap().contains("error"));
    // Nothing was created.
    assert_eq!(svc.count("/tickets", &admin), 0);
    assert_eq!(svc.count("/apps", &admin), 1);

    // State rules: reject needs a reason; nothing leaves a final state.
    let t = svc.ok(
        "POST",
        "/tickets",
        &alice,
        Some(json!({"type": "analysis", "params": {"file": rdb}, "idempotency_key": "k1"})),
    );
    let id = t["id"].as_i64().unwrap();
    // Idempotent: same key and params, same ticket; other params, 409.
    let (status, again) = svc.call(
        "POST",
        "/tickets",
        &alice,
        Some(json!({"type": "analysis", "params": {"file": rdb}, "idempotency_key": "k1"})),
    );
    assert_eq!((status, again["id"].as_i64()), (200, Some(id)));
    let (status, _) = svc.call(
        "POST",
        "/tickets",
        &alice,
        Some(
            json!({"type": "analysis", "params": {"file": rdb, "top": 5}, "idempotency_key": "k1"}),
        ),
    );
    assert_eq!(status, 409);
    let (status, _) = svc.call(
        "POST",
        &format!("/tickets/{id}/reject"),
        &admin,
        Some(json!({"reason": "  "})),
    );
    assert_eq!(status, 400);
    let rejected = svc.ok(
        "POST",
        &format!("/tickets/{id}/reject"),
        &admin,
        Some(json!({"reason": "use the nightly backup"})),
    );
    assert_eq!(rejected["state"], "rejected");
    assert_eq!(rejected["handler"], "root");
    assert_eq!(rejected["error"], "rejected: use the nightly backup");
    let (status, _) = svc.call("POST", &format!("/tickets/{id}/approve"), &admin, None);
    assert_eq!(status, 409);
    let steps = audit_steps(&svc, id, &admin);
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert_eq!(svc.count("/tickets", &admin), 1);
    // An admin's own ticket needs another admin.
    let own = svc.ok(
        "POST",
        "/tickets",
        &admin,
        Some(json!({"type": "analysis", "params": {"file": rdb}})),
    );
    let (status, e) = svc.call(
        "POST",
        &format!("/tickets/{}/approve", own["id"]),
        &admin,
        None,
    );
    assert_eq!(status, 403, "{e}");
}

/// Restarts: a pending ticket survives; a running one (killed with
/// SIGKILL mid-fetch) is resumed by the restarted instance.
fn restart(backend: &str) {
    let Some((setup, bin)) = setup_and_redis(backend) else {
        return;
    };
    // The diskless delay keeps the fetch waiting for a few seconds: the
    // window in which the service is killed.
    let node = slow_fetch_node(&bin, 500);
    let admin = setup.init_admin("root");
    let mut svc = setup.start(1, "");
    let alice = svc.add_user(&admin, "alice", "submitter");
    svc.add_local_app(&admin, "one", "standalone", node.port());
    let waiting = svc.ok(
        "POST",
        "/tickets",
        &alice,
        Some(json!({"type": "analysis", "params": {"app": "one", "keys_table": false}})),
    )["id"]
        .as_i64()
        .unwrap();
    let running = svc.ok(
        "POST",
        "/tickets",
        &alice,
        Some(json!({"type": "analysis", "params": {"app": "one"}})),
    )["id"]
        .as_i64()
        .unwrap();
    svc.ok("POST", &format!("/tickets/{running}/approve"), &admin, None);
    svc.wait_state(running, &alice, &["running"], 20);
    std::thread::sleep(Duration::from_millis(500));
    svc.kill();
    let svc = setup.start(1, "");
    assert_eq!(
        svc.ok("GET", &format!("/tickets/{waiting}"), &alice, None)["state"],
        "pending"
    );
    let done = svc.wait_state(running, &alice, &["succeeded", "failed"], 60);
    assert_eq!(done["state"], "succeeded", "{done}\n{}", svc.log_text());
    assert_eq!(done["result"]["keys"], 500);
    assert_eq!(done["attempts"], 2, "{done}");
    let steps = audit_steps(&svc, running, &alice);
    assert!(
        steps.contains(&("running".into(), "approved".into(), "rescuer".into())),
        "{steps:?}"
    );
    assert_eq!(steps.last().unwrap().1, "succeeded");
    // The pending one still runs once approved.
    svc.ok("POST", &format!("/tickets/{waiting}/approve"), &admin, None);
    let done = svc.wait_state(waiting, &alice, &["succeeded", "failed"], 60);
    assert_eq!(done["state"], "succeeded", "{done}");
    assert!(!done["result"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "keys.parquet"));

    // Cancelling a running job: it stops at its next read and stays cancelled.
    let id = svc.ok(
        "POST",
        "/tickets",
        &alice,
        Some(json!({"type": "analysis", "params": {"app": "one", "top": 7}})),
    )["id"]
        .as_i64()
        .unwrap();
    svc.ok("POST", &format!("/tickets/{id}/approve"), &admin, None);
    svc.wait_state(id, &alice, &["running"], 20);
    let t = svc.ok("POST", &format!("/tickets/{id}/cancel"), &alice, None);
    assert_eq!(t["state"], "cancelled");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let m = svc.try_call("GET", "/metrics", None, None).unwrap().1;
        if m.as_str().unwrap().contains("rdbscope_jobs_running 0") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the cancelled job did not stop: {m}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        svc.ok("GET", &format!("/tickets/{id}"), &alice, None)["state"],
        "cancelled"
    );
    let steps = audit_steps(&svc, id, &alice);
    assert_eq!(
        steps.last().unwrap(),
        &(
            "running".to_string(),
            "cancelled".to_string(),
            "alice".to_string()
        )
    );
}

/// Two instances share one PostgreSQL queue: every job runs exactly once.
fn two_instances(setup: &Setup) {
    let admin = setup.init_admin("root");
    let a = setup.start(1, "workers = 2\nauto_approve = [\"analysis\"]\n");
    let b = setup.start(2, "workers = 2\nauto_approve = [\"analysis\"]\n");
    let Some(bin) = require_server(ServerKind::Redis70) else {
        return;
    };
    let node = bin.start(&[]).unwrap();
    let mut c = node.client();
    let cmds: Vec<Vec<Vec<u8>>> = (0..2000)
        .map(|i| testkit::cmd_args!["SET", format!("k{i}"), "v"])
        .collect();
    c.pipeline_must(&cmds);
    let rdb = node.save();
    let file = setup.allowed.join("snap.rdb");
    std::fs::copy(&rdb, &file).unwrap();
    let ids: Vec<i64> = (0..8)
        .map(|i| {
            let svc = if i % 2 == 0 { &a } else { &b };
            let t = svc.ok(
                "POST",
                "/tickets",
                &admin,
                Some(json!({"type": "analysis", "params": {"file": file, "top": 10 + i}})),
            );
            // Auto-approved, and maybe already claimed by either instance.
            assert!(
                ["approved", "running", "succeeded"].contains(&t["state"].as_str().unwrap()),
                "auto-approved: {t}"
            );
            assert_eq!(t["handler"], "auto");
            t["id"].as_i64().unwrap()
        })
        .collect();
    for id in &ids {
        let done = a.wait_state(*id, &admin, &["succeeded", "failed"], 120);
        assert_eq!(done["state"], "succeeded", "{done}");
        assert_eq!(done["result"]["keys"], 2000);
        let steps = audit_steps(&b, *id, &admin);
        let starts = steps.iter().filter(|s| s.1 == "running").count();
        let ends = steps.iter().filter(|s| s.1 == "succeeded").count();
        assert_eq!((starts, ends), (1, 1), "ticket {id}: {steps:?}");
        // Either instance serves the report.
        let s: Value =
            serde_json::from_slice(&b.bytes(&format!("/tickets/{id}/report/summary.json"), &admin))
                .unwrap();
        assert_eq!(s["totals"]["keys"], 2000);
    }
}

#[test]
fn service_sqlite_analysis_of_a_live_app() {
    analysis_of_a_live_app("sqlite");
}

#[test]
fn service_sqlite_bad_requests() {
    bad_requests("sqlite");
}

#[test]
fn service_sqlite_restart() {
    restart("sqlite");
}

#[test]
fn service_postgres_analysis_of_a_live_app() {
    analysis_of_a_live_app("postgres");
}

#[test]
fn service_postgres_bad_requests() {
    bad_requests("postgres");
}

#[test]
fn service_postgres_restart() {
    restart("postgres");
}

#[test]
fn service_postgres_two_instances_share_the_queue() {
    let Some(setup) = Setup::new("postgres") else {
        return;
    };
    two_instances(&setup);
}

/// Three masters made into a cluster by hand (slots split, MEET), on loopback.
pub(crate) fn small_cluster() -> Option<Vec<RedisServer>> {
    let bin = require_server(ServerKind::Redis70)?;
    let nodes: Vec<RedisServer> = (0..3)
        .map(|_| {
            bin.start(&["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"])
                .unwrap()
        })
        .collect();
    let ranges = [(0, 5460), (5461, 10922), (10923, 16383)];
    for (n, (a, b)) in nodes.iter().zip(ranges) {
        n.client()
            .must(&["CLUSTER", "ADDSLOTSRANGE", &a.to_string(), &b.to_string()]);
    }
    for n in &nodes[1..] {
        nodes[0]
            .client()
            .must(&["CLUSTER", "MEET", "127.0.0.1", &n.port().to_string()]);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while !nodes.iter().all(|n| {
        n.client()
            .must(&["CLUSTER", "INFO"])
            .as_str()
            .unwrap_or_default()
            .contains("cluster_state:ok")
    }) {
        assert!(Instant::now() < deadline, "cluster did not form");
        std::thread::sleep(Duration::from_millis(200));
    }
    Some(nodes)
}

/// A cluster's shards are fetched side by side up to `fetches_per_host`
/// of one host: with 3, the three masters (one host, loopback) hold a
/// replica waiting for its snapshot at the same moment; with the default
/// of 1, never two at once. Every shard is analyzed either way.
#[test]
fn cluster_shards_are_fetched_side_by_side_as_allowed() {
    let Some(setup) = Setup::new("sqlite") else {
        return;
    };
    let Some(nodes) = small_cluster() else { return };
    let mut written = 0;
    for i in 0..300 {
        let key = format!("k:{i}");
        written += nodes
            .iter()
            .position(|n| !n.client().cmd(&["SET", &key, "v"]).unwrap().is_error())
            .map_or(0, |_| 1);
    }
    assert_eq!(written, 300);
    // Each master waits 2 s before it streams a snapshot (diskless): the
    // replica shows as `wait_bgsave` meanwhile.
    for n in &nodes {
        n.client()
            .must(&["CONFIG", "SET", "repl-diskless-sync", "yes"]);
        n.client()
            .must(&["CONFIG", "SET", "repl-diskless-sync-delay", "2"]);
    }
    let admin = setup.init_admin("root");
    for (app, extra, want_side_by_side) in [
        ("three", "fetches_per_host = 3\n", true),
        ("one", "", false),
    ] {
        let svc = setup.start(1, &format!("allow_self_approval = true\n{extra}"));
        svc.add_local_app(&admin, app, "cluster", nodes[0].port());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let ports: Vec<u16> = nodes.iter().map(|n| n.port()).collect();
        let watcher = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut clients: Vec<Client> = ports
                    .iter()
                    .map(|&p| Client::connect(("127.0.0.1", p)).unwrap())
                    .collect();
                let mut most = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let waiting = clients
                        .iter_mut()
                        .map(|c| c.must(&["INFO", "replication"]))
                        .filter(|i| i.as_str().unwrap_or_default().contains("state=wait_bgsave"))
                        .count();
                    most = most.max(waiting);
                    std::thread::sleep(Duration::from_millis(20));
                }
                most
            })
        };
        let t = svc.ok(
            "POST",
            "/tickets",
            &admin,
            Some(json!({"type": "analysis", "params": {"app": app}})),
        );
        // The approver is told how many fetches run at once.
        let per_host = if want_side_by_side { 3 } else { 1 };
        let told = t["plan"]["fetches"].as_str().unwrap_or_default();
        assert!(
            told.contains(&format!("at most 4 at once, {per_host} of one host")),
            "{t}"
        );
        let id = t["id"].as_i64().unwrap();
        svc.ok("POST", &format!("/tickets/{id}/approve"), &admin, None);
        let done = svc.wait_state(id, &admin, &["succeeded", "failed"], 120);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let most = watcher.join().unwrap();
        assert_eq!(done["state"], "succeeded", "{done}");
        assert_eq!(done["result"]["keys"], 300, "{done}");
        assert_eq!(done["result"]["sources"].as_array().unwrap().len(), 3);
        if want_side_by_side {
            assert!(
                most >= 2,
                "{extra}: at most {most} fetch(es) waiting at once"
            );
        } else {
            assert_eq!(most, 1, "one fetch of a host at a time");
        }
    }
}

/// A cluster app: its masters are discovered from one seed, every shard
/// is fetched and analyzed; a hot-key ticket finds the key being hammered.
#[test]
fn service_sqlite_cluster_analysis_and_hot_keys() {
    let Some(setup) = Setup::new("sqlite") else {
        return;
    };
    let Some(nodes) = small_cluster() else { return };
    // Keys go to the node that owns their slot: write through MOVED.
    let mut written = 0;
    for i in 0..900 {
        let key = format!("order:{i}");
        for n in &nodes {
            let r = n.client().cmd(&["SET", key.as_str(), "v"]).unwrap();
            if !r.is_error() {
                written += 1;
                break;
            }
        }
    }
    assert_eq!(written, 900);
    let admin = setup.init_admin("root");
    let svc = setup.start(1, "allow_self_approval = true\n");
    let app = svc.add_local_app(&admin, "orders", "cluster", nodes[1].port());
    let masters: Vec<&Value> = app["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["role"] == "master")
        .collect();
    assert_eq!(masters.len(), 3, "{app}");
    let slots: u64 = masters
        .iter()
        .flat_map(|m| m["slots"].as_array().unwrap())
        .map(|r| r[1].as_u64().unwrap() - r[0].as_u64().unwrap() + 1)
        .sum();
    assert_eq!(slots, 16384);

    let id = svc.ok(
        "POST",
        "/tickets",
        &admin,
        Some(json!({"type": "analysis", "params": {"app": "orders"}})),
    )["id"]
        .as_i64()
        .unwrap();
    svc.ok("POST", &format!("/tickets/{id}/approve"), &admin, None);
    let done = svc.wait_state(id, &admin, &["succeeded", "failed"], 120);
    assert_eq!(done["state"], "succeeded", "{done}");
    let total: u64 = nodes.iter().map(dbsize).sum();
    assert_eq!(total, 900);
    assert_eq!(done["result"]["keys"], total, "{done}");
    assert_eq!(done["result"]["sources"].as_array().unwrap().len(), 3);

    // Hot keys by MONITOR while one key is read far more than others.
    let hot_port = nodes
        .iter()
        .find(|n| {
            n.client()
                .cmd(&["GET", "order:7"])
                .map(|r| !r.is_error())
                .unwrap_or(false)
        })
        .unwrap()
        .port();
    let t = svc.ok(
        "POST",
        "/tickets",
        &admin,
        Some(json!({"type": "hotkeys", "params": {"app": "orders", "duration_secs": 3, "top": 5, "method": "monitor"}})),
    );
    assert!(
        t["plan"]["cost"].as_str().unwrap().contains("MONITOR"),
        "{t}"
    );
    let id = t["id"].as_i64().unwrap();
    svc.ok("POST", &format!("/tickets/{id}/approve"), &admin, None);
    svc.wait_state(id, &admin, &["running"], 20);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut c = testkit::Client::connect(("127.0.0.1", hot_port)).unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                c.must(&["GET", "order:7"]);
            }
        })
    };
    let done = svc.wait_state(id, &admin, &["succeeded", "failed"], 60);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    load.join().unwrap();
    assert_eq!(done["state"], "succeeded", "{done}");
    let hot: Value =
        serde_json::from_slice(&svc.bytes(&format!("/tickets/{id}/report/hotkeys.json"), &admin))
            .unwrap();
    assert_eq!(hot[0]["key"], "order:7", "{hot}");
    assert_eq!(hot[0]["node"], format!("127.0.0.1:{hot_port}"));
    assert!(hot[0]["hits_per_sec"].as_f64().unwrap() > 10.0, "{hot}");
}

/// An instance dies mid-job; another instance sharing the PostgreSQL queue
/// rescues the job once its lease expires and finishes it.
#[test]
fn service_postgres_dead_instance_is_rescued_by_another() {
    let Some((setup, bin)) = setup_and_redis("postgres") else {
        return;
    };
    // The diskless delay holds the fetch for a few seconds: the window in
    // which instance 1 is killed.
    let node = slow_fetch_node(&bin, 300);
    let admin = setup.init_admin("root");
    let mut first = setup.start(1, "allow_self_approval = true\n");
    first.add_local_app(&admin, "one", "standalone", node.port());
    let id = first.ok(
        "POST",
        "/tickets",
        &admin,
        Some(json!({"type": "analysis", "params": {"app": "one"}})),
    )["id"]
        .as_i64()
        .unwrap();
    first.ok("POST", &format!("/tickets/{id}/approve"), &admin, None);
    first.wait_state(id, &admin, &["running"], 20);
    first.kill();
    let second = setup.start(2, "");
    let done = second.wait_state(id, &admin, &["succeeded", "failed"], 60);
    assert_eq!(done["state"], "succeeded", "{done}\n{}", second.log_text());
    assert_eq!(done["result"]["keys"], 300);
    assert_eq!(done["attempts"], 2);
    let steps = audit_steps(&second, id, &admin);
    assert!(
        steps.contains(&("running".into(), "approved".into(), "rescuer".into())),
        "{steps:?}"
    );
    assert!(
        second
            .log_text()
            .contains(&format!("ticket {id}: lease of i-")),
        "{}",
        second.log_text()
    );
}

/// Transient failures (a node that refuses connections) are retried with
/// backoff until the attempts run out; a permanent one (a corrupt file)
/// fails at once with a clear message.
#[test]
fn service_sqlite_retries_transient_failures_only() {
    let Some((setup, bin)) = setup_and_redis("sqlite") else {
        return;
    };
    let node = bin.start(&[]).unwrap();
    let admin = setup.init_admin("root");
    let svc = setup.start(1, "allow_self_approval = true\nmax_attempts = 3\n");
    svc.add_local_app(&admin, "gone", "standalone", node.port());
    drop(node);
    let submit = |params: Value| -> i64 {
        let id = svc.ok(
            "POST",
            "/tickets",
            &admin,
            Some(json!({"type": "analysis", "params": params})),
        )["id"]
            .as_i64()
            .unwrap();
        svc.ok("POST", &format!("/tickets/{id}/approve"), &admin, None);
        id
    };
    let down = submit(json!({"app": "gone"}));
    let bad = setup.allowed.join("bad.rdb");
    std::fs::write(&bad, b"REDIS0010\xfa\x09redis-ver\xff\xff\xff").unwrap();
    let corrupt = submit(json!({"file": bad}));

    let done = svc.wait_state(corrupt, &admin, &["failed", "succeeded"], 60);
    assert_eq!(done["state"], "failed", "{done}");
    assert_eq!(
        done["attempts"], 1,
        "a permanent error is not retried: {done}"
    );
    assert!(done["error"].as_str().unwrap().contains("offset"), "{done}");

    let done = svc.wait_state(down, &admin, &["failed", "succeeded"], 60);
    assert_eq!(done["state"], "failed", "{done}");
    assert_eq!(done["attempts"], 3, "{done}");
    let audit = svc.ok("GET", &format!("/tickets/{down}/audit"), &admin, None);
    let retries = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["from"] == "running" && a["to"] == "approved")
        .inspect(|a| {
            assert!(
                a["note"].as_str().unwrap().starts_with("retrying after:"),
                "{a}"
            )
        })
        .count();
    assert_eq!(retries, 2, "{audit}");
    // Backoff (1 s, then 2 s): the three runs did not start in the same second.
    let at: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["to"] == "running")
        .map(|a| a["at"].as_str().unwrap())
        .collect();
    assert_eq!(at.len(), 3, "{audit}");
    assert!(at[0] < at[2], "{audit}");
}
