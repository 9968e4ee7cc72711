//! Cleanup tickets: delete (or set a spread-out TTL on) the keys that match
//! prefixes or globs, on every master of an app, under a rate limit, with a
//! pause while a node is under pressure, and a checkpoint after every batch
//! so that a killed or restarted service resumes where it stopped without
//! losing or double-counting a key.
//!
//! How a run goes, for each master (in address order), each db and each
//! pattern (a *pass*):
//!
//! 1. `SCAN cursor MATCH glob COUNT batch`;
//! 2. the returned keys are inspected with pipelined `OBJECT IDLETIME` (only
//!    with an idle filter), `TYPE` and `PTTL`, and filtered;
//! 3. the checkpoint is written: the next cursor, the keys about to be acted
//!    on (*pending*) and the counters so far;
//! 4. the pending keys are deleted in chunks, each chunk waiting for its
//!    tokens: collections with more than `big_elements` members are first
//!    emptied in chunks of `batch` (`HSCAN`+`HDEL`, `SSCAN`+`SREM`,
//!    `ZSCAN`+`ZREM`, `LTRIM`), then every key gets a pipelined `UNLINK`,
//!    and deletions are counted from its replies.
//!
//! A resumed run first settles the pending keys of the checkpoint: those
//! still there are deleted (and counted from the replies), those already
//! gone were deleted by the killed attempt after its checkpoint, and are
//! counted once, as `recovered`. Then the same SCAN cursor continues: SCAN
//! returns every key present for the whole scan, deleting a key twice is
//! harmless, and counting from the replies never counts one twice.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::jobs::JobCtx;
use crate::params::ParseCtx;
use crate::registry::{self, Credentials, Node};
use crate::service::{credentials, ServiceState};
use crate::store::AppRow;
use crate::ticket::TicketState;

/// Key types a cleanup can be limited to.
pub const KEY_TYPES: [&str; 6] = ["string", "list", "set", "zset", "hash", "stream"];

/// Keys a sample in the report and in the plan holds at most.
const SAMPLE: usize = 100;

/// What selects keys: a literal prefix (its glob metacharacters are
/// escaped) or a Redis glob as `SCAN MATCH` takes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Pattern {
    /// Keys starting with these bytes.
    Prefix(String),
    /// Keys matching this glob.
    Glob(String),
}

impl Pattern {
    /// The `SCAN MATCH` glob.
    pub fn glob(&self) -> String {
        match self {
            Pattern::Prefix(p) => {
                let mut g = String::with_capacity(p.len() + 2);
                for c in p.chars() {
                    if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                        g.push('\\');
                    }
                    g.push(c);
                }
                g.push('*');
                g
            }
            Pattern::Glob(g) => g.clone(),
        }
    }

    /// Whether it matches every key (an empty prefix, a glob of only `*`).
    pub fn matches_everything(&self) -> bool {
        let g = self.glob();
        !g.is_empty() && g.bytes().all(|b| b == b'*')
    }
}

/// Which keys by TTL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TtlFilter {
    /// All.
    #[default]
    Any,
    /// Only keys that have a TTL.
    With,
    /// Only keys without a TTL.
    Without,
}

/// What is done to the keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// `UNLINK` them.
    #[default]
    Delete,
    /// Give each a random TTL within `expire_secs`, so that they expire
    /// spread out (never lengthening a key's life).
    Expire,
}

/// Parameters of a `cleanup` ticket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CleanupParams {
    /// The app acted on.
    pub app: String,
    /// Databases (a cluster has only 0).
    #[serde(default = "default_dbs")]
    #[schema(default = default_dbs)]
    pub dbs: Vec<u32>,
    /// Keys matching any of these.
    pub patterns: Vec<Pattern>,
    /// Only keys of this type.
    #[serde(default, rename = "type")]
    pub key_type: Option<String>,
    /// Only keys with, or without, a TTL.
    #[serde(default)]
    pub ttl: TtlFilter,
    /// Only keys idle (not accessed) for at least this long.
    #[serde(default)]
    pub idle_secs_min: Option<u64>,
    /// Delete, or set a TTL.
    #[serde(default)]
    pub mode: Mode,
    /// `expire` mode: the TTL is drawn uniformly from `[min, max]` seconds.
    #[serde(default)]
    pub expire_secs: Option<[u64; 2]>,
    /// Keys per second, over the whole job (all masters).
    #[serde(default = "default_rate")]
    #[schema(default = default_rate)]
    pub rate: u64,
    /// `SCAN COUNT`, and elements removed per command from a big collection.
    #[serde(default = "default_batch")]
    #[schema(default = default_batch)]
    pub batch: u64,
    /// Collections with more members than this are emptied in chunks
    /// before they are unlinked.
    #[serde(default = "default_big_elements")]
    #[schema(default = default_big_elements)]
    pub big_elements: u64,
    /// Count what would be done; change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Allow a pattern that matches every key (admins only).
    #[serde(default)]
    pub force: bool,
    /// Pause while a replica lags its master by more than this.
    #[serde(default = "default_max_lag")]
    #[schema(default = default_max_lag)]
    pub max_lag_bytes: u64,
}

fn default_dbs() -> Vec<u32> {
    vec![0]
}
fn default_rate() -> u64 {
    1000
}
fn default_batch() -> u64 {
    500
}
fn default_big_elements() -> u64 {
    1000
}
fn default_max_lag() -> u64 {
    1 << 20
}

impl CleanupParams {
    /// Checks the parameters at submission.
    pub fn validate(&self, ctx: &ParseCtx<'_>) -> Result<()> {
        let bad = |m: String| Err(Error::bad_request(format!("cleanup params: {m}")));
        if self.force && !ctx.is_admin {
            return Err(Error::forbidden(
                "cleanup params: only an admin may set force",
            ));
        }
        if self.app.is_empty() {
            return bad("app is empty".into());
        }
        if self.patterns.is_empty() || self.patterns.len() > 100 {
            return bad("give 1 to 100 patterns".into());
        }
        for pat in &self.patterns {
            if let Pattern::Glob(g) = pat {
                if g.is_empty() {
                    return bad(
                        "an empty glob matches no key (an empty prefix is every key)".into(),
                    );
                }
            }
            if pat.matches_everything() && !self.force {
                return bad(format!(
                    "pattern {:?} matches every key: refused unless an admin sets \"force\": true",
                    pat.glob()
                ));
            }
        }
        if self.dbs.is_empty() || self.dbs.len() > 64 {
            return bad("give 1 to 64 dbs".into());
        }
        let mut dbs = self.dbs.clone();
        dbs.sort_unstable();
        dbs.dedup();
        if dbs.len() != self.dbs.len() || dbs.iter().any(|d| *d > 1023) {
            return bad("dbs must be distinct numbers 0 to 1023".into());
        }
        if let Some(t) = &self.key_type {
            if !KEY_TYPES.contains(&t.as_str()) {
                return bad(format!(
                    "type {t:?}: expected one of {}",
                    KEY_TYPES.join(", ")
                ));
            }
        }
        match (self.mode, self.expire_secs) {
            (Mode::Expire, None) => {
                return bad("mode \"expire\" needs expire_secs: [min, max]".into())
            }
            (Mode::Expire, Some([lo, hi])) if lo == 0 || lo > hi || hi > 10 * 365 * 86_400 => {
                return bad(
                    "expire_secs must be [min, max] with 1 <= min <= max <= 10 years".into(),
                )
            }
            (Mode::Delete, Some(_)) => return bad("expire_secs is for mode \"expire\"".into()),
            _ => {}
        }
        if !(1..=1_000_000).contains(&self.rate) {
            return bad("rate must be 1 to 1000000 keys/s".into());
        }
        if !(1..=10_000).contains(&self.batch) {
            return bad("batch must be 1 to 10000".into());
        }
        if self.big_elements == 0 {
            return bad("big_elements must be at least 1".into());
        }
        Ok(())
    }

