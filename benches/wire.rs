//! The live operations at wire speed, each beside a plain-tools baseline on
//! the same node and the same data, against real redis-servers on loopback:
//!
//! - **snapshot fetch**: the service's replica code (`jobsvc::replica::
//!   fetch_rdb`, run alone in a child process of this bench so that its
//!   peak RSS is its own) against `redis-cli --rdb FILE`, disk-based and
//!   diskless (`repl-diskless-sync-delay 0`), best of N each; then an
//!   `analysis` ticket's fetch (its `fetch_secs`, the fetch alone, not the
//!   analysis). Target: ≥ 80 % of `redis-cli --rdb`.
//! - **cleanup**, rate 1,000,000 keys/s (the most a ticket may ask: no
//!   limit at these sizes): keys/s and elements/s against `redis-cli --scan
//!   --pattern 'tmp:*' | xargs redis-cli unlink`, the node refilled the same
//!   way before every run; a PING every 10 ms on its own connection (what
//!   `redis-cli --latency` does) samples the node's latency during each run.
//!   Once with the backup (the default) and once with `"backup": false`
//!   (no `DUMP`, no rollback possible). Target: ≥ 3× the baseline. A
//!   `limit` line gives the most any job can reach that asks the node
//!   for the same work: the baseline's time over the node's CPU for the
//!   ticket's commands.
//! - **migration**, rate 1,000,000 keys/s, verification on (1 % sample and
//!   the key counts, the default), a live standalone source into a
//!   3-master cluster, with `RESTORE` and with commands (`write:
//!   "commands"`), the source read live (`SCAN` + `DUMP`), once more
//!   with `RESTORE` from a snapshot fetched as a replica (`"method":
//!   "rdb"`, its fetch time counted), and with `RESTORE` from the very RDB
//!   file the baseline reads (`"source": {"file": …}`, in the service's
//!   `allowed_dirs`: both sides read the same file): keys/s and MB/s against `rdbscope dump --format resp
//!   FILE` of the source's RDB, split by slot in this bench and piped into
//!   one `redis-cli --pipe` per master (`redis-cli -c --pipe` would not
//!   follow the cluster's redirections). MB/s of both is the source RDB
//!   file's size over the time. Target: ≥ the baseline.
//!
//! Job time is the job's own: the cleanup's `seconds`, the migration's
//! `fetch_seconds + copy_seconds + verify_seconds`, the analysis source's `fetch_secs`,
//! measured inside the run, so no approval wait or queueing counts. The
//! wall time from `running` to the end, polled every 20 ms, is printed
//! beside it. Baselines are timed from their start to their last
//! process's exit.
//!
//!     cargo bench --bench wire                       # a few minutes
//!     WIRE_QUICK=1 cargo bench --bench wire          # a quick check, small data, one run each
//!     WIRE_OPS=cleanup WIRE_CLEAN_KEYS=500000 cargo bench --bench wire
//!
//! Settings (environment): `WIRE_OPS` (`fetch,cleanup,migrate`),
//! `WIRE_FETCH_MB` (the fetched snapshot's size, default 256, quick 16),
//! `WIRE_CLEAN_KEYS` (default 200,000, quick 20,000), `WIRE_MIGRATE_KEYS`
//! (default 100,000, quick 10,000), `WIRE_BATCH` (the jobs' `batch`,
//! default 1000), `WIRE_REPEAT` (runs of each, best taken; default 3, quick
//! 1), `WIRE_MIGRATIONS` (which migration rows: `file` (`RESTORE`, the
//! RDB file as the source), `file-commands` (the same file written as
//! commands), `scan` (`RESTORE`, live), `commands` (live),
//! `rdb` (`RESTORE`, fetched as a replica); default all), `WIRE_TARGET`
//! (`6.2`: the target masters run Redis 6.2, older than the source's
//! format, so `RESTORE` rows re-encode), `WIRE_RDBSCOPE`
//! (the `rdbscope` binary to run, default this build's: another commit's
//! build for an A/B). Exits non-zero when a run goes wrong (a key left, a key missing, a
//! failed ticket); a target missed is reported, not a failure.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use testkit::{
    env_list, env_u64, require_server, RedisServer, ServeSetup, Served, ServerBin, ServerKind,
};

type Cmd = Vec<Vec<u8>>;

/// Set in the child process that runs one fetch: `addr|dest`.
const CHILD_ENV: &str = "WIRE_FETCH_CHILD";
const FETCH_TARGET: f64 = 0.8;
const CLEANUP_TARGET: f64 = 3.0;
const MIGRATE_TARGET: f64 = 1.0;
/// The highest rate a ticket may ask for.
const NO_LIMIT: u64 = 1_000_000;

struct Opts {
    quick: bool,
    ops: Vec<String>,
    fetch_mb: u64,
    clean_keys: u64,
    migrate_keys: u64,
    batch: u64,
    repeat: usize,
    /// Which migration rows: `file`, `scan`, `commands`, `rdb`.
    migrations: Vec<String>,
    /// The migration's target masters run Redis 6.2 (RDB 9, older than
    /// the source's): `"write": "auto"` re-encodes.
    older_target: bool,
}

