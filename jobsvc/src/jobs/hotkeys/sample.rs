//! Finding the hottest keys of a live node over a time window, for
//! `hotkeys` tickets.
//!
//! Two ways, because each has a cost the approver should weigh:
//!
//! - **LFU** ([`HotKeyMethod::Lfu`]): when the node's `maxmemory-policy` is
//!   an LFU policy, every key already carries a logarithmic access counter.
//!   We `SCAN` the keyspace and read it with `OBJECT FREQ` (which does not
//!   touch the key), pipelined per batch. Cheap for the node, but the
//!   counter is coarse: see [`lfu_estimate`].
//! - **MONITOR** ([`HotKeyMethod::Monitor`]): we watch every command the
//!   node runs for the window and count the keys they name in a bounded
//!   Space-Saving sketch. Exact enough, but `MONITOR` costs the node
//!   throughput while it runs.
//!
//! [`HotKeyMethod::Auto`] takes LFU where the counters exist, else MONITOR.
//! For an app with several masters the job samples each and combines the
//! lists with [`merge_top`].

use std::cmp::{Ordering as CmpOrdering, Reverse};
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::fmt;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::redis::{
    check_cancel, is_auth_error, is_transient_error, server_error, Reply, RespConn,
};

/// A node to sample and how to log in to it.
#[derive(Clone, PartialEq, Eq)]
pub struct NodeAddr {
    /// `host:port`; also what [`HotKey::node`] says.
    pub addr: String,
    /// ACL user for `AUTH user password`, or `None` for the default user.
    pub user: Option<String>,
    /// Password; `None` sends no `AUTH`.
    pub password: Option<String>,
}

/// Passwords stay out of logs.
impl fmt::Debug for NodeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeAddr")
            .field("addr", &self.addr)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// How to find hot keys (the ticket's `method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HotKeyMethod {
    /// LFU when the node's `maxmemory-policy` is `allkeys-lfu` or
    /// `volatile-lfu` (the counters exist and reading them is cheap), else
    /// MONITOR.
    Auto,
    /// Read the LFU counters with `SCAN` + `OBJECT FREQ`; fails when the
    /// node has no LFU policy (it keeps no counters then).
    Lfu,
    /// Count the keys of the commands seen by `MONITOR` for the window.
    Monitor,
}

/// What to sample and for how long.
#[derive(Clone, Debug, PartialEq)]
pub struct HotKeyOptions {
    /// MONITOR: how long to watch. LFU: a cap on the scan time (a keyspace
    /// too big to scan in it gives the top of the part scanned).
    pub duration: Duration,
    /// How many keys to return.
    pub top: usize,
    /// How to find them.
    pub method: HotKeyMethod,
    /// LFU: the `COUNT` hint of each `SCAN` (and so the pipeline batch).
    pub scan_count: usize,
}

/// One hot key.
#[derive(Clone, Debug, PartialEq)]
pub struct HotKey {
    /// The key, exact bytes.
    pub key: Vec<u8>,
    /// The node it was seen on (`host:port`).
    pub node: String,
    /// Its cluster slot (meaningful for cluster apps only).
    pub slot: u16,
    /// Estimated accesses per second; see `error_bound`.
    pub hits_per_sec: f64,
    /// `"lfu"` or `"monitor"`.
    pub method: &'static str,
    /// The true rate is believed to lie in
    /// `[hits_per_sec - error_bound, hits_per_sec]`. MONITOR: the
    /// Space-Saving overcount (0 for keys tracked from their first hit).
    /// LFU: the gap between the burst and the steady reading of the
    /// counter (see [`lfu_estimate`]).
    pub error_bound: f64,
}

