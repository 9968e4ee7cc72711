//! The job service under load: `rdbscope serve` on SQLite, then on
//! PostgreSQL, while 4 rate-limited cleanups run against real redis-servers
//! on loopback, and N clients (200) for D seconds (60) list, show, submit
//! and approve tickets, poll the running jobs' progress and load the
//! console's pages. Reports p50/p99 latency per request kind and the
//! errors, and checks: no 5xx and no failed request, every submission once
//! in the store and once in the audit (none lost, none doubled), and each
//! job's rate under load within 10 % of its rate in a quiet window before.
//!
//!     cargo bench --bench load                                  # 200 clients, 60 s per store, both stores
//!     LOAD_SECS=10 LOAD_QUIET_SECS=5 cargo bench --bench load   # a quick check, 10 s per store
//!     LOAD_CLIENTS=50 LOAD_SECS=10 LOAD_STORES=sqlite cargo bench --bench load
//!     LOAD_THINK_MS=500 cargo bench --bench load                # paced clients
//!
//! Settings (environment): `LOAD_CLIENTS` (1–1000, default 200),
//! `LOAD_SECS` (1–600, default 60), `LOAD_QUIET_SECS` (the quiet window,
//! default 15), `LOAD_STORES` (`sqlite,postgres`), `LOAD_RATE` (keys/s of
//! each cleanup, default 200), `LOAD_THINK_MS` (0–60000, default 0: each
//! client sends its next request as soon as the last is answered, a closed
//! loop; otherwise it first waits a random 0 to 2 × that many ms, like a
//! person or a console polling). Besides latency it prints the CPU time of
//! the `serve` process per 1,000 requests (from `/proc`, user + system)
//! and, on PostgreSQL, the store's transactions per request (committed and
//! rolled back, from `pg_stat_database`: every statement outside a
//! transaction counts one; the running jobs' own are included). Exits
//! non-zero when a check fails; the p99 target (50 ms) is reported, not
//! enforced (it depends on the machine). With no think time it also
//! prints the floor Little's law sets: N clients at X requests a second
//! wait N/X on average, so p99 < 50 ms at 200 clients needs more than
//! 4,000 requests a second. `LOAD_SERVE_BIN`: another build
//! of `rdbscope` to serve (to compare two builds under the same clients).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use testkit::{env_list, env_u64, require_server, RedisServer, ServeSetup, Served, ServerKind};

/// Jobs running during the load.
const JOBS: usize = 4;
/// Submitter accounts the clients share.
const SUBMITTERS: usize = 8;
const P99_TARGET_MS: f64 = 50.0;

struct Opts {
    clients: usize,
    secs: u64,
    quiet_secs: u64,
    stores: Vec<String>,
    rate: u64,
    think_ms: u64,
}

impl Opts {
    fn from_env() -> Opts {
        Opts {
            clients: env_u64("LOAD_CLIENTS", 200, 1, 1000) as usize,
            secs: env_u64("LOAD_SECS", 60, 1, 600),
            quiet_secs: env_u64("LOAD_QUIET_SECS", 15, 2, 120),
            stores: env_list("LOAD_STORES", "sqlite,postgres"),
            rate: env_u64("LOAD_RATE", 200, 10, 100_000),
            think_ms: env_u64("LOAD_THINK_MS", 0, 0, 60_000),
        }
    }

    /// Which loop the clients run, for the report.
    fn mode(&self) -> String {
        if self.think_ms == 0 {
            "closed loop, no think time".into()
        } else {
            format!(
                "paced: a random 0-{} ms between requests (mean {} ms)",
                2 * self.think_ms,
                self.think_ms
            )
        }
    }
}

/// CPU seconds (user + system) a process has used so far, from
/// `/proc/PID/stat` (in clock ticks of 1/100 s, Linux's USER_HZ).
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// Transactions PostgreSQL has committed and rolled back in all databases.
fn pg_xacts(pg: &testkit::Postgres) -> Option<f64> {
    pg.psql("SELECT sum(xact_commit + xact_rollback) FROM pg_stat_database")
        .ok()?
        .split_whitespace()
        .find_map(|w| w.parse().ok())
}