    /// The apps the ticket touches.
    pub fn apps(&self) -> Vec<&str> {
        vec![self.app.as_str()]
    }

    fn globs(&self) -> Vec<String> {
        self.patterns.iter().map(Pattern::glob).collect()
    }

    /// Keys acted on per pipeline: about a tenth of a second's worth at the
    /// rate, at most `batch`.
    fn chunk(&self) -> usize {
        self.batch.min((self.rate / 10).max(1)) as usize
    }

    /// Whether a key with this type, PTTL (ms, -1 none) and idle time
    /// passes the filters; `expire` mode also leaves keys whose TTL is
    /// already within the range.
    fn selects(&self, kind: &str, pttl: i64, idle: Option<u64>) -> bool {
        if kind == "none" || pttl == -2 {
            return false;
        }
        if self.key_type.as_deref().is_some_and(|t| t != kind) {
            return false;
        }
        match self.ttl {
            TtlFilter::Any => {}
            TtlFilter::With if pttl < 0 => return false,
            TtlFilter::Without if pttl >= 0 => return false,
            _ => {}
        }
        if let (Some(min), Some(idle)) = (self.idle_secs_min, idle) {
            if idle < min {
                return false;
            }
        }
        if let (Mode::Expire, Some([_, hi])) = (self.mode, self.expire_secs) {
            if pttl >= 0 && pttl <= (hi as i64) * 1000 {
                return false;
            }
        }
        true
    }
}

/// Redis glob matching, shared with the CLI's `dump --match`.
pub use analyzer::glob::glob_match;

// ---- small helpers --------------------------------------------------------------