impl Opts {
    fn from_env() -> Opts {
        let quick = std::env::var("WIRE_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        let q = |full: u64, small: u64| if quick { small } else { full };
        Opts {
            quick,
            ops: env_list("WIRE_OPS", "fetch,cleanup,migrate"),
            fetch_mb: env_u64("WIRE_FETCH_MB", q(256, 16), 1, 8192),
            clean_keys: env_u64("WIRE_CLEAN_KEYS", q(200_000, 20_000), 100, 10_000_000),
            migrate_keys: env_u64("WIRE_MIGRATE_KEYS", q(100_000, 10_000), 100, 10_000_000),
            batch: env_u64("WIRE_BATCH", 1000, 1, 10_000),
            repeat: env_u64("WIRE_REPEAT", q(3, 1), 1, 20) as usize,
            migrations: env_list("WIRE_MIGRATIONS", "file,file-commands,scan,commands,rdb"),
            older_target: std::env::var("WIRE_TARGET").is_ok_and(|v| v == "6.2"),
        }
    }
}

// ---- the service ------------------------------------------------------------

/// The `rdbscope` binary run: this build's, or `WIRE_RDBSCOPE` (another
/// build's, for a side-by-side of two commits on the same data).
fn rdbscope_bin() -> String {
    std::env::var("WIRE_RDBSCOPE").unwrap_or_else(|_| env!("CARGO_BIN_EXE_rdbscope").to_string())
}

fn serve() -> Served {
    // One admin files and approves every ticket: the default policies
    // would ask a plan of over 100,000 keys for two people. Files a
    // migration may read as its source (`{"file": …}`) go in `files`.
    ServeSetup::new(&rdbscope_bin(), "wire-bench", None, |dir| {
        let files = dir.join("files");
        std::fs::create_dir_all(&files).unwrap();
        format!(
            "workers = 2\nallow_self_approval = true\nallowed_dirs = [\"{}\"]\n[[approval_policies]]\nkind = \"*\"\napprovals = [\"admin\"]\n",
            files.display()
        )
    })
    .start()
}

/// What the bench asks of the service.
trait Calls {
    /// One call as the admin; a status other than 2xx fails the bench.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value;
    fn add_app(&self, name: &str, kind: &str, port: u16);
    /// The service's last 20 log lines.
    fn log_tail(&self) -> String;
    /// Files a ticket, approves it, waits for its end: the ticket, and the
    /// seconds from the first poll that saw it `running` to the first that
    /// saw it end (polled every 20 ms).
    fn run_ticket(&self, kind: &str, params: Value) -> (Value, f64);
}

impl Calls for Served {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {}", self.admin);
        let resp = if method == "GET" {
            agent.get(&url).header("Authorization", &auth).call()
        } else {
            let r = agent.post(&url).header("Authorization", &auth);
            match body {
                Some(b) => r
                    .header("Content-Type", "application/json")
                    .send(b.to_string()),
                None => r.send_empty(),
            }
        };
        let mut resp = resp.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .unwrap();
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {text}"
        );
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }

    fn add_app(&self, name: &str, kind: &str, port: u16) {
        self.call(
            "POST",
            "/apps",
            Some(json!({"name": name, "kind": kind, "addr": format!("127.0.0.1:{port}")})),
        );
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("serve.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    fn run_ticket(&self, kind: &str, params: Value) -> (Value, f64) {
        let t = self.call(
            "POST",
            "/tickets",
            Some(json!({"type": kind, "params": params})),
        );
        let id = t["id"].as_i64().unwrap_or_else(|| panic!("no id: {t}"));
        self.call("POST", &format!("/tickets/{id}/approve"), None);
        let approved = Instant::now();
        let mut running = None;
        let deadline = approved + Duration::from_secs(1800);
        loop {
            let t = self.call("GET", &format!("/tickets/{id}"), None);
            match t["state"].as_str().unwrap_or_default() {
                "running" => {
                    running.get_or_insert_with(Instant::now);
                }
                "succeeded" => {
                    let secs = running.unwrap_or(approved).elapsed().as_secs_f64();
                    return (t, secs);
                }
                "failed" | "cancelled" | "rejected" => {
                    panic!("{kind} ticket {id} ended badly: {t}\n{}", self.log_tail())
                }
                "pending" if approved.elapsed() > Duration::from_secs(10) => {
                    panic!("{kind} ticket {id} still waits for approval: {t}")
                }
                _ => {}
            }
            assert!(
                Instant::now() < deadline,
                "{kind} ticket {id} stuck: {t}\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

// ---- processes, timing, latency ---------------------------------------------

/// What [`timed`] saw of a process.
struct Timed {
    secs: f64,
    /// Peak RSS in MB (with GNU time).
    rss_mb: Option<f64>,
    /// User + system CPU seconds of it and the children it waited for
    /// (with GNU time).
    cpu: Option<f64>,
    stdout: String,
}

/// Runs `argv` to its end (under GNU time when it is installed, for the
/// peak RSS and the CPU time).
fn timed(scratch: &Path, argv: &[String], envs: &[(&str, String)]) -> Timed {
    let gnu = Path::new("/usr/bin/time").is_file();
    let time_file = scratch.join("time.txt");
    let mut cmd = if gnu {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-v").arg("-o").arg(&time_file).args(argv);
        c
    } else {
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..]);
        c
    };
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let t = Instant::now();
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{argv:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = if gnu {
        std::fs::read_to_string(&time_file).unwrap_or_default()
    } else {
        String::new()
    };
    let field = |name: &str| {
        report
            .lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    let cpu = match (
        field("User time (seconds): "),
        field("System time (seconds): "),
    ) {
        (Some(u), Some(s)) => Some(u + s),
        _ => None,
    };
    Timed {
        secs,
        rss_mb: field("Maximum resident set size (kbytes): ").map(|kb| kb / 1024.0),
        cpu,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    }
}

/// User + system CPU seconds a live process has used so far.
fn proc_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    let ticks: f64 = sh("getconf", &["CLK_TCK"]).parse().unwrap_or(100.0);
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / ticks
}

/// CPU seconds the servers have used so far (`INFO cpu`).
fn server_cpu(nodes: &[&RedisServer]) -> f64 {
    nodes
        .iter()
        .map(|n| {
            let info = n.client().must(&["INFO", "cpu"]);
            let text = info.as_str().unwrap_or_default().to_string();
            text.lines()
                .filter(|l| l.starts_with("used_cpu_sys:") || l.starts_with("used_cpu_user:"))
                .filter_map(|l| l.split_once(':')?.1.trim().parse::<f64>().ok())
                .sum::<f64>()
        })
        .sum()
}

/// PINGs the node every 10 ms on its own connection until stopped.
struct Sampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<u32>>,
}

#[derive(Clone, Copy, Default)]
struct Latency {
    samples: usize,
    p50: f64,
    p99: f64,
    max: f64,
}

impl Sampler {
    fn start(port: u16) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.set_nodelay(true).unwrap();
            let mut micros = Vec::new();
            let mut buf = [0u8; 7];
            while !flag.load(Ordering::Relaxed) {
                let t = Instant::now();
                s.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
                s.read_exact(&mut buf).unwrap();
                assert_eq!(&buf, b"+PONG\r\n");
                micros.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
                std::thread::sleep(Duration::from_millis(10));
            }
            micros
        });
        Sampler { stop, thread }
    }

    fn finish(self) -> Latency {
        self.stop.store(true, Ordering::Relaxed);
        let mut m = self.thread.join().unwrap();
        m.sort_unstable();
        let at = |p: f64| {
            if m.is_empty() {
                0.0
            } else {
                m[((m.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
            }
        };
        Latency {
            samples: m.len(),
            p50: at(0.5),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

fn dbsize(n: &RedisServer) -> i64 {
    n.client().must(&["DBSIZE"]).as_int().unwrap()
}

fn load(n: &RedisServer, cmds: &[Cmd]) {
    let mut c = n.client();
    for chunk in cmds.chunks(5000) {
        for r in c.pipeline_must(chunk) {
            assert!(!r.is_error(), "loading: {r:?}");
        }
    }
}

struct Rng(u64);

impl Rng {
    fn step(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// `n` bytes that LZF cannot shrink.
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.step().to_le_bytes());
        }
        v.truncate(n);
        v
    }
}

fn bs(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// One line of the results table.
struct Row {
    op: String,
    unit: &'static str,
    ours: f64,
    base: f64,
    target: f64,
}

fn cli_path(bin: &ServerBin) -> String {
    let beside = bin.path.with_file_name("redis-cli");
    if beside.is_file() {
        beside.display().to_string()
    } else {
        "redis-cli".into()
    }
}

// ---- snapshot fetch ---------------------------------------------------------

/// The child process: one fetch with the service's replica code.
fn fetch_child(spec: &str) {
    let (addr, dest) = spec.split_once('|').expect("addr|dest");
    let opts = jobsvc::replica::FetchOptions::new(addr);
    match jobsvc::replica::fetch_rdb(
        &opts,
        Path::new(dest),
        &mut |_, _| {},
        &AtomicBool::new(false),
    ) {
        Ok(got) => println!("{}", got.bytes),
        Err(e) => {
            eprintln!("fetch: {e}");
            std::process::exit(1);
        }
    }
}

fn bench_fetch(o: &Opts, bin: &ServerBin, served: &Served, rows: &mut Vec<Row>) {
    let cli = cli_path(bin);
    let node = bin
        .start(&["--repl-diskless-sync-delay", "0"])
        .expect("start redis-server");
    let value = 1000usize;
    let keys = o.fetch_mb * 1_000_000 / (value as u64 + 30);
    eprintln!("fetch: filling {keys} keys of {value} bytes");
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut c = node.client();
    let mut i = 0u64;
    while i < keys {
        let cmds: Vec<Cmd> = (i..keys.min(i + 2000))
            .map(|k| {
                vec![
                    b"SET".to_vec(),
                    format!("blob:{k}").into_bytes(),
                    rng.bytes(value),
                ]
            })
            .collect();
        c.pipeline_must(&cmds);
        i += 2000;
    }
    served.add_app("fetched", "standalone", node.port());
    let scratch = testkit::temp_dir("wire-fetch");
    let exe = std::env::current_exe().unwrap().display().to_string();
    let addr = format!("127.0.0.1:{}", node.port());
    println!("\n## snapshot fetch: {keys} keys, values of {value} random bytes\n");
    println!("| mode | run | redis-cli --rdb s | MB/s | peak RSS MB | rdbscope fetch s | MB/s | peak RSS MB |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for mode in ["disk", "diskless"] {
        c.must(&[
            "CONFIG",
            "SET",
            "repl-diskless-sync",
            if mode == "disk" { "no" } else { "yes" },
        ]);
        let (mut best_base, mut best_ours) = (0f64, 0f64);
        let (mut rss_base, mut rss_ours) = (0f64, 0f64);
        let mut size = 0u64;
        for run in 1..=o.repeat {
            let file = scratch.join("cli.rdb");
            let Timed {
                secs: bs,
                rss_mb: brss,
                ..
            } = timed(
                scratch.path(),
                &[
                    cli.clone(),
                    "-p".into(),
                    node.port().to_string(),
                    "--rdb".into(),
                    file.display().to_string(),
                ],
                &[],
            );
            size = std::fs::metadata(&file).unwrap().len();
            std::fs::remove_file(&file).unwrap();
            let dest = scratch.join("ours.rdb");
            let Timed {
                secs: os,
                rss_mb: orss,
                stdout: out,
                ..
            } = timed(
                scratch.path(),
                std::slice::from_ref(&exe),
                &[(CHILD_ENV, format!("{addr}|{}", dest.display()))],
            );
            let got: u64 = out.trim().parse().unwrap_or(0);
            assert!(
                got > 0 && got.abs_diff(size) < size / 20 + 4096,
                "fetched {got} bytes, redis-cli {size}"
            );
            std::fs::remove_file(&dest).unwrap();
            let (bm, om) = (size as f64 / 1e6 / bs, got as f64 / 1e6 / os);
            best_base = best_base.max(bm);
            best_ours = best_ours.max(om);
            rss_base = rss_base.max(brss.unwrap_or(0.0));
            rss_ours = rss_ours.max(orss.unwrap_or(0.0));
            let rss = |r: Option<f64>| r.map_or("-".into(), |r| format!("{r:.1}"));
            println!(
                "| {mode} | {run} | {bs:.3} | {bm:.0} | {} | {os:.3} | {om:.0} | {} |",
                rss(brss),
                rss(orss)
            );
        }
        println!(
            "| {mode} | best | | {best_base:.0} | {rss_base:.1} | | {best_ours:.0} | {rss_ours:.1} |"
        );
        rows.push(Row {
            op: format!("fetch, {mode} ({:.0} MB)", size as f64 / 1e6),
            unit: "MB/s",
            ours: best_ours,
            base: best_base,
            target: FETCH_TARGET,
        });
        // The same fetch inside an analysis ticket: its own fetch time.
        let (t, polled) =
            served.run_ticket("analysis", json!({"app": "fetched", "keys_table": false}));
        let s = &t["result"]["sources"][0];
        let secs = s["fetch_secs"].as_f64().expect("fetch_secs");
        let bytes = s["rdb_bytes"].as_u64().unwrap_or(0);
        let mbs = bytes as f64 / 1e6 / secs;
        println!(
            "| {mode} | analysis ticket | | | | {secs:.3} (ticket {polled:.2} s in all) | {mbs:.0} | |"
        );
        rows.push(Row {
            op: format!("fetch, {mode}, in an analysis ticket"),
            unit: "MB/s",
            ours: mbs,
            base: best_base,
            target: FETCH_TARGET,
        });
    }
    println!("\nPeak RSS: of the `redis-cli` process, and of a process running only the service's fetch code (the service itself holds more: its store, API and other jobs).");
}

// ---- cleanup ----------------------------------------------------------------

/// The cleanup's data: `n` keys under `tmp:` (strings of 16 bytes, but
/// for one hash, one set and one list of 8 members in every 20 keys), 4
/// hashes of 5,000 fields under `tmp:big:` (the job empties them in chunks
/// before their `UNLINK`), and `n / 4` strings under `keep:` that stay.
/// Returns the commands, the keys matched, their elements (a string
/// counts 1), and the keys kept.
fn cleanup_data(n: u64) -> (Vec<Cmd>, u64, u64, u64) {
    let mut cmds: Vec<Cmd> = Vec::new();
    let mut elements = 0u64;
    let b = bs;
    for i in 0..n {
        let (cmd, key, each) = match i % 20 {
            0 => ("HSET", format!("tmp:h:{i}"), 2),
            1 => ("SADD", format!("tmp:s:{i}"), 1),
            2 => ("RPUSH", format!("tmp:l:{i}"), 1),
            _ => {
                cmds.push(vec![
                    b("SET"),
                    b(&format!("tmp:{i}")),
                    b("0123456789abcdef"),
                ]);
                elements += 1;
                continue;
            }
        };
        let mut c = vec![b(cmd), b(&key)];
        for j in 0..8 {
            c.push(b(&format!("m{j}")));
            if each == 2 {
                c.push(b("v"));
            }
        }
        cmds.push(c);
        elements += 8;
    }
    for big in 0..4 {
        for part in 0..10 {
            let mut c = vec![b("HSET"), b(&format!("tmp:big:{big}"))];
            for f in 0..500 {
                c.push(b(&format!("f{}", part * 500 + f)));
                c.push(b("v"));
            }
            cmds.push(c);
        }
        elements += 5000;
    }
    let kept = n / 4;
    for i in 0..kept {
        cmds.push(vec![b("SET"), b(&format!("keep:{i}")), b("x")]);
    }
    (cmds, n + 4, elements, kept)
}

fn bench_cleanup(o: &Opts, bin: &ServerBin, served: &Served, rows: &mut Vec<Row>) {
    let cli = cli_path(bin);
    let node = bin.start(&[]).expect("start redis-server");
    let (cmds, matched, elements, kept) = cleanup_data(o.clean_keys);
    let refill = || {
        node.client().must(&["FLUSHALL"]);
        load(&node, &cmds);
        assert_eq!(dbsize(&node), (matched + kept) as i64, "refill");
    };
    served.add_app("cleaned", "standalone", node.port());
    let port = node.port().to_string();
    let script = format!(
        "'{cli}' -p {port} --scan --pattern 'tmp:*' | xargs '{cli}' -p {port} unlink > /dev/null"
    );
    println!(
        "\n## cleanup: {matched} keys ({elements} elements) under `tmp:`, {kept} others; rate {NO_LIMIT}, batch {}\n",
        o.batch
    );
    println!("| run | what | seconds | keys/s | elements/s | PING p50 ms | p99 ms | max ms | samples | redis CPU s | client CPU s |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let (mut base_s, mut ours_s, mut fast_s) = (f64::MAX, f64::MAX, f64::MAX);
    // The node's CPU over each kind of ticket's run, least of the runs.
    let (mut ours_cpu, mut fast_cpu) = (f64::MAX, f64::MAX);
    let scratch = testkit::temp_dir("wire-clean");
    for run in 1..=o.repeat {
        refill();
        let sampler = Sampler::start(node.port());
        let cpu0 = server_cpu(&[&node]);
        let b = timed(
            scratch.path(),
            &["sh".into(), "-c".into(), script.clone()],
            &[],
        );
        let lat = sampler.finish();
        let cpu = (server_cpu(&[&node]) - cpu0, b.cpu);
        assert_eq!(dbsize(&node), kept as i64, "the baseline left keys");
        print_clean_row(
            (run, "scan \\| xargs unlink"),
            (b.secs, b.secs),
            (matched, elements),
            lat,
            cpu,
        );
        base_s = base_s.min(b.secs);

        for (backup, what, best, node_cpu) in [
            (true, "cleanup ticket", &mut ours_s, &mut ours_cpu),
            (
                false,
                "cleanup ticket, `backup: false`",
                &mut fast_s,
                &mut fast_cpu,
            ),
        ] {
            refill();
            let sampler = Sampler::start(node.port());
            let cpu0 = (server_cpu(&[&node]), proc_cpu(served.child.id()));
            let (t, polled) = served.run_ticket(
                "cleanup",
                json!({"app": "cleaned", "patterns": [{"prefix": "tmp:"}], "rate": NO_LIMIT, "batch": o.batch, "backup": backup}),
            );
            let lat = sampler.finish();
            let cpu = (
                server_cpu(&[&node]) - cpu0.0,
                Some(proc_cpu(served.child.id()) - cpu0.1),
            );
            let r = &t["result"];
            assert_eq!(r["deleted"].as_u64(), Some(matched), "{r}");
            assert_eq!(dbsize(&node), kept as i64, "the cleanup left keys");
            let secs = r["seconds"].as_f64().expect("seconds");
            print_clean_row((run, what), (secs, polled), (matched, elements), lat, cpu);
            *best = best.min(secs);
            *node_cpu = node_cpu.min(cpu.0);
        }
    }
    println!("\n(The ticket's seconds are its own `seconds`; the polled time from `running` to its end is in brackets. Redis CPU: the node's `used_cpu_sys + used_cpu_user` over the run; client CPU: the shell pipeline's processes, or the service process over the ticket.)");
    // However little a job makes the node wait, the node's own work for
    // its commands bounds it: the baseline's time over that CPU time.
    println!(
        "\nlimit: the node's CPU for the ticket's commands, least of the runs: {ours_cpu:.2} s with the backup (`SCAN`, `PTTL` + `DUMP`, sizes, `UNLINK`), {fast_cpu:.2} s without; the baseline's best time over it, {:.2}× and {:.2}×, is the most a job asking the node for that work can reach",
        base_s / ours_cpu,
        base_s / fast_cpu
    );
    for (what, secs) in [("", ours_s), (", `backup: false`", fast_s)] {
        for (unit, n) in [("keys/s", matched), ("elements/s", elements)] {
            rows.push(Row {
                op: format!("cleanup ({matched} keys){what}"),
                unit,
                ours: n as f64 / secs,
                base: n as f64 / base_s,
                target: CLEANUP_TARGET,
            });
        }
    }
}

fn print_clean_row(
    (run, what): (usize, &str),
    (secs, polled): (f64, f64),
    (keys, elements): (u64, u64),
    lat: Latency,
    (redis_cpu, client_cpu): (f64, Option<f64>),
) {
    let s = if (secs - polled).abs() > 1e-9 {
        format!("{secs:.3} ({polled:.2})")
    } else {
        format!("{secs:.3}")
    };
    println!(
        "| {run} | {what} | {s} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {redis_cpu:.2} | {} |",
        keys as f64 / secs,
        elements as f64 / secs,
        lat.p50,
        lat.p99,
        lat.max,
        lat.samples,
        client_cpu.map_or("-".into(), |c| format!("{c:.2}"))
    );
}

// ---- migration --------------------------------------------------------------

/// Three masters made into a cluster by hand (slots split, MEET).
fn cluster(bin: &ServerBin) -> Vec<RedisServer> {
    let nodes: Vec<RedisServer> = (0..3)
        .map(|_| {
            bin.start(&["--cluster-enabled", "yes", "--cluster-node-timeout", "5000"])
                .unwrap()
        })
        .collect();
    for (n, (a, b)) in nodes.iter().zip(RANGES) {
        // `ADDSLOTS` with every slot: `ADDSLOTSRANGE` is Redis 7.0's.
        let mut cmd = vec!["CLUSTER".to_string(), "ADDSLOTS".to_string()];
        cmd.extend((a..=b).map(|s| s.to_string()));
        n.client().must(&cmd);
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
        assert!(Instant::now() < deadline, "the cluster did not form");
        std::thread::sleep(Duration::from_millis(200));
    }
    nodes
}

const RANGES: [(u16, u16); 3] = [(0, 5460), (5461, 10922), (10923, 16383)];

/// The migration's data: `n` keys, 60 % strings of 100 bytes (a seventh
/// of them with a TTL), 10 % each hashes, lists, sets and sorted sets of
/// 10 members.
fn migrate_data(n: u64) -> Vec<Cmd> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let b = bs;
    (0..n)
        .map(|i| {
            let (cmd, key) = match i % 10 {
                0 => ("HSET", format!("m:h:{i}")),
                1 => ("RPUSH", format!("m:l:{i}")),
                2 => ("SADD", format!("m:s:{i}")),
                3 => ("ZADD", format!("m:z:{i}")),
                _ => {
                    let mut c = vec![b("SET"), b(&format!("m:{i}")), rng.bytes(100)];
                    if i % 7 == 0 {
                        c.extend([b("EX"), b("864000")]);
                    }
                    return c;
                }
            };
            let mut c = vec![b(cmd), b(&key)];
            for j in 0..10 {
                if cmd == "ZADD" {
                    c.push(b(&j.to_string()));
                }
                c.push(b(&format!("member-{j}")));
                if cmd == "HSET" {
                    c.push(b(&format!("value-{j}")));
                }
            }
            c
        })
        .collect()
}

/// Reads one RESP command into `raw`: the byte range of its second
/// argument (the key; empty when none) and whether it is `SELECT`; None at
/// the end of the stream.
fn read_command(r: &mut impl BufRead, raw: &mut Vec<u8>) -> Option<(usize, usize, bool)> {
    raw.clear();
    let n = read_header(r, raw, b'*')?;
    let (mut name, mut key) = ((0, 0), (0, 0));
    for i in 0..n {
        let len = read_header(r, raw, b'$').expect("a bulk string header");
        let at = raw.len();
        raw.resize(at + len + 2, 0);
        r.read_exact(&mut raw[at..]).expect("a bulk string");
        match i {
            0 => name = (at, at + len),
            1 => key = (at, at + len),
            _ => {}
        }
    }
    let select = raw[name.0..name.1].eq_ignore_ascii_case(b"SELECT");
    Some((key.0, key.1, select))
}

fn read_header(r: &mut impl BufRead, raw: &mut Vec<u8>, tag: u8) -> Option<usize> {
    let at = raw.len();
    if r.read_until(b'\n', raw).ok()? == 0 {
        return None;
    }
    assert_eq!(
        raw[at],
        tag,
        "RESP: {:?}",
        String::from_utf8_lossy(&raw[at..])
    );
    std::str::from_utf8(&raw[at + 1..raw.len() - 2])
        .ok()?
        .parse()
        .ok()
}

/// The baseline: `rdbscope dump --format resp FILE`, each command sent to
/// the master of its key's slot through one `redis-cli --pipe` per master.
/// Returns the seconds.
fn dump_and_pipe(file: &Path, cli: &str, masters: &[RedisServer]) -> f64 {
    let t = Instant::now();
    let mut dump = Command::new(rdbscope_bin())
        .args(["dump", "--format", "resp"])
        .arg(file)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipes: Vec<Child> = masters
        .iter()
        .map(|m| {
            Command::new(cli)
                .args(["-p", &m.port().to_string(), "--pipe"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut outs: Vec<BufWriter<std::process::ChildStdin>> = pipes
        .iter_mut()
        .map(|p| BufWriter::with_capacity(1 << 16, p.stdin.take().unwrap()))
        .collect();
    let mut r = BufReader::with_capacity(1 << 20, dump.stdout.take().unwrap());
    let mut raw = Vec::new();
    while let Some((a, b, select)) = read_command(&mut r, &mut raw) {
        if select {
            assert_eq!(&raw[a..b], b"0", "the cluster has db 0 only");
            continue;
        }
        let slot = analyzer::slot::key_slot(&raw[a..b]);
        let i = RANGES
            .iter()
            .position(|(lo, hi)| (*lo..=*hi).contains(&slot))
            .unwrap();
        outs[i].write_all(&raw).unwrap();
    }
    drop(outs);
    assert!(dump.wait().unwrap().success(), "rdbscope dump failed");
    for p in pipes {
        let out = p.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("errors: 0,"),
            "redis-cli --pipe: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    t.elapsed().as_secs_f64()
}

fn bench_migrate(o: &Opts, bin: &ServerBin, served: &Served, rows: &mut Vec<Row>) {
    let cli = cli_path(bin);
    let source = bin.start(&[]).expect("start redis-server");
    // `"method": "rdb"` fetches as a replica: no 5 s wait for more
    // replicas before a diskless transfer (as in the fetch runs).
    source
        .client()
        .must(&["CONFIG", "SET", "repl-diskless-sync-delay", "0"]);
    let n = o.migrate_keys;
    load(&source, &migrate_data(n));
    // The source's RDB, read by the baseline and by the file-source
    // migration alike (inside the service's allowed_dirs).
    let file = served.dir.join("files").join("source.rdb");
    std::fs::copy(source.save(), &file).unwrap();
    let size = std::fs::metadata(&file).unwrap().len();
    let target_bin = if o.older_target {
        require_server(ServerKind::Redis62)
            .expect("WIRE_TARGET=6.2: Redis 6.2 (testdata/install-servers.sh)")
    } else {
        bin.clone()
    };
    let masters = cluster(&target_bin);
    served.add_app("msource", "standalone", source.port());
    served.add_app("mtarget", "cluster", masters[0].port());
    let flush = || {
        for m in &masters {
            m.client().must(&["FLUSHALL"]);
        }
    };
    let count = || masters.iter().map(dbsize).sum::<i64>();
    let mb = size as f64 / 1e6;
    println!(
        "\n## migration: {n} keys, a {mb:.1} MB RDB, standalone → 3 masters ({}); rate {NO_LIMIT}, batch {}, verification on (1 % sample, counts)\n",
        target_bin.version(),
        o.batch
    );
    println!(
        "| run | what | seconds | keys/s | MB/s | redis CPU s (source + masters) | service CPU s |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    let all: Vec<&RedisServer> = std::iter::once(&source).chain(masters.iter()).collect();
    let mut base_s = f64::MAX;
    for run in 1..=o.repeat {
        flush();
        let cpu0 = server_cpu(&all);
        let s = dump_and_pipe(&file, &cli, &masters);
        let cpu = server_cpu(&all) - cpu0;
        assert_eq!(count(), n as i64, "the baseline's keys");
        println!(
            "| {run} | dump --format resp, by slot into 3 × redis-cli --pipe | {s:.3} | {:.0} | {:.1} | {cpu:.2} | - |",
            n as f64 / s,
            mb / s
        );
        base_s = base_s.min(s);
    }
    for (mode, method) in [
        ("restore", "file"),
        ("commands", "file"),
        ("restore", "scan"),
        ("commands", "scan"),
        ("restore", "rdb"),
    ] {
        let name = match (mode, method) {
            ("commands", "file") => "file-commands",
            ("commands", _) => mode,
            _ => method,
        };
        if !o.migrations.iter().any(|m| m == name) {
            continue;
        }
        // Into an older target `RESTORE` of the source's payloads is
        // refused: `auto` re-encodes them.
        let mode = if o.older_target && mode == "restore" {
            "auto"
        } else {
            mode
        };
        let src = if method == "file" {
            json!({"file": file})
        } else {
            json!({"app": "msource", "method": method})
        };
        let mut best = f64::MAX;
        for run in 1..=o.repeat {
            flush();
            let cpu0 = server_cpu(&all);
            let svc0 = proc_cpu(served.child.id());
            let (t, polled) = served.run_ticket(
                "migration",
                json!({"source": src, "target": "mtarget", "rate": NO_LIMIT, "batch": o.batch, "write": mode}),
            );
            let r = &t["result"];
            assert_eq!(r["counts"]["written"].as_u64(), Some(n), "{r}");
            assert_eq!(r["verification"]["mismatch_count"].as_u64(), Some(0), "{r}");
            assert_eq!(count(), n as i64, "the migration's keys");
            let copy = r["copy_seconds"].as_f64().expect("copy_seconds");
            let verify = r["verify_seconds"].as_f64().expect("verify_seconds");
            let fetch = r["fetch_seconds"].as_f64().unwrap_or(0.0);
            let s = fetch + copy + verify;
            let cpu = server_cpu(&all) - cpu0;
            // The whole service's, the ticket's polling included.
            let svc = proc_cpu(served.child.id()) - svc0;
            println!(
                "| {run} | migration ticket, source {method}, write {mode} (fetch {fetch:.3} + copy {copy:.3} + verify {verify:.3}; polled {polled:.2}) | {s:.3} | {:.0} | {:.1} | {cpu:.2} | {svc:.2} |",
                n as f64 / s,
                mb / s
            );
            best = best.min(s);
        }
        for (unit, amount) in [("keys/s", n as f64), ("MB/s", mb)] {
            rows.push(Row {
                op: format!("migration, source {method}, {mode} ({n} keys)"),
                unit,
                ours: amount / best,
                base: amount / base_s,
                target: MIGRATE_TARGET,
            });
        }
    }
}

// ---- the report -------------------------------------------------------------

fn sh(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into())
}

/// Total and steal jiffies of all CPUs.
fn cpu_stat() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let nums: Vec<u64> = text
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    (nums.iter().sum(), nums.get(7).copied().unwrap_or(0))
}

fn meminfo(field: &str) -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1048576.0
}

fn facts(o: &Opts, bin: &ServerBin) {
    let root = env!("CARGO_MANIFEST_DIR");
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']))
                .map(str::to_string)
        })
        .unwrap_or_else(|| "?".into());
    let dirty = !Command::new("git")
        .args(["-C", root, "diff", "--quiet", "HEAD"])
        .status()
        .is_ok_and(|s| s.success());
    println!("# live operations at wire speed (benches/wire.rs)\n");
    println!("```");
    println!(
        "date        {}",
        sh("date", &["-u", "+%Y-%m-%d %H:%M:%S UTC"])
    );
    println!(
        "machine     {} CPUs: {cpu}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "memory      {:.1} GiB total, {:.1} GiB available",
        meminfo("MemTotal:"),
        meminfo("MemAvailable:")
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!(
        "load avg    {} (at start; the machine may be shared)",
        load.join(" ")
    );
    println!("kernel      {}", sh("uname", &["-sr"]));
    println!(
        "rdbscope    {}{}",
        sh("git", &["-C", root, "rev-parse", "--short", "HEAD"]),
        if dirty { " (+ local changes)" } else { "" }
    );
    println!("redis       {} ({})", bin.version(), bin.path.display());
    println!(
        "settings    ops {}, fetch {} MB, cleanup {} keys, migration {} keys, batch {}, best of {}{}",
        o.ops.join(","),
        o.fetch_mb,
        o.clean_keys,
        o.migrate_keys,
        o.batch,
        o.repeat,
        if o.quick { " (quick)" } else { "" }
    );
    println!("```");
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        fetch_child(&spec);
        return;
    }
    let o = Opts::from_env();
    let Some(bin) = require_server(ServerKind::Redis70) else {
        eprintln!("SKIP: no redis-server 7.0 (testdata/install-servers.sh)");
        return;
    };
    for op in &o.ops {
        assert!(
            ["fetch", "cleanup", "migrate"].contains(&op.as_str()),
            "WIRE_OPS: fetch, cleanup, migrate"
        );
    }
    let (t0, s0) = cpu_stat();
    facts(&o, &bin);
    let served = serve();
    let mut rows = Vec::new();
    let started = Instant::now();
    if o.ops.iter().any(|x| x == "fetch") {
        bench_fetch(&o, &bin, &served, &mut rows);
    }
    if o.ops.iter().any(|x| x == "cleanup") {
        bench_cleanup(&o, &bin, &served, &mut rows);
    }
    if o.ops.iter().any(|x| x == "migrate") {
        bench_migrate(&o, &bin, &served, &mut rows);
    }
    println!("\n## against the baselines\n");
    println!("| operation | unit | rdbscope | baseline | ratio | target | |");
    println!("|---|---|---:|---:|---:|---:|---|");
    // Three significant digits at least.
    let fig = |x: f64| {
        if x >= 100.0 {
            format!("{x:.0}")
        } else if x >= 10.0 {
            format!("{x:.1}")
        } else {
            format!("{x:.2}")
        }
    };
    for r in &rows {
        let ratio = r.ours / r.base;
        println!(
            "| {} | {} | {} | {} | {ratio:.2}× | ≥ {:.2}× | {} |",
            r.op,
            r.unit,
            fig(r.ours),
            fig(r.base),
            r.target,
            if ratio >= r.target { "met" } else { "missed" }
        );
    }
    let (t1, s1) = cpu_stat();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!(
        "\nran {:.0} s; load avg {} at the end; cpu steal {:.0} % of this VM's CPU time during the run",
        started.elapsed().as_secs_f64(),
        load.join(" "),
        100.0 * (s1 - s0) as f64 / (t1 - t0).max(1) as f64
    );
}