fn serve(store: Option<&str>) -> Served {
    // Another build of rdbscope to serve, to compare two builds with the
    // same clients (default: the one built with this bench).
    let bin = std::env::var("LOAD_SERVE_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_rdbscope").to_string());
    ServeSetup::new(&bin, "load-bench", store, |_| {
        format!("workers = {JOBS}\nallow_self_approval = true\n")
    })
    .start()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// One request: (status, body as JSON or text).
fn call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
    idem: Option<&str>,
) -> Result<(u16, Value), String> {
    let auth = token.map(|t| format!("Bearer {t}"));
    let resp = if method == "GET" {
        let mut r = agent.get(url);
        if let Some(a) = &auth {
            r = r.header("Authorization", a);
        }
        r.call()
    } else {
        let mut r = agent.post(url);
        if let Some(a) = &auth {
            r = r.header("Authorization", a);
        }
        if let Some(k) = idem {
            r = r.header("Idempotency-Key", k);
        }
        match body {
            Some(b) => r
                .header("Content-Type", "application/json")
                .send(b.to_string()),
            None => r.send_empty(),
        }
    };
    let mut resp = resp.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_string()
        .map_err(|e| e.to_string())?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

fn must(s: &Served, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
    let (st, v) = call(
        &agent(),
        method,
        &format!("{}{path}", s.base),
        Some(token),
        body.as_ref(),
        None,
    )
    .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    assert!((200..300).contains(&st), "{method} {path}: {st} {v}");
    v
}

fn dbsize(n: &RedisServer) -> i64 {
    n.client().must(&["DBSIZE"]).as_int().unwrap()
}

/// What one kind of request saw.
#[derive(Default)]
struct Seen {
    micros: Vec<u32>,
    non_2xx: BTreeMap<u16, u64>,
    transport: u64,
}

#[derive(Default)]
struct Tally {
    kinds: BTreeMap<&'static str, Seen>,
    /// (idempotency key, ticket id) of every submission.
    submitted: Vec<(String, i64)>,
    approved: BTreeSet<i64>,
}

impl Tally {
    fn note(&mut self, kind: &'static str, took: Duration, r: &Result<(u16, Value), String>) {
        let s = self.kinds.entry(kind).or_default();
        s.micros.push(took.as_micros().min(u32::MAX as u128) as u32);
        match r {
            Ok((st, _)) if (200..300).contains(st) => {}
            Ok((st, _)) => *s.non_2xx.entry(*st).or_default() += 1,
            Err(_) => s.transport += 1,
        }
    }

    fn merge(&mut self, o: Tally) {
        for (k, s) in o.kinds {
            let m = self.kinds.entry(k).or_default();
            m.micros.extend(s.micros);
            for (st, n) in s.non_2xx {
                *m.non_2xx.entry(st).or_default() += n;
            }
            m.transport += s.transport;
        }
        self.submitted.extend(o.submitted);
        self.approved.extend(o.approved);
    }
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// What every client shares.
struct World {
    base: String,
    admin: String,
    submitters: Vec<String>,
    jobs: Vec<i64>,
    assets: Vec<String>,
    tag: String,
    think_ms: u64,
    stop: AtomicBool,
}

/// One client: a mix of requests, one after the other, until told to stop.
fn client(w: &World, i: usize) -> Tally {
    let agent = agent();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ ((i as u64 + 1) * 0x100_0000_01b3));
    let token = w.submitters[i % w.submitters.len()].as_str();
    let admin = w.admin.as_str();
    let mut t = Tally::default();
    let mut mine: Vec<i64> = Vec::new();
    let mut pending: Vec<i64> = Vec::new();
    let mut n = 0u64;
    while !w.stop.load(Ordering::Relaxed) {
        if w.think_ms > 0 {
            let pause = rng.below(2 * w.think_ms + 1);
            std::thread::sleep(Duration::from_millis(pause));
            if w.stop.load(Ordering::Relaxed) {
                break;
            }
        }
        n += 1;
        let pick = rng.below(100);
        let started = Instant::now();
        let (kind, r) = match pick {
            0..=24 => (
                "ticket list",
                call(
                    &agent,
                    "GET",
                    &format!("{}/tickets?limit=20&offset=0", w.base),
                    Some(token),
                    None,
                    None,
                ),
            ),
            25..=39 if !mine.is_empty() => {
                let id = mine[rng.below(mine.len() as u64) as usize];
                (
                    "ticket show",
                    call(
                        &agent,
                        "GET",
                        &format!("{}/tickets/{id}", w.base),
                        Some(token),
                        None,
                        None,
                    ),
                )
            }
            25..=59 => {
                let id = w.jobs[rng.below(w.jobs.len() as u64) as usize];
                (
                    "progress poll",
                    call(
                        &agent,
                        "GET",
                        &format!("{}/tickets/{id}", w.base),
                        Some(admin),
                        None,
                        None,
                    ),
                )
            }
            60..=69 => {
                // A transport error leaves the outcome unknown: the same
                // key again must not make a second ticket.
                let key = format!("{}-{i}-{n}", w.tag);
                let body =
                    json!({"type": "analysis", "params": {"app": "parked", "top": 1 + n % 50}});
                let mut r = Err(String::new());
                for _ in 0..3 {
                    r = call(
                        &agent,
                        "POST",
                        &format!("{}/tickets", w.base),
                        Some(token),
                        Some(&body),
                        Some(&key),
                    );
                    if r.is_ok() {
                        break;
                    }
                }
                if let Ok((st, v)) = &r {
                    if (200..300).contains(st) {
                        if let Some(id) = v["id"].as_i64() {
                            t.submitted.push((key, id));
                            mine.push(id);
                            pending.push(id);
                        }
                    }
                }
                ("ticket submit", r)
            }
            70..=77 if !pending.is_empty() => {
                let id = pending.swap_remove(rng.below(pending.len() as u64) as usize);
                let r = call(
                    &agent,
                    "POST",
                    &format!("{}/tickets/{id}/approve", w.base),
                    Some(admin),
                    None,
                    None,
                );
                if matches!(&r, Ok((st, _)) if (200..300).contains(st)) {
                    t.approved.insert(id);
                }
                ("ticket approve", r)
            }
            _ => {
                let (path, who) = match rng.below(4) {
                    0 => ("/".to_string(), None),
                    1 => (
                        w.assets[rng.below(w.assets.len() as u64) as usize].clone(),
                        None,
                    ),
                    2 => ("/tickets/summary".to_string(), Some(admin)),
                    _ => ("/me".to_string(), Some(token)),
                };
                (
                    "console page",
                    call(&agent, "GET", &format!("{}{path}", w.base), who, None, None),
                )
            }
        };
        t.note(kind, started.elapsed(), &r);
    }
    t
}

/// The floor Little's law sets on a closed loop with no think time: each
/// of `clients` clients always has one request in the service, so at `rate`
/// requests a second the mean latency is `clients / rate`, whatever the
/// service does with them; a p99 under the target needs at least a mean
/// under it, so more than `clients / target` requests a second.
fn littles_law(clients: usize, rate: f64, measured_mean_ms: f64) -> String {
    let floor_ms = clients as f64 / rate.max(1e-9) * 1000.0;
    let needed = clients as f64 / (P99_TARGET_MS / 1000.0);
    format!(
        "Little's law: {clients} clients at {rate:.0} req/s make a mean latency of {clients}/{rate:.0} = {floor_ms:.1} ms (measured mean {measured_mean_ms:.1} ms); a p99 under {P99_TARGET_MS} ms with {clients} clients that never pause needs more than {needed:.0} req/s ({:.1}x this run's rate)",
        needed / rate.max(1e-9)
    )
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

/// A maintenance window a minute long, twelve hours from now: tickets of
/// the app it guards are approved but never start during the run.
fn closed_window() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let m = (now / 60 + 720) % 1440;
    let n = (m + 1) % 1440;
    format!("{:02}:{:02}-{:02}:{:02}", m / 60, m % 60, n / 60, n % 60)
}

/// One run on one store; returns the failed checks.
fn run(o: &Opts, store_name: &str) -> Vec<String> {
    let bin = require_server(ServerKind::Redis70).expect("redis-server 7.0");
    let pg = if store_name == "postgres" {
        let Some(pg) = testkit::require_postgres() else {
            eprintln!("SKIP postgres: not installed");
            return Vec::new();
        };
        Some(pg.start().expect("start postgres"))
    } else {
        None
    };
    let served = serve(pg.as_ref().map(|p| p.url()).as_deref());
    let admin = served.admin.clone();
    let submitters: Vec<String> = (0..SUBMITTERS)
        .map(|i| {
            must(
                &served,
                "POST",
                "/users",
                &admin,
                Some(json!({"name": format!("user{i}"), "role": "submitter"})),
            )["token"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    // The nodes the jobs clean: enough keys for the whole run at the rate.
    let keys = o.rate * (o.quiet_secs + o.secs + 30);
    let nodes: Vec<RedisServer> = (0..JOBS).map(|_| bin.start(&[]).unwrap()).collect();
    for (j, n) in nodes.iter().enumerate() {
        let cmds: Vec<Vec<Vec<u8>>> = (0..keys)
            .map(|i| testkit::cmd_args!["SET", format!("tmp:{i}"), "v"])
            .collect();
        for chunk in cmds.chunks(10_000) {
            n.client().pipeline_must(chunk);
        }
        must(
            &served,
            "POST",
            "/apps",
            &admin,
            Some(
                json!({"name": format!("job{j}"), "kind": "standalone", "addr": format!("127.0.0.1:{}", n.port())}),
            ),
        );
    }
    let parked = bin.start(&[]).unwrap();
    must(
        &served,
        "POST",
        "/apps",
        &admin,
        Some(
            json!({"name": "parked", "kind": "standalone", "addr": format!("127.0.0.1:{}", parked.port()), "maintenance_window": closed_window()}),
        ),
    );
    let jobs: Vec<i64> = (0..JOBS)
        .map(|j| {
            let t = must(
                &served,
                "POST",
                "/tickets",
                &admin,
                Some(json!({"type": "cleanup", "params": {"app": format!("job{j}"), "patterns": [{"prefix": "tmp:"}], "rate": o.rate, "batch": 100}})),
            );
            let id = t["id"].as_i64().unwrap();
            must(&served, "POST", &format!("/tickets/{id}/approve"), &admin, None);
            id
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !nodes.iter().all(|n| dbsize(n) < keys as i64) {
        assert!(Instant::now() < deadline, "the jobs did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(1));
    let rates = |secs: u64| -> Vec<f64> {
        let before: Vec<i64> = nodes.iter().map(dbsize).collect();
        let t = Instant::now();
        std::thread::sleep(Duration::from_secs(secs));
        let after: Vec<i64> = nodes.iter().map(dbsize).collect();
        let el = t.elapsed().as_secs_f64();
        before
            .iter()
            .zip(&after)
            .map(|(b, a)| (b - a) as f64 / el)
            .collect()
    };
    eprintln!("[{store_name}] quiet window: {} s", o.quiet_secs);
    let quiet = rates(o.quiet_secs);

    let assets: Vec<String> = jobsvc::console::ASSETS
        .iter()
        .filter(|a| a.path != "index.html")
        .map(|a| format!("/console/{}", a.path))
        .collect();
    let world = Arc::new(World {
        base: served.base.clone(),
        admin: admin.clone(),
        submitters,
        jobs: jobs.clone(),
        assets,
        tag: format!("load-{store_name}"),
        think_ms: o.think_ms,
        stop: AtomicBool::new(false),
    });
    eprintln!(
        "[{store_name}] {} clients ({}) for {} s while {JOBS} cleanups run at {} keys/s",
        o.clients,
        o.mode(),
        o.secs,
        o.rate
    );
    let serve_pid = served.child.id();
    let cpu_before = cpu_secs(serve_pid);
    let xacts_before = pg.as_ref().and_then(pg_xacts);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let threads: Vec<_> = (0..o.clients)
        .map(|i| {
            let (w, tally) = (world.clone(), tally.clone());
            std::thread::Builder::new()
                .stack_size(256 << 10)
                .spawn(move || {
                    let t = client(&w, i);
                    tally.lock().unwrap().merge(t);
                })
                .unwrap()
        })
        .collect();
    let loaded = rates(o.secs);
    world.stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().unwrap();
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_before.zip(cpu_secs(serve_pid)).map(|(b, a)| a - b);
    let xacts = xacts_before
        .zip(pg.as_ref().and_then(pg_xacts))
        .map(|(b, a)| a - b);
    let tally = std::mem::take(&mut *tally.lock().unwrap());
    for id in &jobs {
        let _ = call(
            &agent(),
            "POST",
            &format!("{}/tickets/{id}/cancel", served.base),
            Some(&admin),
            None,
            None,
        );
    }

    // The report.
    let mut failed = Vec::new();
    let total: usize = tally.kinds.values().map(|s| s.micros.len()).sum();
    println!(
        "\n## {store_name}: {} clients ({}), {:.0} s, {total} requests ({:.0}/s)\n",
        o.clients,
        o.mode(),
        wall,
        total as f64 / wall
    );
    if let Some(cpu) = cpu {
        println!(
            "serve process: {cpu:.1} CPU s ({:.2} cores), {:.2} CPU s per 1,000 requests",
            cpu / wall,
            cpu * 1000.0 / total.max(1) as f64
        );
    }
    if let Some(x) = xacts {
        println!(
            "store: {x:.0} PostgreSQL transactions, {:.2} per request",
            x / total.max(1) as f64
        );
    }
    println!();
    println!("| request | count | p50 ms | p99 ms | max ms | non-2xx | transport errors |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut all: Vec<u32> = Vec::new();
    for (kind, s) in &tally.kinds {
        let mut m = s.micros.clone();
        m.sort_unstable();
        all.extend(&m);
        let non: u64 = s.non_2xx.values().sum();
        println!(
            "| {kind} | {} | {:.1} | {:.1} | {:.1} | {} | {} |",
            m.len(),
            percentile(&m, 0.5),
            percentile(&m, 0.99),
            percentile(&m, 1.0),
            if non == 0 {
                "0".to_string()
            } else {
                format!("{non} {:?}", s.non_2xx)
            },
            s.transport
        );
        let five: u64 = s.non_2xx.range(500..).map(|(_, n)| n).sum();
        if five > 0 {
            failed.push(format!("{kind}: {five} answers 5xx"));
        }
        if non > five {
            failed.push(format!(
                "{kind}: {} answers 4xx {:?}",
                non - five,
                s.non_2xx
            ));
        }
        if s.transport > 0 {
            failed.push(format!("{kind}: {} transport errors", s.transport));
        }
    }
    all.sort_unstable();
    let p99 = percentile(&all, 0.99);
    println!(
        "\nall requests: p50 {:.1} ms, p99 {p99:.1} ms (target < {P99_TARGET_MS} ms: {})",
        percentile(&all, 0.5),
        if p99 < P99_TARGET_MS { "met" } else { "missed" }
    );
    if o.think_ms == 0 {
        let mean_ms = all.iter().map(|&m| m as f64).sum::<f64>() / all.len().max(1) as f64 / 1000.0;
        println!("{}", littles_law(o.clients, total as f64 / wall, mean_ms));
    }

    // Every submission once in the store and once in the audit.
    let keys_seen: BTreeSet<&str> = tally.submitted.iter().map(|(k, _)| k.as_str()).collect();
    let ids: BTreeSet<i64> = tally.submitted.iter().map(|(_, id)| *id).collect();
    if keys_seen.len() != ids.len() || ids.len() != tally.submitted.len() {
        failed.push(format!(
            "{} submissions, {} keys, {} ticket ids",
            tally.submitted.len(),
            keys_seen.len(),
            ids.len()
        ));
    }
    // A page holds 10,000 tickets at most: read them all, page by page.
    let mut stored: Vec<Value> = Vec::new();
    loop {
        let page = must(
            &served,
            "GET",
            &format!(
                "/tickets?type=analysis&app=parked&limit=10000&offset={}",
                stored.len()
            ),
            &admin,
            None,
        )
        .as_array()
        .cloned()
        .unwrap_or_default();
        let last = page.len() < 10_000;
        stored.extend(page);
        if last {
            break;
        }
    }
    let stored_ids: BTreeSet<i64> = stored.iter().filter_map(|t| t["id"].as_i64()).collect();
    if stored_ids != ids {
        failed.push(format!(
            "the store holds {} tickets of the run, the clients made {} ({} missing, {} unknown)",
            stored_ids.len(),
            ids.len(),
            ids.difference(&stored_ids).count(),
            stored_ids.difference(&ids).count()
        ));
    }
    let mut audit_bad = 0;
    let a = agent();
    for id in &ids {
        let (_, rows) = call(
            &a,
            "GET",
            &format!("{}/tickets/{id}/audit", served.base),
            Some(&admin),
            None,
            None,
        )
        .unwrap_or((0, Value::Null));
        let rows = rows.as_array().cloned().unwrap_or_default();
        let n = |to: &str| rows.iter().filter(|r| r["to"] == to).count();
        let approvals = usize::from(tally.approved.contains(id));
        if n("pending") != 1 || n("approved") != approvals {
            audit_bad += 1;
        }
    }
    if audit_bad > 0 {
        failed.push(format!("{audit_bad} tickets whose audit does not match"));
    }
    println!(
        "\ntickets: {} submitted, {} approved (their app's window is closed: they wait), {} in the store, {} audits checked",
        ids.len(),
        tally.approved.len(),
        stored_ids.len(),
        ids.len()
    );

    println!("\n| job | quiet keys/s | under load keys/s | change |");
    println!("|---|---:|---:|---:|");
    for (j, (q, l)) in quiet.iter().zip(&loaded).enumerate() {
        let change = (l / q - 1.0) * 100.0;
        println!("| cleanup {} | {q:.1} | {l:.1} | {change:+.1} % |", jobs[j]);
        if change.abs() > 10.0 {
            failed.push(format!(
                "cleanup {}: {l:.1} keys/s under load, {q:.1} quiet",
                jobs[j]
            ));
        }
    }
    drop(served);
    drop(pg);
    failed
}

fn main() {
    let o = Opts::from_env();
    if require_server(ServerKind::Redis70).is_none() {
        eprintln!("SKIP: no redis-server 7.0 (testdata/install-servers.sh)");
        return;
    }
    let mut failed = Vec::new();
    for s in &o.stores {
        assert!(
            s == "sqlite" || s == "postgres",
            "LOAD_STORES: sqlite, postgres"
        );
        failed.extend(run(&o, s).into_iter().map(|f| format!("[{s}] {f}")));
    }
    if !failed.is_empty() {
        eprintln!("\nFAILED:\n  {}", failed.join("\n  "));
        std::process::exit(1);
    }
    println!("\nall checks passed");
}