fn hex(bytes: &[u8]) -> String {
    crate::auth::hex(bytes)
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn v_int(v: &redis::Value) -> Option<i64> {
    match v {
        redis::Value::Int(i) => Some(*i),
        redis::Value::BulkString(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        redis::Value::SimpleString(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn v_text(v: &redis::Value) -> String {
    match v {
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        redis::Value::SimpleString(s) => s.clone(),
        redis::Value::Okay => "OK".into(),
        _ => String::new(),
    }
}

/// The master a node (a report's source, maybe a replica) belongs to.
fn master_of(nodes: &[Node], addr: &str) -> String {
    nodes
        .iter()
        .find(|n| n.addr == addr && n.role == "replica")
        .and_then(|n| n.master.clone())
        .unwrap_or_else(|| addr.to_string())
}

fn duration_text(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

fn is_cluster(app: &AppRow) -> bool {
    app.kind == "cluster"
}

/// Selects `db` (not on a cluster, which has only 0).
fn select(conn: &mut redis::Connection, cluster: bool, db: u32) -> Result<()> {
    if !cluster {
        redis::cmd("SELECT")
            .arg(db)
            .query::<()>(conn)
            .map_err(|e| Error::from(e).context(format!("SELECT {db}")))?;
    }
    Ok(())
}

/// `TYPE`, `PTTL` and (when asked) `OBJECT IDLETIME` of each key, pipelined;
/// idle time is read first, as the others do not touch it.
fn inspect(
    conn: &mut redis::Connection,
    keys: &[Vec<u8>],
    idle: bool,
) -> Result<Vec<(String, i64, Option<u64>)>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for k in keys {
        if idle {
            pipe.cmd("OBJECT").arg("IDLETIME").arg(&k[..]);
        }
        pipe.cmd("TYPE").arg(&k[..]);
        pipe.cmd("PTTL").arg(&k[..]);
    }
    let vals: Vec<redis::Value> = pipe.ignore_errors().query(conn).map_err(Error::from)?;
    let per = if idle { 3 } else { 2 };
    Ok(vals
        .chunks(per)
        .map(|c| {
            let (i, rest) = if idle {
                (v_int(&c[0]).map(|x| x.max(0) as u64), &c[1..])
            } else {
                (None, c)
            };
            // A key gone between the commands reads as type "none".
            let kind = v_text(&rest[0]);
            let pttl = v_int(&rest[1]).unwrap_or(-2);
            (if kind.is_empty() { "none".into() } else { kind }, pttl, i)
        })
        .collect())
}

/// Why a node should be left alone for now, if it should: a fork in
/// progress (RDB save, AOF rewrite, module fork) or a replica lagging by
/// more than `max_lag` bytes.
pub fn pressure(
    persistence: &[(String, String)],
    replication: &[(String, String)],
    max_lag: u64,
) -> Option<String> {
    let get = |info: &[(String, String)], k: &str| {
        info.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    for (field, what) in [
        (
            "rdb_bgsave_in_progress",
            "an RDB save (fork) is in progress",
        ),
        (
            "aof_rewrite_in_progress",
            "an AOF rewrite (fork) is in progress",
        ),
        ("module_fork_in_progress", "a module fork is in progress"),
    ] {
        if get(persistence, field).as_deref() == Some("1") {
            return Some(what.into());
        }
    }
    let master_offset: u64 = get(replication, "master_repl_offset")?.parse().ok()?;
    for (k, v) in replication {
        if !(k.starts_with("slave") && k.len() > 5 && k[5..].bytes().all(|b| b.is_ascii_digit())) {
            continue;
        }
        let field = |name: &str| {
            v.split(',')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        let offset: u64 = field("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
        let lag = master_offset.saturating_sub(offset);
        if lag > max_lag {
            return Some(format!(
                "replica {}:{} lags {lag} bytes (more than {max_lag})",
                field("ip").unwrap_or_default(),
                field("port").unwrap_or_default()
            ));
        }
    }
    None
}

/// A token bucket over keys per second; it starts empty (so the rate holds
/// from the first key to the last) and holds at most `cap` tokens.
struct Bucket {
    rate: f64,
    cap: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: u64, cap: usize) -> Bucket {
        Bucket {
            rate: rate as f64,
            cap: cap.max(1) as f64,
            tokens: 0.0,
            last: Instant::now(),
        }
    }

    fn take(&mut self, n: usize, ctx: &JobCtx) -> Result<()> {
        let n = n as f64;
        loop {
            let now = Instant::now();
            self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate)
                .min(self.cap.max(n));
            self.last = now;
            if self.tokens >= n {
                self.tokens -= n;
                return Ok(());
            }
            ctx.check_cancel()?;
            let wait = ((n - self.tokens) / self.rate).min(0.2);
            std::thread::sleep(Duration::from_secs_f64(wait.max(0.001)));
        }
    }
}

/// A little xorshift generator for the TTLs of `expire` mode.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = crate::auth::random_bytes(8)
            .ok()
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        Rng(seed | 1)
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        lo + self.0 % (hi - lo + 1)
    }
}

// ---- the plan ----------------------------------------------------------------

#[derive(Default)]
struct Estimate {
    keys: u64,
    memory_bytes: u64,
    big_keys: u64,
    per_node: BTreeMap<String, (u64, u64)>,
    sample: Vec<String>,
}

/// Counts the keys of an analysis' `keys.parquet` that the cleanup selects.
fn count_keys_table(
    path: &std::path::Path,
    p: &CleanupParams,
    nodes: &[Node],
    now_ms: i64,
) -> Result<Estimate> {
    use analyzer::reexports::arrow_array::cast::AsArray;
    use analyzer::reexports::arrow_array::types::{Int32Type, Int64Type, UInt64Type};
    use analyzer::reexports::arrow_array::Array;
    use analyzer::reexports::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use analyzer::reexports::parquet::arrow::ProjectionMask;

    let bad = |e: &dyn std::fmt::Display| Error::internal(format!("{}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(|e| bad(&e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| bad(&e))?;
    let wanted = [
        "source",
        "db",
        "key",
        "type",
        "memory_bytes",
        "elements",
        "expire_at_ms",
        "idle_seconds",
    ];
    let schema = builder.schema().clone();
    let idx: Vec<usize> = wanted
        .iter()
        .filter_map(|n| schema.index_of(n).ok())
        .collect();
    if idx.len() != wanted.len() {
        return Err(Error::internal(format!(
            "{}: unexpected columns",
            path.display()
        )));
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), idx);
    let reader = builder.with_projection(mask).build().map_err(|e| bad(&e))?;
    let globs: Vec<Vec<u8>> = p.globs().into_iter().map(String::into_bytes).collect();
    let mut est = Estimate::default();
    for batch in reader {
        let batch = batch.map_err(|e| bad(&e))?;
        let col = |n: &str| {
            batch
                .column_by_name(n)
                .ok_or_else(|| Error::internal(format!("{}: no column {n}", path.display())))
        };
        let source = col("source")?.as_string::<i32>().clone();
        let db = col("db")?.as_primitive::<Int32Type>().clone();
        let key = col("key")?.as_binary::<i32>().clone();
        let kind = col("type")?.as_string::<i32>().clone();
        let mem = col("memory_bytes")?.as_primitive::<UInt64Type>().clone();
        let elements = col("elements")?.as_primitive::<UInt64Type>().clone();
        let exp = col("expire_at_ms")?.as_primitive::<Int64Type>().clone();
        let idle = col("idle_seconds")?.as_primitive::<UInt64Type>().clone();
        for i in 0..batch.num_rows() {
            if !p
                .dbs
                .iter()
                .any(|d| i64::from(*d) == i64::from(db.value(i)))
            {
                continue;
            }
            let k = key.value(i);
            if !globs.iter().any(|g| glob_match(g, k)) {
                continue;
            }
            let pttl = if exp.is_valid(i) {
                let left = exp.value(i) - now_ms;
                if left <= 0 {
                    continue; // expired since the snapshot
                }
                left
            } else {
                -1
            };
            let idle_s = idle.is_valid(i).then(|| idle.value(i));
            if !p.selects(kind.value(i), pttl, idle_s) {
                continue;
            }
            est.keys += 1;
            est.memory_bytes += mem.value(i);
            if elements.value(i) > p.big_elements
                && matches!(kind.value(i), "hash" | "set" | "zset" | "list")
            {
                est.big_keys += 1;
            }
            let node = est
                .per_node
                .entry(master_of(nodes, source.value(i)))
                .or_default();
            node.0 += 1;
            node.1 += mem.value(i);
            if est.sample.len() < 10 {
                est.sample.push(String::from_utf8_lossy(k).into_owned());
            }
        }
    }
    Ok(est)
}

/// Counts from `prefixes.parquet` (no per-key table): only for prefixes
/// that are a row of the prefix tree, and without the filters.
fn count_prefix_table(
    path: &std::path::Path,
    p: &CleanupParams,
    nodes: &[Node],
) -> Result<Option<Estimate>> {
    use analyzer::reexports::arrow_array::cast::AsArray;
    use analyzer::reexports::arrow_array::types::UInt64Type;
    use analyzer::reexports::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let wanted: Vec<String> = p
        .patterns
        .iter()
        .map(|pat| match pat {
            Pattern::Prefix(s) => Some(s.trim_end_matches([':', '|', '/']).to_string()),
            Pattern::Glob(_) => None,
        })
        .collect::<Option<Vec<_>>>()
        .unwrap_or_default();
    if wanted.is_empty() || wanted.iter().any(|w| w.is_empty() || w.contains('*')) {
        return Ok(None);
    }
    let bad = |e: &dyn std::fmt::Display| Error::internal(format!("{}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(|e| bad(&e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| bad(&e))?
        .build()
        .map_err(|e| bad(&e))?;
    let mut est = Estimate::default();
    let mut found = vec![false; wanted.len()];
    for batch in reader {
        let batch = batch.map_err(|e| bad(&e))?;
        let (Some(src), Some(pat), Some(keys), Some(mem)) = (
            batch.column_by_name("source"),
            batch.column_by_name("pattern"),
            batch.column_by_name("keys"),
            batch.column_by_name("memory_bytes"),
        ) else {
            return Ok(None);
        };
        let (src, pat) = (src.as_string::<i32>(), pat.as_string::<i32>());
        let (keys, mem) = (
            keys.as_primitive::<UInt64Type>(),
            mem.as_primitive::<UInt64Type>(),
        );
        for i in 0..batch.num_rows() {
            if let Some(w) = wanted.iter().position(|w| w == pat.value(i)) {
                found[w] = true;
                est.keys += keys.value(i);
                est.memory_bytes += mem.value(i);
                let node = est
                    .per_node
                    .entry(master_of(nodes, src.value(i)))
                    .or_default();
                node.0 += keys.value(i);
                node.1 += mem.value(i);
            }
        }
    }
    Ok(found.iter().all(|f| *f).then_some(est))
}

/// Keys visited per master and db by the live estimate.
const LIVE_BUDGET: u64 = 20_000;

/// A live estimate: a bounded `SCAN` of every master (exact when the scan
/// completes within the budget), the selected share scaled to `DBSIZE`,
/// and `MEMORY USAGE` of a sample for the bytes.
fn live_estimate(app: &AppRow, p: &CleanupParams, nodes: &[Node]) -> Result<(Estimate, bool)> {
    let creds = credentials(app);
    let globs: Vec<Vec<u8>> = p.globs().into_iter().map(String::into_bytes).collect();
    let mut est = Estimate::default();
    let mut exact = true;
    for addr in registry::masters(nodes) {
        let mut conn = registry::connect(&addr, &creds, Duration::from_secs(3))?;
        for db in &p.dbs {
            select(&mut conn, is_cluster(app), *db)?;
            let dbsize: u64 = redis::cmd("DBSIZE").query(&mut conn).map_err(Error::from)?;
            let mut cursor = "0".to_string();
            let (mut visited, mut selected, mut mem_sampled, mut mem_sum) =
                (0u64, 0u64, 0u64, 0u64);
            loop {
                let (next, keys): (String, Vec<Vec<u8>>) = redis::cmd("SCAN")
                    .arg(&cursor)
                    .arg("COUNT")
                    .arg(1000)
                    .query(&mut conn)
                    .map_err(Error::from)?;
                visited += keys.len() as u64;
                let matching: Vec<Vec<u8>> = keys
                    .into_iter()
                    .filter(|k| globs.iter().any(|g| glob_match(g, k)))
                    .collect();
                let info = inspect(&mut conn, &matching, p.idle_secs_min.is_some())?;
                let chosen: Vec<&Vec<u8>> = matching
                    .iter()
                    .zip(&info)
                    .filter(|(_, (t, pttl, idle))| p.selects(t, *pttl, *idle))
                    .map(|(k, _)| k)
                    .collect();
                selected += chosen.len() as u64;
                let sample: Vec<&&Vec<u8>> = chosen
                    .iter()
                    .take(200usize.saturating_sub(mem_sampled as usize))
                    .collect();
                if !sample.is_empty() {
                    let mut pipe = redis::pipe();
                    for k in &sample {
                        pipe.cmd("MEMORY").arg("USAGE").arg(&k[..]);
                    }
                    let vals: Vec<redis::Value> =
                        pipe.ignore_errors().query(&mut conn).map_err(Error::from)?;
                    for v in &vals {
                        if let Some(b) = v_int(v) {
                            mem_sum += b as u64;
                            mem_sampled += 1;
                        }
                    }
                }
                if est.sample.len() < 10 {
                    est.sample.extend(
                        chosen
                            .iter()
                            .take(10 - est.sample.len())
                            .map(|k| String::from_utf8_lossy(k).into_owned()),
                    );
                }
                cursor = next;
                if cursor == "0" || visited >= LIVE_BUDGET {
                    break;
                }
            }
            let keys = if cursor == "0" {
                selected
            } else {
                exact = false;
                (selected as f64 / visited.max(1) as f64 * dbsize as f64).round() as u64
            };
            let bytes = keys * mem_sum.checked_div(mem_sampled).unwrap_or(0);
            est.keys += keys;
            est.memory_bytes += bytes;
            let node = est.per_node.entry(addr.clone()).or_default();
            node.0 += keys;
            node.1 += bytes;
        }
    }
    Ok((est, exact))
}

/// The plan shown to the approver: what matches, how many keys and bytes
/// (from the app's latest analysis report, else a live estimate), and how
/// long it takes at the rate.
pub async fn plan(state: &ServiceState, p: &CleanupParams, apps: &[AppRow]) -> Result<Value> {
    let app = apps
        .iter()
        .find(|a| a.name == p.app)
        .ok_or_else(|| Error::bad_request(format!("unknown app {:?}", p.app)))?
        .clone();
    if is_cluster(&app) && p.dbs != [0] {
        return Err(Error::bad_request(
            "cleanup params: a cluster has only db 0 (\"dbs\": [0])",
        ));
    }
    let nodes: Vec<Node> = serde_json::from_str(&app.topology).unwrap_or_default();
    let now = crate::store::now_ms();
    // The app's latest succeeded analysis.
    let mut analysis = None;
    for t in state
        .store
        .list_tickets(None, Some(TicketState::Succeeded), Some("analysis"), 1000)
        .await?
    {
        let params: Value = serde_json::from_str(&t.params).unwrap_or(Value::Null);
        if params["app"].as_str() == Some(p.app.as_str()) {
            analysis = Some(t);
            break;
        }
    }
    let (est, source, note, from) = {
        let p = p.clone();
        let nodes = nodes.clone();
        let app = app.clone();
        let dir = analysis
            .as_ref()
            .map(|t| crate::api::report_dir(&state.config, t.id));
        tokio::task::spawn_blocking(move || -> Result<(Estimate, &'static str, String, bool)> {
            if let Some(dir) = &dir {
                let keys = dir.join("keys.parquet");
                if keys.is_file() {
                    let est = count_keys_table(&keys, &p, &nodes, now)?;
                    return Ok((est, "analysis", "counted in the analysis' keys.parquet (keys that have expired since are left out)".into(), true));
                }
                let prefixes = dir.join("prefixes.parquet");
                if prefixes.is_file() {
                    if let Some(est) = count_prefix_table(&prefixes, &p, &nodes)? {
                        return Ok((est, "analysis_prefixes", "from the analysis' prefixes.parquet (it was run without keys.parquet): whole prefixes, the type/TTL/idle filters are not applied".into(), true));
                    }
                }
            }
            match live_estimate(&app, &p, &nodes) {
                Ok((est, exact)) => Ok((
                    est,
                    if exact { "live_scan" } else { "live_sample" },
                    if exact {
                        "counted by a SCAN of every master at submission (no analysis report of the app)".to_string()
                    } else {
                        format!("estimated at submission: a SCAN of up to {LIVE_BUDGET} keys per master and db, scaled to DBSIZE (no analysis report of the app)")
                    },
                    false,
                )),
                Err(e) => Ok((
                    Estimate::default(),
                    "unavailable",
                    format!("no analysis report of the app, and the live estimate failed: {e}"),
                    false,
                )),
            }
        })
        .await
        .map_err(|e| Error::internal(format!("plan task: {e}")))??
    };
    let eta = est.keys.div_ceil(p.rate);
    let per_node: Vec<Value> = est
        .per_node
        .iter()
        .map(|(n, (k, b))| json!({"node": n, "keys": k, "memory_bytes": b}))
        .collect();
    let what = match (p.dry_run, p.mode) {
        (true, _) => "dry run: counts what would be done, changes nothing".to_string(),
        (false, Mode::Delete) => format!(
            "UNLINK every selected key; collections over {} members are first emptied {} at a time",
            p.big_elements, p.batch
        ),
        (false, Mode::Expire) => {
            let [lo, hi] = p.expire_secs.unwrap_or([0, 0]);
            format!("EXPIRE every selected key with a random TTL of {lo} to {hi} s (keys that already expire within {hi} s are left as they are)")
        }
    };
    Ok(json!({
        "app": app.name,
        "kind": app.kind,
        "masters": registry::masters(&nodes),
        "dbs": p.dbs,
        "match": p.globs(),
        "filters": {"type": p.key_type, "ttl": p.ttl, "idle_secs_min": p.idle_secs_min},
        "mode": p.mode,
        "dry_run": p.dry_run,
        "action": what,
        "keys": est.keys,
        "memory_bytes": est.memory_bytes,
        "big_keys": from.then_some(est.big_keys),
        "per_node": per_node,
        "sample": est.sample,
        "source": source,
        "analysis_ticket": analysis.as_ref().filter(|_| from).map(|t| t.id),
        "analysis_finished_at": analysis.as_ref().filter(|_| from).map(|t| crate::api::rfc3339(t.updated_at)),
        "note": note,
        "rate": p.rate,
        "eta_secs": eta,
        "eta": duration_text(eta),
        "pause": format!("while a fork runs on the node or a replica lags more than {} bytes", p.max_lag_bytes),
    }))
}

// ---- the run -------------------------------------------------------------------

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Counts {
    /// Keys SCAN returned (matching the glob).
    scanned: u64,
    /// Of those, the ones the filters selected.
    selected: u64,
    /// Keys deleted (UNLINK replies, plus `recovered`).
    deleted: u64,
    /// Keys given a TTL (`expire` mode).
    expired: u64,
    /// Pending keys of a killed attempt already gone at resume.
    recovered: u64,
    /// Collections emptied in chunks before their UNLINK.
    big_keys: u64,
    /// Elements removed from them.
    elements_removed: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.scanned += o.scanned;
        self.selected += o.selected;
        self.deleted += o.deleted;
        self.expired += o.expired;
        self.recovered += o.recovered;
        self.big_keys += o.big_keys;
        self.elements_removed += o.elements_removed;
    }
}

/// What a resumed run starts from.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Checkpoint {
    /// Passes (`node/db/pattern`) finished.
    done: Vec<String>,
    /// The pass under way.
    current: Option<String>,
    /// Its next SCAN cursor.
    cursor: String,
    /// Keys (hex) being acted on when the checkpoint was written.
    pending: Vec<String>,
    /// Counters per master.
    nodes: BTreeMap<String, Counts>,
    /// Keys acted on (a sample).
    sample: Vec<Value>,
    /// Running time of this and earlier attempts.
    seconds: f64,
    /// Of which paused.
    paused_secs: f64,
    /// Runs resumed from a checkpoint.
    resumes: u32,
}

struct Run<'a> {
    ctx: &'a JobCtx,
    p: &'a CleanupParams,
    cp: Checkpoint,
    bucket: Bucket,
    rng: Rng,
    started: Instant,
    prior_secs: f64,
    last_pressure: Option<Instant>,
    last_save: Instant,
    passes: usize,
    estimate: u64,
    cluster: bool,
}

impl Run<'_> {
    fn seconds(&self) -> f64 {
        self.prior_secs + self.started.elapsed().as_secs_f64()
    }

    fn totals(&self) -> Counts {
        let mut t = Counts::default();
        for c in self.cp.nodes.values() {
            t.add(c);
        }
        t
    }

    fn percent(&self) -> f64 {
        let t = self.totals();
        if self.estimate > 0 {
            (t.selected as f64 / self.estimate as f64 * 100.0).min(99.0)
        } else {
            (self.cp.done.len() as f64 / self.passes.max(1) as f64 * 100.0).min(99.0)
        }
    }

    fn counters(&self, node: &str) -> Value {
        let t = self.totals();
        json!({
            "node": node,
            "scanned": t.scanned,
            "selected": t.selected,
            "deleted": t.deleted,
            "expired": t.expired,
            "big_keys": t.big_keys,
            "passes_done": self.cp.done.len(),
            "passes": self.passes,
            "paused_secs": (self.cp.paused_secs * 10.0).round() / 10.0,
        })
    }

    fn save(&mut self, node: &str) -> Result<()> {
        self.cp.seconds = self.seconds();
        let cp = serde_json::to_value(&self.cp).map_err(|e| Error::internal(e.to_string()))?;
        let pct = self.percent();
        let counters = self.counters(node);
        self.ctx.checkpoint(&cp, "cleaning", pct, counters)?;
        self.last_save = Instant::now();
        Ok(())
    }

    fn node(&mut self, addr: &str) -> &mut Counts {
        self.cp.nodes.entry(addr.to_string()).or_default()
    }

    /// Waits while the node is under pressure (checked at most 4 times a
    /// second).
    fn wait_pressure(&mut self, conn: &mut redis::Connection, addr: &str) -> Result<()> {
        if self
            .last_pressure
            .is_some_and(|t| t.elapsed() < Duration::from_millis(250))
        {
            return Ok(());
        }
        loop {
            let persistence = registry::info(conn, "persistence")?;
            let replication = registry::info(conn, "replication")?;
            self.last_pressure = Some(Instant::now());
            let Some(reason) = pressure(&persistence, &replication, self.p.max_lag_bytes) else {
                return Ok(());
            };
            let mut counters = self.counters(addr);
            counters["reason"] = json!(reason);
            self.ctx.progress("paused", self.percent(), counters, false);
            self.ctx.check_cancel()?;
            std::thread::sleep(Duration::from_millis(500));
            self.cp.paused_secs += 0.5;
        }
    }

    fn note_sample(&mut self, addr: &str, db: u32, key: &[u8]) {
        if self.cp.sample.len() < SAMPLE {
            self.cp.sample.push(json!({
                "node": addr,
                "db": db,
                "key": String::from_utf8_lossy(key),
                "key_base64": crate::jobs::base64(key),
            }));
        }
    }

    /// Empties a big collection down to at most `batch` members, `batch`
    /// at a time (the last ones go with its UNLINK, so the key is never
    /// removed implicitly and its deletion is counted from the reply).
    fn empty_big(
        &mut self,
        conn: &mut redis::Connection,
        addr: &str,
        key: &[u8],
        kind: &str,
        mut size: u64,
    ) -> Result<()> {
        let batch = self.p.batch;
        let mut removed = 0u64;
        if kind == "list" {
            while size > batch {
                self.ctx.check_cancel()?;
                self.wait_pressure(conn, addr)?;
                self.bucket.take(1, self.ctx)?;
                redis::cmd("LTRIM")
                    .arg(key)
                    .arg(0)
                    .arg(-(batch as i64) - 1)
                    .query::<()>(conn)
                    .map_err(Error::from)?;
                removed += batch;
                size = redis::cmd("LLEN")
                    .arg(key)
                    .query(conn)
                    .map_err(Error::from)?;
            }
        } else {
            let (scan, del, pairs) = match kind {
                "hash" => ("HSCAN", "HDEL", true),
                "set" => ("SSCAN", "SREM", false),
                "zset" => ("ZSCAN", "ZREM", true),
                _ => return Ok(()),
            };
            let mut cursor = "0".to_string();
            let mut size_at_wrap = u64::MAX;
            while size > batch {
                self.ctx.check_cancel()?;
                self.wait_pressure(conn, addr)?;
                let (next, items): (String, Vec<Vec<u8>>) = redis::cmd(scan)
                    .arg(key)
                    .arg(&cursor)
                    .arg("COUNT")
                    .arg(batch)
                    .query(conn)
                    .map_err(Error::from)?;
                let members: Vec<Vec<u8>> = if pairs {
                    items.into_iter().step_by(2).collect()
                } else {
                    items
                };
                let take = members.len().min((size - 1) as usize);
                for part in members[..take].chunks(batch as usize) {
                    self.bucket.take(1, self.ctx)?;
                    let n: u64 = redis::cmd(del)
                        .arg(key)
                        .arg(part)
                        .query(conn)
                        .map_err(Error::from)?;
                    removed += n;
                    size = size.saturating_sub(n);
                }
                cursor = next;
                if cursor == "0" {
                    // A full pass: read the size again; stop if it no
                    // longer shrinks (something keeps writing to it).
                    let len_cmd = match kind {
                        "hash" => "HLEN",
                        "set" => "SCARD",
                        _ => "ZCARD",
                    };
                    size = redis::cmd(len_cmd)
                        .arg(key)
                        .query(conn)
                        .map_err(Error::from)?;
                    if size >= size_at_wrap {
                        break;
                    }
                    size_at_wrap = size;
                }
            }
        }
        let c = self.node(addr);
        c.big_keys += 1;
        c.elements_removed += removed;
        Ok(())
    }

    /// Deletes (or expires) `keys`, chunk by chunk at the rate. With
    /// `recovering`, the keys are the pending ones of a killed attempt.
    fn act(
        &mut self,
        conn: &mut redis::Connection,
        addr: &str,
        db: u32,
        keys: &[Vec<u8>],
        recovering: bool,
    ) -> Result<()> {
        let chunk = self.p.chunk();
        for part in keys.chunks(chunk) {
            self.ctx.check_cancel()?;
            self.wait_pressure(conn, addr)?;
            if self.p.dry_run {
                self.bucket.take(part.len(), self.ctx)?;
                for k in part {
                    self.note_sample(addr, db, k);
                }
                continue;
            }
            match self.p.mode {
                Mode::Delete => self.delete(conn, addr, db, part, recovering)?,
                Mode::Expire => self.expire(conn, addr, db, part, recovering)?,
            }
            let pct = self.percent();
            let counters = self.counters(addr);
            self.ctx.progress("cleaning", pct, counters, false);
        }
        Ok(())
    }

    fn delete(
        &mut self,
        conn: &mut redis::Connection,
        addr: &str,
        db: u32,
        part: &[Vec<u8>],
        recovering: bool,
    ) -> Result<()> {
        // Sizes of collections, for the big ones.
        let mut pipe = redis::pipe();
        for k in part {
            pipe.cmd("TYPE").arg(&k[..]);
        }
        let types: Vec<redis::Value> = pipe.ignore_errors().query(conn).map_err(Error::from)?;
        let types: Vec<String> = types.iter().map(v_text).collect();
        let mut pipe = redis::pipe();
        let mut sized = Vec::new();
        for (i, t) in types.iter().enumerate() {
            let cmd = match t.as_str() {
                "hash" => "HLEN",
                "set" => "SCARD",
                "zset" => "ZCARD",
                "list" => "LLEN",
                _ => continue,
            };
            pipe.cmd(cmd).arg(&part[i][..]);
            sized.push(i);
        }
        if !sized.is_empty() {
            let sizes: Vec<redis::Value> = pipe.ignore_errors().query(conn).map_err(Error::from)?;
            for (i, v) in sized.iter().zip(&sizes) {
                let size = v_int(v).unwrap_or(0).max(0) as u64;
                if size > self.p.big_elements {
                    self.empty_big(conn, addr, &part[*i], &types[*i], size)?;
                }
            }
        }
        self.bucket.take(part.len(), self.ctx)?;
        let mut pipe = redis::pipe();
        for k in part {
            pipe.cmd("UNLINK").arg(&k[..]);
        }
        let replies: Vec<redis::Value> = pipe
            .query(conn)
            .map_err(|e| Error::from(e).context(format!("UNLINK on {addr}")))?;
        let mut deleted = 0u64;
        let mut recovered = 0u64;
        for (k, r) in part.iter().zip(&replies) {
            if v_int(r) == Some(1) {
                deleted += 1;
                self.note_sample(addr, db, k);
            } else if recovering {
                recovered += 1;
                self.note_sample(addr, db, k);
            }
        }
        self.ctx
            .state()
            .metrics
            .keys_touched
            .fetch_add(deleted, Ordering::Relaxed);
        let c = self.node(addr);
        c.deleted += deleted + recovered;
        c.recovered += recovered;
        Ok(())
    }

    fn expire(
        &mut self,
        conn: &mut redis::Connection,
        addr: &str,
        db: u32,
        part: &[Vec<u8>],
        recovering: bool,
    ) -> Result<()> {
        let [lo, hi] = self.p.expire_secs.unwrap_or([1, 1]);
        let mut todo: Vec<&Vec<u8>> = part.iter().collect();
        let mut recovered = 0u64;
        if recovering {
            // Keys the killed attempt already gave a TTL in range are
            // counted, not touched again.
            let mut pipe = redis::pipe();
            for k in part {
                pipe.cmd("PTTL").arg(&k[..]);
            }
            let ttls: Vec<redis::Value> = pipe.query(conn).map_err(Error::from)?;
            todo.clear();
            for (k, t) in part.iter().zip(&ttls) {
                match v_int(t).unwrap_or(-2) {
                    -2 => {}
                    t if t >= 0 && t <= hi as i64 * 1000 => {
                        recovered += 1;
                        self.note_sample(addr, db, k);
                    }
                    _ => todo.push(k),
                }
            }
        }
        self.bucket.take(part.len(), self.ctx)?;
        let mut pipe = redis::pipe();
        for k in &todo {
            let secs = self.rng.range(lo, hi);
            pipe.cmd("EXPIRE").arg(&k[..]).arg(secs);
        }
        let mut expired = 0u64;
        if !todo.is_empty() {
            let replies: Vec<redis::Value> = pipe
                .query(conn)
                .map_err(|e| Error::from(e).context(format!("EXPIRE on {addr}")))?;
            for (k, r) in todo.iter().zip(&replies) {
                if v_int(r) == Some(1) {
                    expired += 1;
                    self.note_sample(addr, db, k);
                }
            }
        }
        self.ctx
            .state()
            .metrics
            .keys_touched
            .fetch_add(expired, Ordering::Relaxed);
        let c = self.node(addr);
        c.expired += expired + recovered;
        c.recovered += recovered;
        Ok(())
    }

    /// One pass: a SCAN of one pattern in one db of one master.
    fn pass(
        &mut self,
        creds: &Credentials,
        addr: &str,
        db: u32,
        glob: &str,
        key: &str,
    ) -> Result<()> {
        let mut conn = registry::connect(addr, creds, Duration::from_secs(5))?;
        select(&mut conn, self.cluster, db)?;
        let mut cursor = "0".to_string();
        if self.cp.current.as_deref() == Some(key) {
            cursor = self.cp.cursor.clone();
            let mut seen = std::collections::HashSet::new();
            let pending: Vec<Vec<u8>> = self
                .cp
                .pending
                .iter()
                .filter_map(|h| unhex(h))
                .filter(|k| seen.insert(k.clone()))
                .collect();
            if !pending.is_empty() {
                self.act(&mut conn, addr, db, &pending, true)?;
            }
        }
        self.cp.current = Some(key.to_string());
        self.cp.pending.clear();
        let idle = self.p.idle_secs_min.is_some();
        loop {
            self.ctx.check_cancel()?;
            self.wait_pressure(&mut conn, addr)?;
            let (next, keys): (String, Vec<Vec<u8>>) = redis::cmd("SCAN")
                .arg(&cursor)
                .arg("MATCH")
                .arg(glob)
                .arg("COUNT")
                .arg(self.p.batch)
                .query(&mut conn)
                .map_err(|e| Error::from(e).context(format!("SCAN on {addr}")))?;
            let info = inspect(&mut conn, &keys, idle)?;
            let chosen: Vec<Vec<u8>> = keys
                .iter()
                .zip(&info)
                .filter(|(_, (t, pttl, i))| self.p.selects(t, *pttl, *i))
                .map(|(k, _)| k.clone())
                .collect();
            let c = self.node(addr);
            c.scanned += keys.len() as u64;
            c.selected += chosen.len() as u64;
            self.cp.cursor = next.clone();
            if !self.p.dry_run {
                self.cp.pending = chosen.iter().map(|k| hex(k)).collect();
            }
            // Before acting on keys the checkpoint must name them; an empty
            // batch is saved at most once a second.
            if !self.cp.pending.is_empty() || self.last_save.elapsed() >= Duration::from_secs(1) {
                self.save(addr)?;
            }
            self.act(&mut conn, addr, db, &chosen, false)?;
            if next == "0" {
                break;
            }
            cursor = next;
        }
        self.cp.done.push(key.to_string());
        self.cp.current = None;
        self.cp.cursor = "0".into();
        self.cp.pending.clear();
        self.save(addr)
    }
}

/// Runs the ticket.
pub fn run(ctx: &JobCtx, p: &CleanupParams) -> Result<Value> {
    let app = ctx.app(&p.app)?;
    let cluster = is_cluster(&app);
    if cluster && p.dbs != [0] {
        return Err(Error::internal("a cluster has only db 0"));
    }
    let nodes = ctx.fresh_nodes(&app)?;
    let masters = registry::masters(&nodes);
    if masters.is_empty() {
        return Err(Error::transient(format!(
            "app {} has no master now",
            app.name
        )));
    }
    let creds = credentials(&app);
    let mut cp: Checkpoint = ctx
        .resume_checkpoint()?
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let resumed = cp.current.is_some() || !cp.done.is_empty();
    if resumed {
        cp.resumes += 1;
    }
    let estimate = ctx
        .block_on(ctx.state().store.get_ticket(ctx.ticket_id()))?
        .and_then(|t| t.plan)
        .and_then(|plan| serde_json::from_str::<Value>(&plan).ok())
        .and_then(|plan| plan["keys"].as_u64())
        .unwrap_or(0);
    let globs = p.globs();
    let mut passes = Vec::new();
    for m in &masters {
        for db in &p.dbs {
            for (i, g) in globs.iter().enumerate() {
                passes.push((m.clone(), *db, g.clone(), format!("{m}/{db}/{i}")));
            }
        }
    }
    // Pending keys of a master that is no longer one (a failover) are
    // found again by the scan of the new master.
    if let Some(cur) = &cp.current {
        if !passes.iter().any(|(_, _, _, k)| k == cur) {
            cp.current = None;
            cp.pending.clear();
        }
    }
    let prior_secs = cp.seconds;
    let mut run = Run {
        ctx,
        p,
        // Half a second of tokens: slow moments (a checkpoint, a SCAN) are
        // made up for, in a burst of at most that much.
        bucket: Bucket::new(p.rate, p.chunk().max((p.rate / 2) as usize)),
        rng: Rng::new(),
        started: Instant::now(),
        prior_secs,
        last_pressure: None,
        last_save: Instant::now(),
        passes: passes.len(),
        estimate,
        cluster,
        cp,
    };
    ctx.progress("cleaning", run.percent(), run.counters(""), true);
    for (addr, db, glob, key) in &passes {
        if run.cp.done.contains(key) {
            continue;
        }
        run.pass(&creds, addr, *db, glob, key)?;
    }
    let totals = run.totals();
    let seconds = run.seconds();
    let active = (seconds - run.cp.paused_secs).max(1e-9);
    let acted = if p.dry_run {
        totals.selected
    } else {
        totals.deleted + totals.expired
    };
    let per_node: Vec<Value> = masters
        .iter()
        .chain(run.cp.nodes.keys().filter(|k| !masters.contains(k)))
        .map(|m| {
            let c = run.cp.nodes.get(m).cloned().unwrap_or_default();
            let mut v = serde_json::to_value(&c).unwrap_or(Value::Null);
            v["node"] = json!(m);
            v
        })
        .collect();
    let round = |x: f64| (x * 1000.0).round() / 1000.0;
    let report = json!({
        "app": app.name,
        "mode": p.mode,
        "dry_run": p.dry_run,
        "dbs": p.dbs,
        "match": globs,
        "filters": {"type": p.key_type, "ttl": p.ttl, "idle_secs_min": p.idle_secs_min},
        "rate": p.rate,
        "nodes": per_node,
        "totals": totals,
        "seconds": round(seconds),
        "paused_secs": round(run.cp.paused_secs),
        "keys_per_sec": round(acted as f64 / active),
        "resumes": run.cp.resumes,
        "sample": run.cp.sample,
    });
    let dir = ctx.report_dir();
    std::fs::create_dir_all(&dir)?;
    let mut text = serde_json::to_vec_pretty(&report).unwrap_or_default();
    text.push(b'\n');
    std::fs::write(dir.join("cleanup.json"), text)?;
    ctx.progress("done", 100.0, run.counters(""), true);
    let mut result = json!({
        "mode": p.mode,
        "dry_run": p.dry_run,
        "scanned": totals.scanned,
        "selected": totals.selected,
        "deleted": totals.deleted,
        "expired": totals.expired,
        "recovered": totals.recovered,
        "big_keys": totals.big_keys,
        "elements_removed": totals.elements_removed,
        "masters": masters.len(),
        "seconds": round(seconds),
        "paused_secs": round(run.cp.paused_secs),
        "keys_per_sec": round(acted as f64 / active),
        "resumes": run.cp.resumes,
        "files": ["cleanup.json"],
    });
    if p.dry_run {
        result["would_act_on"] = json!(totals.selected);
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx(admin: bool) -> ParseCtx<'static> {
        ParseCtx {
            allowed_dirs: &[],
            max_monitor_secs: 300,
            is_admin: admin,
        }
    }

    fn parse(v: Value, admin: bool) -> Result<CleanupParams> {
        let p: CleanupParams =
            serde_json::from_value(v).map_err(|e| Error::bad_request(e.to_string()))?;
        p.validate(&ctx(admin))?;
        Ok(p)
    }

    #[test]
    fn params_defaults_and_guards() {
        let p = parse(
            json!({"app": "shop", "patterns": [{"prefix": "sess:"}]}),
            false,
        )
        .unwrap();
        assert_eq!(p.dbs, vec![0]);
        assert_eq!((p.rate, p.batch, p.big_elements), (1000, 500, 1000));
        assert_eq!(p.globs(), vec!["sess:*".to_string()]);
        let text = serde_json::to_string(&p).unwrap();
        assert!(
            text.contains("\"patterns\":[{\"prefix\":\"sess:\"}]"),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<CleanupParams>(&text).unwrap(), p);
        let kind = |v: Value, admin| parse(v, admin).unwrap_err().kind;
        use crate::ErrorKind::{BadRequest, Forbidden};
        assert_eq!(
            kind(json!({"app": "a", "patterns": [{"glob": "*"}]}), false),
            BadRequest
        );
        assert_eq!(
            kind(json!({"app": "a", "patterns": [{"glob": "*"}]}), true),
            BadRequest
        );
        assert_eq!(
            kind(json!({"app": "a", "patterns": [{"prefix": ""}]}), true),
            BadRequest
        );
        assert_eq!(
            kind(
                json!({"app": "a", "patterns": [{"glob": "*"}], "force": true}),
                false
            ),
            Forbidden
        );
        assert!(parse(
            json!({"app": "a", "patterns": [{"glob": "**"}], "force": true}),
            true
        )
        .is_ok());
        for bad in [
            json!({"app": "a", "patterns": []}),
            json!({"app": "a"}),
            json!({"app": "a", "patterns": [{"glob": ""}]}),
            json!({"app": "a", "patterns": [{"regex": "x"}]}),
            json!({"app": "a", "patterns": [{"prefix": "x"}], "colour": 1}),
            json!({"app": "a", "patterns": [{"prefix": "x"}], "type": "blob"}),
            json!({"app": "a", "patterns": [{"prefix": "x"}], "mode": "expire"}),
            json!({"app": "a", "patterns": [{"prefix": "x"}], "mode": "expire", "expire_secs": [10, 5]}),
            json!({"app": "a", "patterns": [{"prefix": "x"}], "expire_secs": [1, 5]}),
            json!({"app": "a", "patterns": [{"prefix": "x"}], "rate": 0}),
            json!({"app": "a", "patterns": [{"prefix": "x"}], "dbs": [1, 1]}),
        ] {
            assert_eq!(kind(bad.clone(), true), BadRequest, "{bad}");
        }
    }

    #[test]
    fn prefixes_are_escaped() {
        let p = Pattern::Prefix("a*b?[c]\\:".into());
        assert_eq!(p.glob(), "a\\*b\\?\\[c\\]\\\\:*");
        assert!(glob_match(p.glob().as_bytes(), b"a*b?[c]\\:1"));
        assert!(!glob_match(p.glob().as_bytes(), b"axb?[c]\\:1"));
        assert!(glob_match(b"tmp:*:x", b"tmp:12:x"));
        assert!(!glob_match(b"tmp:*:x", b"tmp:12:y"));
    }

    #[test]
    fn filters() {
        let p = parse(
            json!({"app": "a", "patterns": [{"prefix": "x"}], "type": "hash", "ttl": "without"}),
            false,
        )
        .unwrap();
        assert!(p.selects("hash", -1, None));
        assert!(!p.selects("hash", 5000, None));
        assert!(!p.selects("string", -1, None));
        assert!(!p.selects("none", -1, None));
        let e = parse(json!({"app": "a", "patterns": [{"prefix": "x"}], "mode": "expire", "expire_secs": [60, 120], "idle_secs_min": 10}), false).unwrap();
        assert!(e.selects("string", -1, Some(11)));
        assert!(!e.selects("string", -1, Some(9)));
        assert!(
            !e.selects("string", 100_000, Some(11)),
            "already expires within the range"
        );
        assert!(e.selects("string", 500_000, Some(11)));
    }

    #[test]
    fn pressure_from_info() {
        let kv = |s: &str| -> Vec<(String, String)> {
            s.lines()
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.into(), v.into()))
                .collect()
        };
        let calm = kv("rdb_bgsave_in_progress:0\naof_rewrite_in_progress:0");
        let fork = kv("rdb_bgsave_in_progress:1\naof_rewrite_in_progress:0");
        let repl = kv("role:master\nmaster_repl_offset:5000000\nslave0:ip=10.0.0.2,port=6380,state=online,offset=4999000,lag=0");
        let lagging = kv("role:master\nmaster_repl_offset:5000000\nslave0:ip=10.0.0.2,port=6380,state=online,offset=1000,lag=3");
        assert_eq!(pressure(&calm, &repl, 1 << 20), None);
        assert!(pressure(&fork, &repl, 1 << 20).unwrap().contains("fork"));
        assert!(pressure(&calm, &lagging, 1 << 20)
            .unwrap()
            .contains("10.0.0.2:6380"));
    }

    #[test]
    fn hex_round_trip() {
        for k in [&b""[..], b"a", b"\x00\xff key"] {
            assert_eq!(unhex(&hex(k)).unwrap(), k);
        }
    }
}