/// Samples the node at `node` for its `opts.top` hottest keys, hottest first.
///
/// `progress` gets the fraction done (0..1). `cancel` is checked at least
/// every 200 ms; when set, the call stops with an error (a conflict, as in
/// the job runner).
pub fn hot_keys(
    node: &NodeAddr,
    opts: &HotKeyOptions,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(f64),
) -> Result<Vec<HotKey>> {
    check_cancel(cancel)?;
    let mut conn = connect(node)?;
    let ctx = |e: Error| e.context(format!("sampling hot keys on {}", node.addr));
    let policy = config_get(&mut conn, "maxmemory-policy").map_err(ctx)?;
    let is_lfu = policy.as_deref().is_some_and(|p| p.ends_with("-lfu"));
    let lfu = match opts.method {
        HotKeyMethod::Auto => is_lfu,
        HotKeyMethod::Monitor => false,
        HotKeyMethod::Lfu if is_lfu => true,
        HotKeyMethod::Lfu => {
            return Err(Error::bad_request(format!(
                "{}: method lfu needs an LFU maxmemory-policy, but the node's is {}",
                node.addr,
                policy.as_deref().unwrap_or("unknown (CONFIG GET failed)")
            )))
        }
    };
    let r = if lfu {
        lfu_top(conn, node, opts, cancel, progress)
    } else {
        monitor_top(conn, node, opts, cancel, progress)
    };
    let r = r.map_err(ctx)?;
    progress(1.0);
    Ok(r)
}

/// Combines the lists of several nodes (the masters of an app) into one top
/// `top`, hottest first. Rates from different methods are compared as they
/// are.
pub fn merge_top(lists: Vec<Vec<HotKey>>, top: usize) -> Vec<HotKey> {
    let mut all: Vec<HotKey> = lists.into_iter().flatten().collect();
    all.sort_by(hotter);
    all.truncate(top);
    all
}

fn hotter(a: &HotKey, b: &HotKey) -> CmpOrdering {
    b.hits_per_sec
        .total_cmp(&a.hits_per_sec)
        .then_with(|| a.key.cmp(&b.key))
        .then_with(|| a.node.cmp(&b.node))
}

/// `LFU_INIT_VAL` in Redis's `evict.c`: the counter of a new key.
const LFU_INIT_VAL: u32 = 5;

/// An estimated hit rate from an LFU counter: `(high, low)` in hits per
/// second. It is an estimate, and a coarse one.
///
/// Redis (`evict.c`) increments the 8-bit counter `c` on an access with
/// probability `1 / ((c - LFU_INIT_VAL) * lfu_log_factor + 1)` (1 below
/// `LFU_INIT_VAL` = 5), and takes one off per `lfu-decay-time` minutes
/// without access (checked on access, so a key accessed at least once per
/// period loses one step per period). So:
///
/// - **high** (burst reading): the expected number of hits to climb from
///   `LFU_INIT_VAL` to `c`, `sum(i = 5 .. c-1) of ((i - 5) * factor + 1)`,
///   all within the last decay period: that many hits over the period.
/// - **low** (steady reading): a key hit steadily for many periods holds
///   its counter where the hits of one period win back the one step decay
///   takes: `((c - 6) * factor + 1)` hits per period.
///
/// Keys at 5 or below have had no hit since they were created or decayed:
/// 0. A saturated counter (255) only says "at least" this much. With
/// `lfu-decay-time` 0 (no decay) the period is taken as one minute.
pub fn lfu_estimate(counter: u8, log_factor: f64, decay_minutes: u64) -> (f64, f64) {
    let c = u32::from(counter);
    if c <= LFU_INIT_VAL {
        return (0.0, 0.0);
    }
    let period = decay_minutes.max(1) as f64 * 60.0;
    let n = f64::from(c - LFU_INIT_VAL);
    // sum over j = 0 .. n-1 of (j * factor + 1)
    let burst = log_factor * n * (n - 1.0) / 2.0 + n;
    let steady = (n - 1.0) * log_factor + 1.0;
    (burst / period, steady.min(burst) / period)
}

fn connect(node: &NodeAddr) -> Result<RespConn> {
    let mut conn = RespConn::connect(&node.addr, Duration::from_secs(5), Duration::from_secs(30))?;
    conn.auth(node.user.as_deref(), node.password.as_deref())?;
    Ok(conn)
}

/// A reply that must not be an error.
fn ok_reply(reply: Reply, what: &str) -> Result<Reply> {
    match reply {
        Reply::Error(e) => Err(server_error(&e, what)),
        r => Ok(r),
    }
}

/// `CONFIG GET name`, `None` when the command is refused (renamed away,
/// missing permission) or the parameter is unknown.
fn config_get(conn: &mut RespConn, name: &str) -> Result<Option<String>> {
    match conn.command(&[b"CONFIG", b"GET", name.as_bytes()])? {
        Reply::Array(Some(items)) => Ok(items.into_iter().nth(1).and_then(|v| match v {
            Reply::Bulk(Some(b)) => Some(String::from_utf8_lossy(&b).into_owned()),
            _ => None,
        })),
        Reply::Error(e)
            if is_transient_error(&e) || e.starts_with("NOAUTH") || e.starts_with("WRONGPASS") =>
        {
            Err(server_error(&e, "CONFIG GET"))
        }
        _ => Ok(None),
    }
}

// ---------------------------------------------------------------- LFU

fn lfu_top(
    mut conn: RespConn,
    node: &NodeAddr,
    opts: &HotKeyOptions,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(f64),
) -> Result<Vec<HotKey>> {
    let start = Instant::now();
    let factor = config_get(&mut conn, "lfu-log-factor")?
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(10.0);
    let decay = config_get(&mut conn, "lfu-decay-time")?
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(1);
    let info = match ok_reply(conn.command(&[b"INFO", b"keyspace"])?, "INFO keyspace")? {
        Reply::Bulk(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
        other => return Err(Error::internal(format!("unexpected INFO reply {other:?}"))),
    };
    let dbs = crate::registry::parse_keyspace(&info);
    let total: u64 = dbs.iter().map(|&(_, n)| n).sum::<u64>().max(1);
    let top = opts.top.max(1);
    let count = opts.scan_count.max(1).to_string();
    // Min-heap of the best `top` so far: the root is the first to go.
    let mut heap: BinaryHeap<Reverse<(u8, Reverse<Vec<u8>>)>> = BinaryHeap::new();
    let mut scanned = 0u64;
    let mut out = Vec::new();
    'dbs: for &(db, _) in &dbs {
        if db != 0 {
            ok_reply(
                conn.command(&[b"SELECT", db.to_string().as_bytes()])?,
                "SELECT",
            )?;
        }
        let mut cursor = b"0".to_vec();
        loop {
            check_cancel(cancel)?;
            if start.elapsed() >= opts.duration {
                break 'dbs;
            }
            let reply = ok_reply(
                conn.command(&[b"SCAN", &cursor, b"COUNT", count.as_bytes()])?,
                "SCAN",
            )?;
            let (next, keys) = match reply {
                Reply::Array(Some(mut parts)) if parts.len() == 2 => {
                    let keys = parts.pop();
                    let next = parts.pop();
                    match (next, keys) {
                        (Some(Reply::Bulk(Some(n))), Some(Reply::Array(Some(k)))) => (n, k),
                        _ => return Err(Error::internal("unexpected SCAN reply")),
                    }
                }
                other => return Err(Error::internal(format!("unexpected SCAN reply {other:?}"))),
            };
            let keys: Vec<Vec<u8>> = keys
                .into_iter()
                .filter_map(|k| match k {
                    Reply::Bulk(Some(b)) => Some(b),
                    _ => None,
                })
                .collect();
            // OBJECT FREQ for the whole batch in one round trip.
            let mut pipe = Vec::new();
            for k in &keys {
                RespConn::encode(&mut pipe, &[b"OBJECT", b"FREQ", k]);
            }
            conn.write_raw(&pipe)?;
            for k in keys {
                match conn.read_reply()? {
                    Reply::Int(f) => {
                        let f = f.clamp(0, 255) as u8;
                        let item = Reverse((f, Reverse(k)));
                        if heap.len() < top {
                            heap.push(item);
                        } else if heap.peek().is_some_and(|min| item < *min) {
                            heap.pop();
                            heap.push(item);
                        }
                    }
                    // The key expired or was deleted since SCAN saw it.
                    Reply::Bulk(None) => {}
                    Reply::Error(e)
                        if e.contains("LFU") || is_auth_error(&e) || is_transient_error(&e) =>
                    {
                        return Err(server_error(&e, "OBJECT FREQ"))
                    }
                    _ => {}
                }
                scanned += 1;
            }
            progress((scanned as f64 / total as f64).min(0.99));
            if next == b"0" {
                break;
            }
            cursor = next;
        }
    }
    let mut best: Vec<(u8, Vec<u8>)> = heap
        .into_iter()
        .map(|Reverse((f, Reverse(k)))| (f, k))
        .collect();
    best.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    for (f, key) in best {
        let (high, low) = lfu_estimate(f, factor, decay);
        out.push(HotKey {
            slot: analyzer::slot::key_slot(&key),
            key,
            node: node.addr.clone(),
            hits_per_sec: high,
            method: "lfu",
            error_bound: high - low,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------- MONITOR

fn monitor_top(
    mut conn: RespConn,
    node: &NodeAddr,
    opts: &HotKeyOptions,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(f64),
) -> Result<Vec<HotKey>> {
    // Where each command keeps its keys, from the node itself.
    let specs = match conn.command(&[b"COMMAND"])? {
        Reply::Array(Some(cmds)) => KeySpecs::from_command_reply(&cmds),
        _ => KeySpecs::default(),
    };
    match conn.command(&[b"MONITOR"])? {
        Reply::Status(s) if s == "OK" => {}
        Reply::Error(e) => return Err(server_error(&e, "MONITOR")),
        other => {
            return Err(Error::internal(format!(
                "unexpected MONITOR reply {other:?}"
            )))
        }
    }
    let start = Instant::now();
    conn.set_read_timeout(Duration::from_millis(200))?;
    let mut sketch = SpaceSaving::new(opts.top.max(1).saturating_mul(10).max(100));
    let mut last_progress = Instant::now();
    while start.elapsed() < opts.duration {
        check_cancel(cancel)?;
        while let Some(line) = conn.take_line() {
            match line.first() {
                Some(b'+') => {
                    if let Some(args) = parse_monitor_line(&line) {
                        for i in specs.key_indices(&args) {
                            sketch.add(&args[i]);
                        }
                    }
                }
                Some(b'-') => {
                    return Err(server_error(
                        &String::from_utf8_lossy(&line[1..]),
                        "MONITOR",
                    ))
                }
                _ => {}
            }
        }
        if last_progress.elapsed() >= Duration::from_millis(200) {
            last_progress = Instant::now();
            progress(
                (start.elapsed().as_secs_f64() / opts.duration.as_secs_f64().max(1e-9)).min(0.99),
            );
        }
        match conn.fill() {
            Ok(0) => {
                return Err(Error::transient(format!(
                    "{} closed the MONITOR connection",
                    node.addr
                )))
            }
            Ok(_) => {}
            // An idle node is fine: nothing to count.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(conn.io_error(e)),
        }
    }
    let secs = start.elapsed().as_secs_f64().max(1e-3);
    conn.close();
    Ok(sketch
        .top(opts.top)
        .into_iter()
        .map(|(key, count, err)| HotKey {
            slot: analyzer::slot::key_slot(&key),
            key,
            node: node.addr.clone(),
            hits_per_sec: count as f64 / secs,
            method: "monitor",
            error_bound: err as f64 / secs,
        })
        .collect())
}

/// The arguments of one `MONITOR` line (`+1700000000.123456 [0 127.0.0.1:5000] "GET" "k"`,
/// with or without the leading `+`), unescaped to their exact bytes;
/// `None` for a line that is not a command (such as the `+OK` reply).
///
/// Redis quotes each argument with `sdscatrepr`: `\\`, `\"`, `\n`, `\r`,
/// `\t`, `\a`, `\b` and `\xHH` for other non-printable bytes.
pub fn parse_monitor_line(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let line = line.strip_prefix(b"+").unwrap_or(line);
    let line = line
        .strip_suffix(b"\r\n")
        .or_else(|| line.strip_suffix(b"\n"))
        .unwrap_or(line);
    // The timestamp.
    let sp = line.iter().position(|&b| b == b' ')?;
    if !line[..sp].iter().all(|b| b.is_ascii_digit() || *b == b'.') {
        return None;
    }
    let mut rest = &line[sp + 1..];
    // `[db client]`: no quotes, no `]` inside.
    if rest.first() == Some(&b'[') {
        let close = rest.iter().position(|&b| b == b']')?;
        rest = &rest[close + 1..];
    }
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while rest.get(i) == Some(&b' ') {
            i += 1;
        }
        if i >= rest.len() {
            break;
        }
        if rest[i] != b'"' {
            return None;
        }
        i += 1;
        let mut arg = Vec::new();
        loop {
            let &b = rest.get(i)?;
            i += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let &e = rest.get(i)?;
                    i += 1;
                    match e {
                        b'n' => arg.push(b'\n'),
                        b'r' => arg.push(b'\r'),
                        b't' => arg.push(b'\t'),
                        b'a' => arg.push(7),
                        b'b' => arg.push(8),
                        b'x' => {
                            let hex = rest.get(i..i + 2)?;
                            let v = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
                            arg.push(v);
                            i += 2;
                        }
                        other => arg.push(other),
                    }
                }
                other => arg.push(other),
            }
        }
        args.push(arg);
    }
    (!args.is_empty()).then_some(args)
}

/// Where a command's keys are: the legacy `(first, last, step)` triple of
/// `COMMAND` (positions in argv, `last` negative from the end), per command
/// and per `container|subcommand`.
#[derive(Default)]
struct KeySpecs {
    specs: HashMap<String, (i64, i64, i64)>,
}

impl KeySpecs {
    fn from_command_reply(cmds: &[Reply]) -> KeySpecs {
        let mut specs = HashMap::new();
        fn add(specs: &mut HashMap<String, (i64, i64, i64)>, c: &Reply) {
            let Reply::Array(Some(f)) = c else { return };
            let (
                Some(Reply::Bulk(Some(name))),
                Some(Reply::Int(first)),
                Some(Reply::Int(last)),
                Some(Reply::Int(step)),
            ) = (f.first(), f.get(3), f.get(4), f.get(5))
            else {
                return;
            };
            specs.insert(
                String::from_utf8_lossy(name).to_ascii_lowercase(),
                (*first, *last, *step),
            );
            // Redis 7: subcommands (`object|freq`) in field 10.
            if let Some(Reply::Array(Some(subs))) = f.get(9) {
                for s in subs {
                    add(specs, s);
                }
            }
        }
        for c in cmds {
            add(&mut specs, c);
        }
        KeySpecs { specs }
    }

    /// Positions in `args` (argv, with the command name at 0) that are keys.
    fn key_indices(&self, args: &[Vec<u8>]) -> Vec<usize> {
        let Some(name) = args.first() else {
            return Vec::new();
        };
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        let n = args.len();
        let numkeys = |at: usize| -> Vec<usize> {
            let k = args
                .get(at)
                .and_then(|a| std::str::from_utf8(a).ok())
                .and_then(|s| s.parse::<usize>().ok())
                .unwrap_or(0);
            (at + 1..(at + 1 + k).min(n)).collect()
        };
        // Commands whose keys move with their arguments.
        match name.as_str() {
            "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro" | "blmpop"
            | "bzmpop" => return numkeys(2),
            "zunionstore" | "zinterstore" | "zdiffstore" => {
                let mut k = vec![1];
                k.extend(numkeys(2));
                k.retain(|&i| i < n);
                return k;
            }
            "zunion" | "zinter" | "zdiff" | "zintercard" | "sintercard" | "lmpop" | "zmpop" => {
                return numkeys(1)
            }
            "xread" | "xreadgroup" => {
                let Some(s) = args.iter().position(|a| a.eq_ignore_ascii_case(b"streams")) else {
                    return Vec::new();
                };
                let rest = n - s - 1;
                return (s + 1..s + 1 + rest / 2).collect();
            }
            "migrate" => {
                if args.get(3).is_some_and(|a| a.is_empty()) {
                    if let Some(k) = args.iter().position(|a| a.eq_ignore_ascii_case(b"keys")) {
                        return (k + 1..n).collect();
                    }
                    return Vec::new();
                }
                return if n > 3 { vec![3] } else { Vec::new() };
            }
            _ => {}
        }
        let sub = args
            .get(1)
            .map(|s| format!("{name}|{}", String::from_utf8_lossy(s).to_ascii_lowercase()));
        let spec = sub
            .and_then(|s| self.specs.get(&s))
            .or_else(|| self.specs.get(&name))
            .copied()
            .or_else(|| builtin_spec(&name));
        let Some((first, last, step)) = spec else {
            return Vec::new();
        };
        if first <= 0 || step <= 0 {
            return Vec::new();
        }
        let last = if last < 0 { n as i64 + last } else { last };
        let last = last.min(n as i64 - 1);
        (first..=last)
            .step_by(step as usize)
            .map(|i| i as usize)
            .collect()
    }
}

/// Key positions for when `COMMAND` is not available (renamed away or not
/// allowed): the common commands; everything else with an argument has its
/// key first.
fn builtin_spec(name: &str) -> Option<(i64, i64, i64)> {
    Some(match name {
        "ping" | "echo" | "info" | "select" | "auth" | "hello" | "client" | "config"
        | "command" | "multi" | "exec" | "discard" | "unwatch" | "script" | "function"
        | "flushdb" | "flushall" | "dbsize" | "time" | "lastsave" | "save" | "bgsave"
        | "bgrewriteaof" | "debug" | "slowlog" | "latency" | "memory" | "publish" | "spublish"
        | "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe" | "ssubscribe"
        | "sunsubscribe" | "pubsub" | "quit" | "reset" | "scan" | "randomkey" | "keys" | "wait"
        | "waitaof" | "cluster" | "readonly" | "readwrite" | "asking" | "acl" | "monitor"
        | "role" | "replicaof" | "slaveof" | "shutdown" | "swapdb" | "failover" | "lolwut"
        | "module" | "replconf" | "psync" | "sync" | "object" => return None,
        "mget" | "del" | "exists" | "unlink" | "touch" | "watch" | "sinter" | "sunion"
        | "sdiff" | "sinterstore" | "sunionstore" | "sdiffstore" | "pfcount" | "pfmerge" => {
            (1, -1, 1)
        }
        "mset" | "msetnx" => (1, -1, 2),
        "rename" | "renamenx" | "smove" | "rpoplpush" | "lmove" | "copy" | "blmove"
        | "brpoplpush" => (1, 2, 1),
        "blpop" | "brpop" | "bzpopmin" | "bzpopmax" => (1, -2, 1),
        _ => (1, 1, 1),
    })
}

/// The Space-Saving sketch (Metwally et al.): at most `cap` counters; a new
/// key takes over the smallest counter and inherits its count as its error,
/// so each count overstates the truth by at most its error, and every key
/// hit more than `total / cap` times is tracked.
struct SpaceSaving {
    cap: usize,
    index: HashMap<Vec<u8>, usize>,
    /// `(key, count, error)`.
    items: Vec<(Vec<u8>, u64, u64)>,
    /// `(count, item)`, smallest first.
    order: BTreeSet<(u64, usize)>,
}

impl SpaceSaving {
    fn new(cap: usize) -> SpaceSaving {
        SpaceSaving {
            cap: cap.max(1),
            index: HashMap::new(),
            items: Vec::new(),
            order: BTreeSet::new(),
        }
    }

    fn add(&mut self, key: &[u8]) {
        if let Some(&i) = self.index.get(key) {
            let count = &mut self.items[i].1;
            self.order.remove(&(*count, i));
            *count += 1;
            self.order.insert((*count, i));
        } else if self.items.len() < self.cap {
            let i = self.items.len();
            self.items.push((key.to_vec(), 1, 0));
            self.index.insert(key.to_vec(), i);
            self.order.insert((1, i));
        } else if let Some((min, i)) = self.order.pop_first() {
            let old = std::mem::replace(&mut self.items[i], (key.to_vec(), min + 1, min));
            self.index.remove(&old.0);
            self.index.insert(key.to_vec(), i);
            self.order.insert((min + 1, i));
        }
    }

    /// The `n` largest `(key, count, error)`, largest first.
    fn top(&self, n: usize) -> Vec<(Vec<u8>, u64, u64)> {
        let mut all = self.items.clone();
        all.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then_with(|| a.2.cmp(&b.2))
                .then_with(|| a.0.cmp(&b.0))
        });
        all.truncate(n);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_saving_keeps_heavy_hitters() {
        let mut s = SpaceSaving::new(4);
        for i in 0..1000u32 {
            s.add(b"hot");
            if i % 2 == 0 {
                s.add(b"warm");
            }
            s.add(format!("cold{i}").as_bytes());
        }
        let top = s.top(2);
        assert_eq!(top[0].0, b"hot");
        assert!(top[0].1 >= 1000 && top[0].1 - top[0].2 <= 1000);
        assert_eq!(top[1].0, b"warm");
        assert!(s.items.len() <= 4);
    }

    #[test]
    fn key_positions() {
        let specs = KeySpecs::default();
        let a = |v: &[&str]| v.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
        assert_eq!(specs.key_indices(&a(&["GET", "k"])), vec![1]);
        assert_eq!(
            specs.key_indices(&a(&["mset", "a", "1", "b", "2"])),
            vec![1, 3]
        );
        assert_eq!(
            specs.key_indices(&a(&["MGET", "a", "b", "c"])),
            vec![1, 2, 3]
        );
        assert_eq!(specs.key_indices(&a(&["PING"])), Vec::<usize>::new());
        assert_eq!(
            specs.key_indices(&a(&["EVAL", "s", "2", "a", "b", "x"])),
            vec![3, 4]
        );
        assert_eq!(
            specs.key_indices(&a(&[
                "XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"
            ])),
            vec![4, 5]
        );
        assert_eq!(specs.key_indices(&a(&["BLPOP", "a", "b", "0"])), vec![1, 2]);
    }

    #[test]
    fn lfu_estimates() {
        assert_eq!(lfu_estimate(5, 10.0, 1), (0.0, 0.0));
        let (h, l) = lfu_estimate(6, 10.0, 1);
        assert!((h - 1.0 / 60.0).abs() < 1e-9 && (l - 1.0 / 60.0).abs() < 1e-9);
        // Counter 18 ~ 1000 hits with factor 10 (the table in redis.conf).
        let (h, l) = lfu_estimate(18, 10.0, 1);
        assert!((h * 60.0 - 793.0).abs() < 1e-6, "{h}");
        assert!((l * 60.0 - 121.0).abs() < 1e-6, "{l}");
        let (h2, _) = lfu_estimate(19, 10.0, 1);
        assert!(h2 > h);
    }

    #[test]
    fn monitor_lines() {
        let l = br#"+1700000000.123456 [0 127.0.0.1:5000] "SET" "a \"b\"\\c\x00\xff\n" "v""#;
        let args = parse_monitor_line(l).unwrap();
        assert_eq!(
            args,
            vec![
                b"SET".to_vec(),
                b"a \"b\"\\c\x00\xff\n".to_vec(),
                b"v".to_vec()
            ]
        );
        assert_eq!(
            parse_monitor_line(br#"1.5 [0 lua] "get" "k""#).unwrap(),
            vec![b"get".to_vec(), b"k".to_vec()]
        );
        assert!(parse_monitor_line(b"+OK").is_none());
    }
}
