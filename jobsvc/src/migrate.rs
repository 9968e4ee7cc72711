//! Migration tickets: copy the keys of a source (a live app, or an RDB file
//! on the service host or fetched from the app as a replica) to a target app
//! (a standalone node, a master with replicas, or a cluster), under a rate
//! limit, with a checkpoint after every batch and a verification at the end.
//!
//! How a batch goes:
//!
//! 1. the source gives the next batch of selected keys with their values as
//!    `DUMP` payloads and absolute expire times: from a live app, `SCAN`
//!    then pipelined `PTTL` + `DUMP` on each master; from a file, the
//!    parser's raw value bytes wrapped as a payload (type byte, value, RDB
//!    version, CRC64) without decoding them;
//! 2. pipelined `EXISTS` on the target tells which keys were already there;
//! 3. the checkpoint is written: where the source continues, the batch
//!    (live: its keys; file: its start offset), the keys of the batch that
//!    already existed, and the counters so far;
//! 4. the keys are written, paced by the rate: `RESTORE key abs-expire
//!    payload ABSTTL` when the target's `DUMP` format is at least the
//!    source's, otherwise as commands (`RPUSH`, `HSET`, `XADD`…, in chunks
//!    of at most `max_command_bytes`) into a temporary key of the same
//!    slot that is then `RENAME`d into place.
//!
//! A resumed run redoes the batch of its checkpoint: keys that existed
//! before the batch are treated by the conflict policy as the first time,
//! the others may be the killed attempt's own writes and are replaced.
//! `RESTORE` and `RENAME` are atomic per key, so a key is never seen half
//! written and a list is never doubled.
//!
//! Cluster targets: keys are routed by slot (`CLUSTER SLOTS`), `MOVED`
//! refreshes the map and retries, `ASK` retries with `ASKING`, and a
//! connection error (a master failing over) refreshes the map and retries
//! with backoff for up to about half a minute.
//!
//! Verification: keys matching the filters are counted per db on both
//! sides, and a sample (`verify_percent` of the written keys, plus every key
//! whose payload is over `big_key_bytes`) is compared by value and TTL.
//! `migration.json` in the report lists the counts, conflicts, failures and
//! mismatches; the ticket fails when a key failed or a mismatch remains.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rdb_parser::restore::{
    payload_as_rdb, payload_version, restore_payload, CommandOptions, CommandSink,
};
use rdb_parser::{Chunk, Element, Rdb, Record, Scalar, Scratch, StreamId, StreamVisitor};
use redis::Value as RV;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};

use crate::cleanup::{glob_match, Pattern, KEY_TYPES};
use crate::error::{Error, Result};
use crate::jobs::JobCtx;
use crate::params::{check_allowed_file, ParseCtx};
use crate::registry::{self, AppKind, Credentials, Node};
use crate::service::{credentials, ServiceState};
use crate::store::{now_ms, AppRow};

type Cmd = Vec<Vec<u8>>;

/// Keys listed in the report per kind of problem, at most.
const LIST_CAP: usize = 100;
/// TTLs compared in the verification may differ by this much.
const TTL_TOLERANCE_MS: i64 = 2_000;
/// How long writes to a target keep being retried (failover, resharding).
const RETRY_FOR: Duration = Duration::from_secs(40);

// ---- parameters ----------------------------------------------------------------

/// How a live source is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SourceMethod {
    /// `SCAN` + `DUMP` + `PTTL` on each master.
    #[default]
    Scan,
    /// Fetch each shard's RDB as a replica and read the files.
    Rdb,
}

/// Where the keys come from: `{"app": "a"}` (or just `"a"`), optionally
/// with `"method": "rdb"`, or `{"file": "/abs/path.rdb"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// A registered app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// An RDB file on the service host, inside an allowed directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub file: Option<PathBuf>,
    /// How a live app is read (default `scan`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<SourceMethod>,
}

fn source_de<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Source, D::Error> {
    let v = Value::deserialize(d)?;
    match v {
        Value::String(app) => Ok(Source {
            app: Some(app),
            file: None,
            method: None,
        }),
        other => serde_json::from_value(other).map_err(serde::de::Error::custom),
    }
}

/// What happens to a key that already exists on the target.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Conflict {
    /// Leave it, record it, go on.
    #[default]
    #[serde(rename = "fail-key")]
    FailKey,
    /// Overwrite it.
    #[serde(rename = "replace")]
    Replace,
    /// Leave it, count it.
    #[serde(rename = "skip")]
    Skip,
}

/// How values are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WriteMode {
    /// `RESTORE` when the target reads the source's format, else commands.
    #[default]
    Auto,
    /// Always `RESTORE`.
    Restore,
    /// Always commands (`SET`, `RPUSH`, `HSET`, `XADD`…).
    Commands,
}

/// Parameters of a `migration` ticket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrationParams {
    /// Where the keys come from.
    #[serde(deserialize_with = "source_de")]
    pub source: Source,
    /// The app written to.
    pub target: String,
    /// Source databases (default: all; a cluster has only 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dbs: Option<Vec<u32>>,
    /// Keys matching any of these (default: every key).
    #[serde(default)]
    pub patterns: Vec<Pattern>,
    /// Only keys of this type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
    /// What to do with keys already on the target.
    #[serde(default)]
    pub conflict: Conflict,
    /// Source db to target db (default: the same number).
    #[serde(default)]
    pub db_map: BTreeMap<u32, u32>,
    /// Keys per second.
    #[serde(default = "default_rate")]
    #[schema(default = default_rate)]
    pub rate: u64,
    /// Keys per batch (and checkpoint), at most.
    #[serde(default = "default_batch")]
    #[schema(default = default_batch)]
    pub batch: u64,
    /// `RESTORE` or commands.
    #[serde(default)]
    pub write: WriteMode,
    /// Largest command sent when values are written as commands.
    #[serde(default = "default_max_command_bytes")]
    #[schema(default = default_max_command_bytes)]
    pub max_command_bytes: u64,
    /// Keys whose serialized value is larger are all verified.
    #[serde(default = "default_big_key_bytes")]
    #[schema(default = default_big_key_bytes)]
    pub big_key_bytes: u64,
    /// Share of the written keys compared at the end, in percent.
    #[serde(default = "default_verify_percent")]
    #[schema(default = default_verify_percent)]
    pub verify_percent: f64,
}

fn default_rate() -> u64 {
    5000
}
fn default_batch() -> u64 {
    200
}
fn default_max_command_bytes() -> u64 {
    1 << 20
}
fn default_big_key_bytes() -> u64 {
    1 << 20
}
fn default_verify_percent() -> f64 {
    1.0
}

impl MigrationParams {
    /// Checks the parameters at submission.
    pub fn validate(&self, ctx: &ParseCtx<'_>) -> Result<()> {
        let bad = |m: String| Err(Error::bad_request(format!("migration params: {m}")));
        match (&self.source.app, &self.source.file) {
            (Some(a), None) if !a.is_empty() => {}
            (None, Some(f)) => {
                if self.source.method.is_some() {
                    return bad("source.method is for an app source".into());
                }
                check_allowed_file(f, ctx.allowed_dirs)?;
            }
            _ => return bad("give exactly one source: {\"app\": …} or {\"file\": …}".into()),
        }
        if self.target.is_empty() {
            return bad("target is empty".into());
        }
        if self.source.app.as_deref() == Some(self.target.as_str())
            && (self.db_map.is_empty() || self.db_map.iter().any(|(a, b)| a == b))
        {
            return bad(
                "source and target are the same app: map every db to another with db_map".into(),
            );
        }
        if let Some(dbs) = &self.dbs {
            let set: BTreeSet<u32> = dbs.iter().copied().collect();
            if dbs.is_empty() || set.len() != dbs.len() || dbs.iter().any(|d| *d > 1023) {
                return bad("dbs must be distinct numbers 0 to 1023".into());
            }
        }
        if self.db_map.iter().any(|(a, b)| *a > 1023 || *b > 1023) {
            return bad("db_map numbers must be 0 to 1023".into());
        }
        if self.patterns.len() > 100 {
            return bad("give at most 100 patterns".into());
        }
        if self
            .patterns
            .iter()
            .any(|p| matches!(p, Pattern::Glob(g) if g.is_empty()))
        {
            return bad("an empty glob matches no key".into());
        }
        if let Some(t) = &self.key_type {
            if !KEY_TYPES.contains(&t.as_str()) {
                return bad(format!(
                    "type {t:?}: expected one of {}",
                    KEY_TYPES.join(", ")
                ));
            }
        }
        if !(1..=1_000_000).contains(&self.rate) {
            return bad("rate must be 1 to 1000000 keys/s".into());
        }
        if !(1..=10_000).contains(&self.batch) {
            return bad("batch must be 1 to 10000".into());
        }
        if !(1024..=512 << 20).contains(&self.max_command_bytes) {
            return bad("max_command_bytes must be 1024 to 512 MiB".into());
        }
        if !(0.0..=100.0).contains(&self.verify_percent) {
            return bad("verify_percent must be 0 to 100".into());
        }
        Ok(())
    }

    /// The apps the ticket touches.
    pub fn apps(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.source.app.as_deref().into_iter().collect();
        v.push(self.target.as_str());
        v
    }

    fn method(&self) -> SourceMethod {
        self.source.method.unwrap_or_default()
    }

    fn target_db(&self, db: u32) -> u32 {
        *self.db_map.get(&db).unwrap_or(&db)
    }

    fn selects_db(&self, db: u32) -> bool {
        self.dbs.as_ref().is_none_or(|d| d.contains(&db))
    }

    fn selects_key(&self, key: &[u8]) -> bool {
        self.patterns.is_empty()
            || self
                .patterns
                .iter()
                .any(|p| glob_match(p.glob().as_bytes(), key))
    }

    fn selects_type(&self, kind: &str) -> bool {
        self.key_type.as_deref().is_none_or(|t| t == kind)
    }

    /// Keys per batch: about a fifth of a second's worth, at most `batch`.
    fn chunk(&self) -> usize {
        self.batch.min((self.rate / 5).max(1)) as usize
    }

    fn sampled(&self, key: &[u8]) -> bool {
        // FNV-1a: the same keys are sampled by every attempt.
        let h = key.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
        });
        ((h % 10_000) as f64) < self.verify_percent * 100.0
    }

    fn command_options(&self, streams_v2: bool, rdb_version: u32) -> CommandOptions {
        CommandOptions {
            max_args: 1024,
            max_bytes: (self.max_command_bytes as usize)
                .saturating_sub(4096)
                .max(512),
            streams_v2,
            rdb_version,
        }
    }
}

// ---- small helpers -------------------------------------------------------------

fn hex(b: &[u8]) -> String {
    crate::auth::hex(b)
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect()
}

fn show(key: &[u8]) -> String {
    String::from_utf8_lossy(key).into_owned()
}

fn int(v: &RV) -> Option<i64> {
    match v {
        RV::Int(i) => Some(*i),
        RV::BulkString(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        RV::SimpleString(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn bytes(v: &RV) -> Option<Vec<u8>> {
    match v {
        RV::BulkString(b) => Some(b.clone()),
        RV::SimpleString(s) => Some(s.clone().into_bytes()),
        RV::Okay => Some(b"OK".to_vec()),
        RV::Int(i) => Some(i.to_string().into_bytes()),
        RV::Double(d) => Some(rdb_parser::restore::format_score(*d).into_bytes()),
        _ => None,
    }
}

fn items(v: &RV) -> Vec<RV> {
    match v {
        RV::Array(a) | RV::Set(a) => a.clone(),
        RV::Map(m) => m.iter().flat_map(|(k, v)| [k.clone(), v.clone()]).collect(),
        _ => Vec::new(),
    }
}

fn server_error(v: &RV) -> Option<(String, String)> {
    match v {
        RV::ServerError(e) => Some((
            e.code().to_string(),
            e.details().unwrap_or_default().to_string(),
        )),
        _ => None,
    }
}

fn cmd_of(args: &[&[u8]]) -> Cmd {
    args.iter().map(|a| a.to_vec()).collect()
}

/// The RDB version a server's `DUMP` writes, from `INFO server`.
pub fn dump_version(info: &[(String, String)]) -> u32 {
    let get = |k: &str| {
        info.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let parse = |v: &str| -> (u32, u32) {
        let mut it = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        (it.next().unwrap_or(0), it.next().unwrap_or(0))
    };
    if let Some(v) = get("valkey_version") {
        return match parse(v) {
            (m, _) if m >= 9 => 80,
            _ => 11,
        };
    }
    match parse(get("redis_version").unwrap_or("0")) {
        (m, _) if m < 5 => 8,
        (5, _) => 9,
        (6, _) => 9,
        (7, 0) => 10,
        (7, 2) | (7, 3) => 11,
        (7, _) => 12,
        (8, 0) => 12,
        _ => 13,
    }
}

/// Picks a hash tag for every slot, so a temporary key can live in the slot
/// of any key (whatever braces the key itself has).
fn slot_tags() -> &'static Vec<u32> {
    static TAGS: OnceLock<Vec<u32>> = OnceLock::new();
    TAGS.get_or_init(|| {
        let mut tags = vec![u32::MAX; 16384];
        let mut left = 16384;
        let mut i = 0u32;
        while left > 0 {
            let s = analyzer::slot::crc16(format!("rdbscope-{i}").as_bytes()) as usize % 16384;
            if tags[s] == u32::MAX {
                tags[s] = i;
                left -= 1;
            }
            i += 1;
        }
        tags
    })
}

// ---- the target -----------------------------------------------------------------

/// Writes to the target app: one master, or a cluster routed by slot.
struct Target {
    app: AppRow,
    creds: Credentials,
    cluster: bool,
    /// For each slot, the index of its master in `addrs` (cluster only).
    slots: Vec<usize>,
    addrs: Vec<String>,
    conns: HashMap<String, (redis::Connection, u32)>,
    db: u32,
    dump_version: u32,
    version: String,
    redirects: u64,
    refreshes: u64,
}

impl Target {
    fn open(ctx: &JobCtx, app: AppRow) -> Result<Target> {
        let nodes = ctx.fresh_nodes(&app)?;
        let mut t = Target {
            cluster: app.kind == "cluster",
            creds: credentials(&app),
            app,
            slots: Vec::new(),
            addrs: Vec::new(),
            conns: HashMap::new(),
            db: 0,
            dump_version: 0,
            version: String::new(),
            redirects: 0,
            refreshes: 0,
        };
        t.set_nodes(&nodes);
        let first = t
            .addrs
            .first()
            .cloned()
            .ok_or_else(|| Error::internal("the target has no master"))?;
        let info = {
            let c = t.conn(&first)?;
            registry::info(c, "server")?
        };
        t.dump_version = dump_version(&info);
        t.version = info
            .iter()
            .find(|(k, _)| k == "valkey_version" || k == "redis_version")
            .map(|(k, v)| {
                format!(
                    "{} {v}",
                    if k == "valkey_version" {
                        "valkey"
                    } else {
                        "redis"
                    }
                )
            })
            .unwrap_or_default();
        Ok(t)
    }

    fn set_nodes(&mut self, nodes: &[Node]) {
        let mut masters: Vec<&Node> = nodes.iter().filter(|n| n.role == "master").collect();
        masters.sort_by(|a, b| a.addr.cmp(&b.addr));
        self.addrs = masters.iter().map(|n| n.addr.clone()).collect();
        if self.cluster {
            self.slots = vec![usize::MAX; 16384];
            for (i, m) in masters.iter().enumerate() {
                for [a, b] in m.slots.clone().unwrap_or_default() {
                    for s in a..=b.min(16383) {
                        self.slots[s as usize] = i;
                    }
                }
            }
        }
    }

    /// Discovers the target again, from any member that answers.
    fn refresh(&mut self) {
        self.refreshes += 1;
        let kind = AppKind::parse(&self.app.kind).unwrap_or(AppKind::Standalone);
        let mut seeds = vec![self.app.addr.clone()];
        seeds.extend(self.addrs.iter().cloned());
        for s in seeds {
            if let Ok(nodes) = registry::discover(kind, &s, &self.creds, Duration::from_secs(2)) {
                self.set_nodes(&nodes);
                return;
            }
        }
    }

    fn node_for(&self, key: &[u8]) -> Option<String> {
        if self.cluster {
            let i = *self.slots.get(analyzer::slot::key_slot(key) as usize)?;
            self.addrs.get(i).cloned()
        } else {
            self.addrs.first().cloned()
        }
    }

    fn conn(&mut self, addr: &str) -> Result<&mut redis::Connection> {
        if !self.conns.contains_key(addr) {
            let c = registry::connect(addr, &self.creds, Duration::from_secs(3))?;
            self.conns.insert(addr.to_string(), (c, 0));
        }
        let db = self.db;
        let cluster = self.cluster;
        let (c, selected) = self.conns.get_mut(addr).expect("just inserted");
        if !cluster && *selected != db {
            redis::cmd("SELECT")
                .arg(db)
                .query::<()>(c)
                .map_err(Error::from)?;
            *selected = db;
        }
        Ok(c)
    }

    /// A temporary key in the slot of `key`.
    fn tmp_key(&self, key: &[u8], ticket: i64) -> Vec<u8> {
        if self.cluster {
            let tag = slot_tags()[analyzer::slot::key_slot(key) as usize];
            format!("{{rdbscope-{tag}}}:migrate-tmp:{ticket}").into_bytes()
        } else {
            format!("rdbscope:migrate-tmp:{ticket}").into_bytes()
        }
    }

    /// Runs, for each key, its command sequence on the node that owns it,
    /// following redirections and retrying through failovers. `build(i,
    /// retry)` gives key i's commands (`retry`: an earlier try may have
    /// written it). Returns each key's replies.
    fn exec(
        &mut self,
        ctx: &JobCtx,
        keys: &[&[u8]],
        build: &mut dyn FnMut(usize, bool) -> Vec<Cmd>,
    ) -> Result<Vec<Vec<RV>>> {
        let mut out: Vec<Vec<RV>> = vec![Vec::new(); keys.len()];
        let mut todo: Vec<(usize, Option<String>, bool)> =
            (0..keys.len()).map(|i| (i, None, false)).collect();
        let started = Instant::now();
        let mut attempt = 0u32;
        let mut last_error = String::new();
        while !todo.is_empty() {
            if attempt > 0 {
                ctx.check_cancel()?;
                if started.elapsed() > RETRY_FOR {
                    return Err(Error::transient(format!(
                        "the target {} kept failing for {}s: {last_error}",
                        self.app.name,
                        RETRY_FOR.as_secs()
                    )));
                }
                std::thread::sleep(Duration::from_millis((50 * u64::from(attempt)).min(1000)));
            }
            attempt += 1;
            let mut by_node: BTreeMap<String, Vec<(usize, bool, bool)>> = BTreeMap::new();
            let mut next = Vec::new();
            let mut refresh = false;
            for (i, ask, retry) in todo.drain(..) {
                match ask.clone().or_else(|| self.node_for(keys[i])) {
                    Some(n) => by_node
                        .entry(n)
                        .or_default()
                        .push((i, ask.is_some(), retry)),
                    None => {
                        refresh = true;
                        last_error = "a slot has no master".into();
                        next.push((i, None, retry));
                    }
                }
            }
            for (node, list) in by_node {
                let mut pipe = redis::pipe();
                pipe.ignore_errors();
                let mut spans = Vec::with_capacity(list.len());
                for &(i, asking, retry) in &list {
                    let cmds = build(i, retry);
                    for c in &cmds {
                        if asking {
                            pipe.cmd("ASKING");
                        }
                        let mut rc = redis::cmd(std::str::from_utf8(&c[0]).unwrap_or("PING"));
                        for a in &c[1..] {
                            rc.arg(&a[..]);
                        }
                        pipe.add_command(rc);
                    }
                    spans.push((i, asking, cmds.len()));
                }
                let replies: std::result::Result<Vec<RV>, Error> = self
                    .conn(&node)
                    .and_then(|c| pipe.query::<Vec<RV>>(c).map_err(Error::from));
                let replies = match replies {
                    Ok(r) => r,
                    Err(e) if e.is_transient() || e.message.contains("connect") => {
                        // The node is gone or failing over: find the new owner.
                        self.conns.remove(&node);
                        refresh = true;
                        last_error = format!("{node}: {}", e.message);
                        next.extend(list.iter().map(|&(i, _, _)| (i, None, true)));
                        continue;
                    }
                    Err(e) => return Err(e.context(format!("writing to {node}"))),
                };
                let mut at = 0;
                for (i, asking, n) in spans {
                    let per = if asking { 2 } else { 1 };
                    let mine: Vec<RV> = replies
                        .get(at..at + n * per)
                        .unwrap_or_default()
                        .iter()
                        .skip(per - 1)
                        .step_by(per)
                        .cloned()
                        .collect();
                    at += n * per;
                    let redirect = mine.iter().find_map(|r| match server_error(r) {
                        Some((code, details)) if code == "MOVED" => Some((true, None, details)),
                        Some((code, details)) if code == "ASK" => Some((
                            false,
                            details.split_whitespace().nth(1).map(str::to_string),
                            details,
                        )),
                        Some((code, details))
                            if matches!(
                                code.as_str(),
                                "TRYAGAIN" | "CLUSTERDOWN" | "LOADING" | "MASTERDOWN"
                            ) =>
                        {
                            Some((code == "CLUSTERDOWN", None, format!("{code} {details}")))
                        }
                        _ => None,
                    });
                    match redirect {
                        Some((moved, ask, why)) => {
                            self.redirects += 1;
                            refresh |= moved;
                            last_error = why;
                            next.push((i, ask, true));
                        }
                        None => out[i] = mine,
                    }
                }
            }
            if refresh {
                self.refresh();
            }
            todo = next;
        }
        Ok(out)
    }
}

// ---- what is carried from batch to batch ----------------------------------------

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Counts {
    selected: u64,
    written: u64,
    replaced: u64,
    skipped: u64,
    conflicts: u64,
    failed: u64,
    expired: u64,
    empty: u64,
    vanished: u64,
    rewritten: u64,
    big: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.selected += o.selected;
        self.written += o.written;
        self.replaced += o.replaced;
        self.skipped += o.skipped;
        self.conflicts += o.conflicts;
        self.failed += o.failed;
        self.expired += o.expired;
        self.empty += o.empty;
        self.vanished += o.vanished;
        self.rewritten += o.rewritten;
        self.big += o.big;
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct State {
    /// Per source db.
    per_db: BTreeMap<u32, Counts>,
    conflict_keys: Vec<Value>,
    failed_keys: Vec<Value>,
    /// Live: master index, db index, cursor. File: file index, offset, db.
    a: usize,
    b: u64,
    c: u64,
    /// The batch being written when the checkpoint was taken.
    pending: Option<Pending>,
    /// The target turned out not to read the source's payloads.
    rewrite: bool,
    /// Time spent copying and keys paced, over all attempts.
    copy_secs: f64,
    paced: u64,
    /// Estimated keys (live) or bytes (files), for the percentage.
    total: u64,
    done_bytes: u64,
    copied: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Pending {
    db: u32,
    /// Live: the batch's keys (hex). File: empty (the batch is re-read).
    keys: Vec<String>,
    /// File: which file, where the batch starts, and the db there.
    file: usize,
    start: u64,
    start_db: u64,
    /// Keys of the batch that existed on the target before it was written.
    existed: Vec<String>,
}

impl State {
    fn totals(&self) -> Counts {
        let mut t = Counts::default();
        for c in self.per_db.values() {
            t.add(c);
        }
        t
    }
}

/// One key read from the source.
struct Item {
    key: Vec<u8>,
    payload: Vec<u8>,
    expire_at: Option<i64>,
    /// File sources: where its record starts (for the verification).
    offset: Option<u64>,
}

struct Batch {
    db: u32,
    items: Vec<Item>,
    /// Keys that were selected but are gone (live) by the time of `DUMP`.
    vanished: u64,
}

// ---- sources -------------------------------------------------------------------

struct LiveSource {
    creds: Credentials,
    masters: Vec<String>,
    dbs: Vec<u32>,
    conn: Option<(String, u32, redis::Connection)>,
}

impl LiveSource {
    fn open(ctx: &JobCtx, p: &MigrationParams, app: &AppRow) -> Result<LiveSource> {
        let nodes = ctx.fresh_nodes(app)?;
        let mut masters: Vec<&Node> = nodes.iter().filter(|n| n.role == "master").collect();
        // Shards in slot order, so that a failover keeps each one's place.
        masters.sort_by_key(|n| {
            (
                n.slots.as_ref().and_then(|s| s.first().map(|r| r[0])),
                n.addr.clone(),
            )
        });
        let mut s = LiveSource {
            creds: credentials(app),
            masters: masters.iter().map(|n| n.addr.clone()).collect(),
            dbs: Vec::new(),
            conn: None,
        };
        s.dbs = match (&p.dbs, app.kind == "cluster") {
            (_, true) => vec![0],
            (Some(d), false) => {
                let mut d = d.clone();
                d.sort_unstable();
                d
            }
            (None, false) => {
                let mut all = BTreeSet::new();
                for m in s.masters.clone() {
                    let c = s.conn(&m, 0)?;
                    for (k, _) in registry::info(c, "keyspace")? {
                        if let Some(n) = k.strip_prefix("db").and_then(|n| n.parse::<u32>().ok()) {
                            all.insert(n);
                        }
                    }
                }
                all.into_iter().collect()
            }
        };
        Ok(s)
    }

    fn conn(&mut self, addr: &str, db: u32) -> Result<&mut redis::Connection> {
        let fresh = !matches!(&self.conn, Some((a, d, _)) if a == addr && *d == db);
        if fresh {
            let mut c = registry::connect(addr, &self.creds, Duration::from_secs(5))?;
            if db != 0 {
                redis::cmd("SELECT")
                    .arg(db)
                    .query::<()>(&mut c)
                    .map_err(Error::from)?;
            }
            self.conn = Some((addr.to_string(), db, c));
        }
        Ok(&mut self.conn.as_mut().expect("set").2)
    }

    /// The next batch of selected keys, moving the position in `st`.
    fn next_keys(
        &mut self,
        p: &MigrationParams,
        st: &mut State,
    ) -> Result<Option<(u32, Vec<Vec<u8>>)>> {
        let want = p.chunk();
        loop {
            if st.a >= self.masters.len() {
                return Ok(None);
            }
            if st.b as usize >= self.dbs.len() {
                st.a += 1;
                st.b = 0;
                st.c = 0;
                continue;
            }
            let (master, db) = (self.masters[st.a].clone(), self.dbs[st.b as usize]);
            let mut cmd = redis::cmd("SCAN");
            cmd.arg(st.c);
            if p.patterns.len() == 1 {
                cmd.arg("MATCH").arg(p.patterns[0].glob());
            }
            cmd.arg("COUNT").arg(want.max(10));
            if let Some(t) = &p.key_type {
                cmd.arg("TYPE").arg(t);
            }
            let (next, keys): (u64, Vec<Vec<u8>>) = cmd
                .query(self.conn(&master, db)?)
                .map_err(|e| Error::from(e).context(format!("SCAN on {master}")))?;
            st.c = next;
            if next == 0 {
                st.b += 1;
                st.c = 0;
            }
            let keys: Vec<Vec<u8>> = keys.into_iter().filter(|k| p.selects_key(k)).collect();
            if !keys.is_empty() {
                return Ok(Some((db, keys)));
            }
        }
    }

    /// `PTTL` and `DUMP` of each key, from the master of the current position.
    fn read(&mut self, a: usize, db: u32, keys: Vec<Vec<u8>>) -> Result<Batch> {
        // The position moves on only before a SCAN: `a` is the master the
        // keys were scanned on.
        let master = self.masters[a.min(self.masters.len() - 1)].clone();
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for k in &keys {
            pipe.cmd("PTTL").arg(&k[..]);
            pipe.cmd("DUMP").arg(&k[..]);
        }
        let before = now_ms();
        let replies: Vec<RV> = pipe
            .query(self.conn(&master, db)?)
            .map_err(|e| Error::from(e).context(format!("DUMP on {master}")))?;
        let mut b = Batch {
            db,
            items: Vec::new(),
            vanished: 0,
        };
        for (k, r) in keys.into_iter().zip(replies.chunks(2)) {
            let mut r = r.to_vec();
            let mut at = before;
            // A cluster slot moved since the SCAN: read the key where it is now.
            if let Some((code, details)) = r.iter().find_map(server_error) {
                let addr = details
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_string();
                if !matches!(code.as_str(), "MOVED" | "ASK") || addr.is_empty() {
                    return Err(Error::internal(format!(
                        "DUMP {} on {master}: {code} {details}",
                        show(&k)
                    )));
                }
                let mut c = registry::connect(&addr, &self.creds, Duration::from_secs(5))?;
                let mut pipe = redis::pipe();
                if code == "ASK" {
                    pipe.cmd("ASKING").ignore();
                }
                pipe.cmd("PTTL").arg(&k[..]).cmd("DUMP").arg(&k[..]);
                at = now_ms();
                r = pipe
                    .query(&mut c)
                    .map_err(|e| Error::from(e).context(format!("DUMP on {addr}")))?;
            }
            let pttl = int(&r[0]).unwrap_or(-2);
            match (&r[1], pttl) {
                (RV::BulkString(payload), t) if t != -2 => b.items.push(Item {
                    key: k,
                    payload: payload.clone(),
                    expire_at: (t >= 0).then_some(at + t),
                    offset: None,
                }),
                _ => b.vanished += 1,
            }
        }
        Ok(b)
    }
}

/// A batch read from a file, where the next starts (offset, db; None at
/// the end of the file), and how far the file has been read.
type FileBatch = (Batch, Option<(u64, u64)>, u64);

/// RDB files read in order: a batch is a run of records of one db.
struct FileSource {
    files: Vec<(PathBuf, rdb_parser::mmap::Mmap)>,
}

impl FileSource {
    fn rdb(&self, i: usize) -> Result<Rdb<'_>> {
        let (path, m) = &self.files[i];
        Rdb::new(m).map_err(|e| Error::internal(format!("{}: {e}", path.display())))
    }

    /// Reads the batch starting at file `file`, `offset` (db `db`); returns
    /// it and where the next one starts (None at the end of the file).
    fn read_at(&self, p: &MigrationParams, file: usize, offset: u64, db: u64) -> Result<FileBatch> {
        let rdb = self.rdb(file)?;
        let offset = offset.max(rdb.body_start());
        let chunk = Chunk {
            index: 0,
            start: offset,
            end: rdb.data().len() as u64,
            db,
            last: true,
        };
        let mut records = rdb.chunk_records(&chunk);
        let mut b = Batch {
            db: db as u32,
            items: Vec::new(),
            vanished: 0,
        };
        let mut keybuf = Vec::new();
        let want = p.chunk();
        let mut bytes = 0u64;
        let name = self.files[file].0.display().to_string();
        loop {
            let at = records.offset();
            let at_db = records.db();
            if !b.items.is_empty() && (b.items.len() >= want || bytes >= 16 << 20) {
                return Ok((b, Some((at, at_db)), at));
            }
            match records.next() {
                None | Some(Ok(Record::Eof { .. })) => {
                    return Ok((b, None, rdb.data().len() as u64))
                }
                Some(Err(e)) => return Err(Error::internal(format!("{name}: {e}"))),
                Some(Ok(Record::SelectDb(_))) if !b.items.is_empty() => {
                    return Ok((b, Some((at, at_db)), at));
                }
                Some(Ok(Record::Entry(e))) => {
                    b.db = e.db as u32;
                    let key = e
                        .key
                        .bytes(&mut keybuf)
                        .map_err(|e| Error::internal(format!("{name}: {e}")))?;
                    if !p.selects_db(e.db as u32)
                        || !p.selects_key(key)
                        || !p.selects_type(e.kind().name())
                    {
                        continue;
                    }
                    bytes += e.value.raw().len() as u64;
                    b.items.push(Item {
                        key: key.to_vec(),
                        payload: restore_payload(
                            e.value_type().byte(),
                            e.value.raw(),
                            rdb.version(),
                        ),
                        expire_at: e.expire_at_ms,
                        offset: Some(e.record_start),
                    });
                }
                Some(Ok(_)) => {}
            }
        }
    }
}

enum Src {
    Live(Box<LiveSource>),
    Files(FileSource),
}

/// A pacer over keys per second: key n goes out no earlier than n / rate
/// seconds after the first.
struct Pacer {
    rate: f64,
    start: Option<Instant>,
    sent: u64,
}

impl Pacer {
    fn wait(&mut self, n: usize, ctx: &JobCtx) -> Result<()> {
        let start = *self.start.get_or_insert_with(Instant::now);
        self.sent += n as u64;
        let due = start + Duration::from_secs_f64(self.sent as f64 / self.rate);
        loop {
            let now = Instant::now();
            if now >= due {
                return Ok(());
            }
            ctx.check_cancel()?;
            std::thread::sleep((due - now).min(Duration::from_millis(200)));
        }
    }
}

// ---- writing a batch -----------------------------------------------------------

struct CmdCollect(Vec<Cmd>);

impl CommandSink for CmdCollect {
    fn command(&mut self, args: &[&[u8]]) {
        self.0.push(cmd_of(args));
    }
}

/// The commands that write a payload's value under `key` (None: an empty
/// collection, which no server stores).
fn rewrite_commands(payload: &[u8], key: &[u8], opts: &CommandOptions) -> Result<Option<Vec<Cmd>>> {
    let file = payload_as_rdb(payload)
        .ok_or_else(|| Error::internal("a DUMP payload with a bad trailer"))?;
    let rdb = Rdb::new(&file).map_err(|e| Error::internal(format!("payload: {e}")))?;
    let entry = rdb
        .entries()
        .next()
        .ok_or_else(|| Error::internal("empty payload"))?
        .map_err(|e| Error::internal(format!("payload: {e}")))?;
    let mut sink = CmdCollect(Vec::new());
    let wrote = rdb_parser::restore::value_commands(
        &entry.value,
        key,
        &mut Scratch::new(),
        opts,
        &mut sink,
    )
    .map_err(|e| Error::internal(format!("payload: {e}")))?;
    Ok(wrote.then_some(sink.0))
}

enum Plan {
    Restore {
        replace: bool,
    },
    Rewrite {
        cmds: Vec<Cmd>,
        tmp: Vec<u8>,
        replace: bool,
    },
}

struct Ctx<'a> {
    ctx: &'a JobCtx,
    p: &'a MigrationParams,
    target: Target,
    st: State,
    pacer: Pacer,
    sample: std::fs::File,
    source_version: u32,
}

impl Ctx<'_> {
    fn rewrite_for(&self, payload: &[u8]) -> bool {
        match self.p.write {
            WriteMode::Commands => true,
            WriteMode::Restore => false,
            WriteMode::Auto => {
                self.st.rewrite
                    || payload_version(payload).unwrap_or(self.source_version)
                        > self.target.dump_version
            }
        }
    }

    /// `EXISTS` of each key on the target (in its db).
    fn existing(&mut self, b: &Batch) -> Result<Vec<String>> {
        self.target.db = self.p.target_db(b.db);
        let keys: Vec<&[u8]> = b.items.iter().map(|i| i.key.as_slice()).collect();
        let replies = self.target.exec(self.ctx, &keys, &mut |i, _| {
            vec![vec![b"EXISTS".to_vec(), keys[i].to_vec()]]
        })?;
        Ok(replies
            .iter()
            .zip(&b.items)
            .filter(|(r, _)| r.first().and_then(int).unwrap_or(0) > 0)
            .map(|(_, i)| hex(&i.key))
            .collect())
    }

    fn note(list: &mut Vec<Value>, db: u32, key: &[u8], why: &str) {
        if list.len() < LIST_CAP {
            list.push(json!({"db": db, "key": show(key), "key_hex": hex(key), "why": why}));
        }
    }

    /// Writes a batch whose pre-existing keys are `existed`; `resumed`: an
    /// earlier attempt may have written (some of) it already.
    fn write(&mut self, b: &Batch, existed: &[String], resumed: bool) -> Result<()> {
        let existed: HashSet<&str> = existed.iter().map(String::as_str).collect();
        let now = now_ms();
        let p = self.p;
        let ticket = self.ctx.ticket_id();
        self.target.db = p.target_db(b.db);
        let mut counts = Counts {
            selected: b.items.len() as u64 + b.vanished,
            vanished: b.vanished,
            ..Counts::default()
        };
        let mut plans: Vec<Option<Plan>> = Vec::with_capacity(b.items.len());
        let opts = p.command_options(self.target.dump_version >= 10, self.source_version);
        for it in &b.items {
            if it.expire_at.is_some_and(|t| t <= now) {
                counts.expired += 1;
                plans.push(None);
                continue;
            }
            let pre = existed.contains(hex(&it.key).as_str());
            if pre {
                match p.conflict {
                    Conflict::Skip => {
                        counts.skipped += 1;
                        plans.push(None);
                        continue;
                    }
                    Conflict::FailKey => {
                        counts.conflicts += 1;
                        Self::note(
                            &mut self.st.conflict_keys,
                            b.db,
                            &it.key,
                            "exists on the target",
                        );
                        plans.push(None);
                        continue;
                    }
                    Conflict::Replace => {}
                }
            }
            let replace = pre || resumed || p.conflict == Conflict::Replace;
            if (it.payload.len() as u64) > p.big_key_bytes {
                counts.big += 1;
            }
            let plan = if self.rewrite_for(&it.payload) {
                let tmp = self.target.tmp_key(&it.key, ticket);
                match rewrite_commands(&it.payload, &tmp, &opts) {
                    Ok(Some(cmds)) => Plan::Rewrite { cmds, tmp, replace },
                    Ok(None) => {
                        counts.empty += 1;
                        plans.push(None);
                        continue;
                    }
                    Err(e) => {
                        counts.failed += 1;
                        Self::note(&mut self.st.failed_keys, b.db, &it.key, &e.message);
                        plans.push(None);
                        continue;
                    }
                }
            } else {
                Plan::Restore { replace }
            };
            plans.push(Some(plan));
        }
        let idx: Vec<usize> = (0..plans.len()).filter(|i| plans[*i].is_some()).collect();
        self.pacer
            .wait(b.items.len() + b.vanished as usize, self.ctx)?;
        let mut sampled = Vec::new();
        let mut todo = idx;
        // A second round only for keys a RESTORE refused for their format.
        for _round in 0..2 {
            if todo.is_empty() {
                break;
            }
            let keys: Vec<&[u8]> = todo.iter().map(|&i| b.items[i].key.as_slice()).collect();
            let replies = {
                let plans = &plans;
                let items = &b.items;
                let todo = &todo;
                self.target.exec(self.ctx, &keys, &mut |k, retry| {
                    let i = todo[k];
                    let it = &items[i];
                    match plans[i].as_ref().expect("planned") {
                        Plan::Restore { replace } => {
                            let ttl = it.expire_at.unwrap_or(0).to_string().into_bytes();
                            let mut c =
                                vec![b"RESTORE".to_vec(), it.key.clone(), ttl, it.payload.clone()];
                            if *replace || retry {
                                c.push(b"REPLACE".to_vec());
                            }
                            c.push(b"ABSTTL".to_vec());
                            vec![c]
                        }
                        Plan::Rewrite { cmds, tmp, replace } => {
                            let mut all = Vec::with_capacity(cmds.len() + 4);
                            all.push(vec![b"DEL".to_vec(), tmp.clone()]);
                            all.extend(cmds.iter().cloned());
                            if let Some(t) = it.expire_at {
                                all.push(vec![
                                    b"PEXPIREAT".to_vec(),
                                    tmp.clone(),
                                    t.to_string().into_bytes(),
                                ]);
                            }
                            let rename: &[u8] = if *replace || retry {
                                b"RENAME"
                            } else {
                                b"RENAMENX"
                            };
                            all.push(vec![rename.to_vec(), tmp.clone(), it.key.clone()]);
                            all.push(vec![b"DEL".to_vec(), tmp.clone()]);
                            all
                        }
                    }
                })?
            };
            let mut again = Vec::new();
            for (k, r) in replies.iter().enumerate() {
                let i = todo[k];
                let it = &b.items[i];
                let rewrite = matches!(plans[i], Some(Plan::Rewrite { .. }));
                let replace = matches!(
                    plans[i],
                    Some(Plan::Restore { replace: true } | Plan::Rewrite { replace: true, .. })
                );
                let err = r.iter().find_map(server_error);
                let renamed = if rewrite {
                    r.get(r.len().saturating_sub(2)).and_then(int)
                } else {
                    None
                };
                match err {
                    Some((code, _)) if code == "BUSYKEY" => {
                        self.conflict_found(b.db, &it.key, &mut counts);
                    }
                    Some((_, details))
                        if !rewrite
                            && p.write == WriteMode::Auto
                            && details.contains("payload version") =>
                    {
                        // The target does not read this format: write commands.
                        self.st.rewrite = true;
                        let tmp = self.target.tmp_key(&it.key, ticket);
                        match rewrite_commands(&it.payload, &tmp, &opts) {
                            Ok(Some(cmds)) => {
                                plans[i] = Some(Plan::Rewrite { cmds, tmp, replace });
                                again.push(i);
                            }
                            Ok(None) => counts.empty += 1,
                            Err(e) => {
                                counts.failed += 1;
                                Self::note(&mut self.st.failed_keys, b.db, &it.key, &e.message);
                            }
                        }
                    }
                    Some((code, details)) => {
                        counts.failed += 1;
                        Self::note(
                            &mut self.st.failed_keys,
                            b.db,
                            &it.key,
                            &format!("{code} {details}"),
                        );
                    }
                    None if renamed == Some(0) => self.conflict_found(b.db, &it.key, &mut counts),
                    None => {
                        counts.written += 1;
                        if replace && existed.contains(hex(&it.key).as_str()) {
                            counts.replaced += 1;
                        }
                        if rewrite {
                            counts.rewritten += 1;
                        }
                        let big = (it.payload.len() as u64) > p.big_key_bytes;
                        if big || p.sampled(&it.key) {
                            sampled.push(json!({"db": b.db, "key": hex(&it.key), "offset": it.offset, "big": big}));
                        }
                    }
                }
            }
            todo = again;
        }
        for s in sampled {
            writeln!(self.sample, "{s}")?;
        }
        self.sample.flush()?;
        let c = self.st.per_db.entry(b.db).or_default();
        c.add(&counts);
        self.st.paced += b.items.len() as u64 + b.vanished;
        Ok(())
    }

    /// A key that appeared on the target after the `EXISTS` of its batch.
    fn conflict_found(&mut self, db: u32, key: &[u8], counts: &mut Counts) {
        match self.p.conflict {
            Conflict::Skip => counts.skipped += 1,
            _ => {
                counts.conflicts += 1;
                Self::note(
                    &mut self.st.conflict_keys,
                    db,
                    key,
                    "appeared on the target during the migration",
                );
            }
        }
    }

    fn checkpoint(&mut self, phase: &str) -> Result<()> {
        let t = self.st.totals();
        let pct = match self.st.total {
            0 => 0.0,
            n => (self.st.done_bytes.max(t.selected) as f64 / n as f64 * 90.0).min(90.0),
        };
        let cp = serde_json::to_value(&self.st).map_err(|e| Error::internal(e.to_string()))?;
        self.ctx.checkpoint(
            &cp,
            phase,
            pct,
            serde_json::to_value(&t).unwrap_or(Value::Null),
        )
    }
}

// ---- the run -------------------------------------------------------------------

/// Runs the ticket.
pub fn run(ctx: &JobCtx, p: &MigrationParams) -> Result<Value> {
    let target_app = ctx.app(&p.target)?;
    let source_app = p.source.app.as_deref().map(|a| ctx.app(a)).transpose()?;
    let mut st: State = ctx
        .resume_checkpoint()?
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let resumed_run = st.total > 0 || st.copied || st.pending.is_some() || !st.per_db.is_empty();
    check_target_dbs(p, &target_app, source_app.as_ref())?;
    let target = Target::open(ctx, target_app.clone())?;
    let work = ctx.work_dir();
    std::fs::create_dir_all(&work)?;
    let sample_path = work.join("migration-sample.jsonl");
    if !resumed_run {
        let _ = std::fs::remove_file(&sample_path);
    }
    let sample = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&sample_path)?;
    let mut src = match (&p.source.file, &source_app) {
        (Some(f), _) => {
            let real = check_allowed_file(f, &ctx.state().config.allowed_dirs)
                .map_err(|e| Error::internal(e.message))?;
            Src::Files(FileSource {
                files: vec![(real.clone(), crate::jobs::map_file(&real)?)],
            })
        }
        (None, Some(app)) if p.method() == SourceMethod::Rdb => Src::Files(fetch_files(ctx, app)?),
        (None, Some(app)) => Src::Live(Box::new(LiveSource::open(ctx, p, app)?)),
        (None, None) => return Err(Error::internal("no source")),
    };
    let source_version = match &src {
        Src::Files(f) => f.rdb(0)?.version(),
        Src::Live(_) => 0,
    };
    if st.total == 0 {
        st.total = match &mut src {
            Src::Files(f) => f.files.iter().map(|(_, m)| m.len() as u64).sum(),
            Src::Live(l) => live_estimate(l)?,
        };
    }
    let mut m = Ctx {
        ctx,
        p,
        target,
        st,
        pacer: Pacer {
            rate: p.rate as f64,
            start: None,
            sent: 0,
        },
        sample,
        source_version,
    };
    let copy_start = Instant::now();
    let copy_before = m.st.copy_secs;
    while !m.st.copied {
        ctx.check_cancel()?;
        // The batch to write: the checkpoint's, or the next one.
        let (batch, existed, resumed) = match m.st.pending.take() {
            Some(pend) => {
                let batch = match &mut src {
                    Src::Live(l) => {
                        let keys = pend.keys.iter().map(|k| unhex(k)).collect();
                        l.read(m.st.a, pend.db, keys)?
                    }
                    Src::Files(f) => f.read_at(p, pend.file, pend.start, pend.start_db)?.0,
                };
                (batch, pend.existed, true)
            }
            None => {
                let next = match &mut src {
                    Src::Live(l) => {
                        match l.next_keys(p, &mut m.st)? {
                            None => None,
                            Some((db, keys)) => {
                                // Read from the master that was scanned.
                                let b = l.read(m.st.a, db, keys)?;
                                Some((b, 0, 0, 0))
                            }
                        }
                    }
                    Src::Files(f) => loop {
                        if m.st.a >= f.files.len() {
                            break None;
                        }
                        let (file, start, db) = (m.st.a, m.st.b, m.st.c);
                        let (b, next, done_to) = f.read_at(p, m.st.a, start, db)?;
                        m.st.done_bytes = f.files[..m.st.a]
                            .iter()
                            .map(|(_, x)| x.len() as u64)
                            .sum::<u64>()
                            + done_to;
                        match next {
                            Some((o, d)) => (m.st.b, m.st.c) = (o, d),
                            None => (m.st.a, m.st.b, m.st.c) = (m.st.a + 1, 0, 0),
                        }
                        if !b.items.is_empty() {
                            break Some((b, file, start, db));
                        }
                    },
                };
                let Some((batch, file, start, start_db)) = next else {
                    m.st.copied = true;
                    m.st.copy_secs = copy_before + copy_start.elapsed().as_secs_f64();
                    m.checkpoint("verifying")?;
                    break;
                };
                let existed = m.existing(&batch)?;
                m.st.pending = Some(Pending {
                    db: batch.db,
                    keys: match &src {
                        Src::Live(_) => batch.items.iter().map(|i| hex(&i.key)).collect(),
                        Src::Files(_) => Vec::new(),
                    },
                    file,
                    start,
                    start_db,
                    existed: existed.clone(),
                });
                // A batch whose keys all vanished still moves the position.
                m.st.copy_secs = copy_before + copy_start.elapsed().as_secs_f64();
                m.checkpoint("copying")?;
                m.st.pending = None;
                (batch, existed, false)
            }
        };
        m.write(&batch, &existed, resumed)?;
        let t = m.st.totals();
        let pct = match m.st.total {
            0 => 0.0,
            n => (m.st.done_bytes.max(t.selected) as f64 / n as f64 * 90.0).min(90.0),
        };
        ctx.progress(
            "copying",
            pct,
            serde_json::to_value(&t).unwrap_or(Value::Null),
            false,
        );
        if resumed {
            // Settle the redone batch before the next is read.
            m.st.copy_secs = copy_before + copy_start.elapsed().as_secs_f64();
            m.checkpoint("copying")?;
        }
    }
    let totals = m.st.totals();
    ctx.state()
        .metrics
        .keys_touched
        .fetch_add(totals.written, Ordering::Relaxed);
    ctx.progress(
        "verifying",
        92.0,
        serde_json::to_value(&totals).unwrap_or(Value::Null),
        true,
    );
    let verification = verify(&mut m, &mut src, &sample_path)?;
    let mismatches = verification["mismatch_count"].as_u64().unwrap_or(0);
    let secs = m.st.copy_secs;
    let report = json!({
        "source": match (&p.source.file, &source_app) {
            (Some(f), _) => json!({"file": f}),
            (None, Some(a)) => json!({"app": a.name, "method": p.method()}),
            _ => Value::Null,
        },
        "target": {"app": target_app.name, "kind": target_app.kind, "version": m.target.version, "dump_rdb_version": m.target.dump_version},
        "write": if totals.rewritten > 0 { "commands" } else { "restore" },
        "conflict": p.conflict,
        "counts": totals,
        "per_db": m.st.per_db,
        "conflicts": m.st.conflict_keys,
        "failed": m.st.failed_keys,
        "copy_seconds": (secs * 1000.0).round() / 1000.0,
        "keys_per_sec": if secs > 0.0 { ((m.st.paced as f64 / secs) * 10.0).round() / 10.0 } else { 0.0 },
        "redirects": m.target.redirects,
        "topology_refreshes": m.target.refreshes,
        "verification": verification,
    });
    let out = ctx.report_dir();
    std::fs::create_dir_all(&out)?;
    let mut text = serde_json::to_vec_pretty(&report).unwrap_or_default();
    text.push(b'\n');
    std::fs::write(out.join("migration.json"), text)?;
    if matches!(src, Src::Files(_)) && source_app.is_some() {
        drop(src);
        let _ = std::fs::remove_dir_all(work.join("fetch"));
    }
    ctx.progress(
        "done",
        100.0,
        serde_json::to_value(&totals).unwrap_or(Value::Null),
        true,
    );
    if mismatches > 0 || totals.failed > 0 {
        return Err(Error::internal(format!(
            "migration finished with {} failed key(s) and {mismatches} verification mismatch(es): see migration.json in the report",
            totals.failed
        )));
    }
    let mut result = report;
    if let Some(o) = result.as_object_mut() {
        o.insert("files".into(), json!(["migration.json"]));
        for k in ["conflicts", "failed"] {
            if let Some(Value::Array(a)) = o.get_mut(k) {
                a.truncate(10);
            }
        }
        if let Some(v) = o.get_mut("verification").and_then(|v| v.as_object_mut()) {
            v.remove("mismatches");
        }
    }
    Ok(result)
}

fn check_target_dbs(p: &MigrationParams, target: &AppRow, source: Option<&AppRow>) -> Result<()> {
    let source_cluster = source.is_some_and(|s| s.kind == "cluster");
    if source_cluster && p.dbs.as_ref().is_some_and(|d| d != &[0]) {
        return Err(Error::bad_request(
            "migration params: a cluster source has only db 0",
        ));
    }
    if target.kind == "cluster" {
        let dbs: Vec<u32> = match (&p.dbs, source_cluster) {
            (Some(d), _) => d.clone(),
            (None, true) => vec![0],
            (None, false) => (0..16).collect(),
        };
        let bad: Vec<u32> = dbs
            .iter()
            .map(|d| p.target_db(*d))
            .filter(|d| *d != 0)
            .collect();
        let explicit = p.dbs.is_some() || !p.db_map.is_empty();
        if !bad.is_empty() && explicit {
            return Err(Error::bad_request(format!(
                "migration params: the target is a cluster, which has only db 0: map every source db to 0 (db_map) — {} would not be",
                bad.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    Ok(())
}

fn live_estimate(l: &mut LiveSource) -> Result<u64> {
    let mut n = 0;
    for m in l.masters.clone() {
        let c = l.conn(&m, 0)?;
        for (k, v) in registry::info(c, "keyspace")? {
            let Some(db) = k.strip_prefix("db").and_then(|d| d.parse::<u32>().ok()) else {
                continue;
            };
            if l.dbs.contains(&db) {
                n += v
                    .split(',')
                    .find_map(|kv| kv.strip_prefix("keys="))
                    .and_then(|x| x.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    Ok(n.max(1))
}

/// Fetches each shard's RDB as a replica (files of an earlier attempt are
/// complete, fetches land by rename, and are kept).
fn fetch_files(ctx: &JobCtx, app: &AppRow) -> Result<FileSource> {
    let dir = ctx.work_dir().join("fetch");
    std::fs::create_dir_all(&dir)?;
    let nodes = ctx.fresh_nodes(app)?;
    let mut sources = registry::sources(&nodes);
    sources.sort_by(|a, b| a.0.addr.cmp(&b.0.addr));
    let mut files = Vec::new();
    for (master, from) in sources {
        ctx.check_cancel()?;
        let dest = dir.join(format!("{}.rdb", master.addr.replace([':', '/'], "_")));
        if !dest.is_file() {
            let mut progress = |done: u64, _size: Option<u64>| {
                ctx.progress(
                    "fetching",
                    0.0,
                    json!({"node": from.addr, "bytes": done}),
                    false,
                );
            };
            ctx.fetch_rdb(app, &from.addr, &dest, &mut progress)?;
        }
        let map = crate::jobs::map_file(&dest)?;
        files.push((dest, map));
    }
    Ok(FileSource { files })
}

// ---- verification --------------------------------------------------------------

/// A value in comparable form: its type, then its parts (sets and hashes
/// sorted).
type Canon = (String, Vec<Vec<u8>>);

fn canon_from_redis(
    conn: &mut redis::Connection,
    key: &[u8],
) -> Result<Option<(Canon, Option<i64>)>> {
    let (kind, pttl): (String, i64) = redis::pipe()
        .cmd("TYPE")
        .arg(key)
        .cmd("PTTL")
        .arg(key)
        .query(conn)
        .map_err(Error::from)?;
    let now = now_ms();
    let q = |c: &mut redis::Connection, cmd: &mut redis::Cmd| -> Result<RV> {
        cmd.query(c).map_err(Error::from)
    };
    let flat = |v: &RV| items(v).iter().filter_map(bytes).collect::<Vec<_>>();
    let parts: Vec<Vec<u8>> = match kind.as_str() {
        "none" => return Ok(None),
        "string" => vec![bytes(&q(conn, redis::cmd("GET").arg(key))?).unwrap_or_default()],
        "list" => flat(&q(conn, redis::cmd("LRANGE").arg(key).arg(0).arg(-1))?),
        "set" => {
            let mut v = flat(&q(conn, redis::cmd("SMEMBERS").arg(key))?);
            v.sort();
            v
        }
        "zset" => {
            let v = flat(&q(
                conn,
                redis::cmd("ZRANGE")
                    .arg(key)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES"),
            )?);
            let mut pairs: Vec<Vec<u8>> = v
                .chunks(2)
                .map(|c| {
                    let score: f64 =
                        std::str::from_utf8(c.get(1).map(Vec::as_slice).unwrap_or_default())
                            .ok()
                            .and_then(|s| s.parse().ok())
                            .unwrap_or(f64::NAN);
                    let mut m = c[0].clone();
                    m.push(0);
                    m.extend_from_slice(rdb_parser::restore::format_score(score).as_bytes());
                    m
                })
                .collect();
            pairs.sort();
            pairs
        }
        "hash" => {
            let v = flat(&q(conn, redis::cmd("HGETALL").arg(key))?);
            let mut pairs: Vec<Vec<u8>> = v
                .chunks(2)
                .map(|c| {
                    [
                        c[0].as_slice(),
                        b"\0",
                        c.get(1).map(Vec::as_slice).unwrap_or_default(),
                    ]
                    .concat()
                })
                .collect();
            pairs.sort();
            pairs
        }
        "stream" => {
            let mut out = Vec::new();
            for e in items(&q(conn, redis::cmd("XRANGE").arg(key).arg("-").arg("+"))?) {
                let e = items(&e);
                let mut line = e.first().and_then(bytes).unwrap_or_default();
                for f in e.get(1).map(items).unwrap_or_default() {
                    line.push(0);
                    line.extend(bytes(&f).unwrap_or_default());
                }
                out.push(line);
            }
            let mut groups: Vec<Vec<u8>> =
                items(&q(conn, redis::cmd("XINFO").arg("GROUPS").arg(key))?)
                    .iter()
                    .map(|g| {
                        let kv = items(g);
                        let get = |name: &str| {
                            kv.chunks(2)
                                .find(|c| bytes(&c[0]).as_deref() == Some(name.as_bytes()))
                                .and_then(|c| c.get(1).and_then(bytes))
                                .unwrap_or_default()
                        };
                        [
                            b"group\0".to_vec(),
                            get("name"),
                            b"\0".to_vec(),
                            get("last-delivered-id"),
                            b"\0".to_vec(),
                            get("pending"),
                        ]
                        .concat()
                    })
                    .collect();
            groups.sort();
            out.extend(groups);
            out
        }
        other => return Ok(Some(((other.to_string(), Vec::new()), None))),
    };
    Ok(Some(((kind, parts), (pttl >= 0).then_some(now + pttl))))
}

#[derive(Default)]
struct StreamCanon {
    entries: Vec<Vec<u8>>,
    groups: Vec<Vec<u8>>,
}

impl StreamVisitor for StreamCanon {
    fn entry(&mut self, id: StreamId, fields: &[(Scalar<'_>, Scalar<'_>)]) {
        let mut line = id.to_string().into_bytes();
        for (f, v) in fields {
            line.push(0);
            f.push_to(&mut line);
            line.push(0);
            v.push_to(&mut line);
        }
        self.entries.push(line);
    }
    fn group(&mut self, name: &[u8], last_id: StreamId, _entries_read: Option<i64>, pending: u64) {
        self.groups.push(
            [
                b"group\0".as_slice(),
                name,
                b"\0",
                last_id.to_string().as_bytes(),
                b"\0",
                pending.to_string().as_bytes(),
            ]
            .concat(),
        );
    }
}

fn canon_from_value(v: &rdb_parser::Value<'_>) -> Result<Canon> {
    let bad = |e: rdb_parser::Error| Error::internal(format!("reading the source value: {e}"));
    let kind = v.kind().name().to_string();
    let mut scratch = Scratch::new();
    let mut parts = Vec::new();
    match v.kind() {
        rdb_parser::Kind::String => {
            let mut buf = Vec::new();
            parts.push(
                v.as_string()
                    .map_err(bad)?
                    .bytes(&mut buf)
                    .map_err(bad)?
                    .to_vec(),
            );
        }
        rdb_parser::Kind::Stream => {
            let mut s = StreamCanon::default();
            v.walk_stream(&mut scratch, &mut s).map_err(bad)?;
            s.groups.sort();
            parts = s.entries;
            parts.extend(s.groups);
        }
        rdb_parser::Kind::Module => {}
        k => {
            v.for_each_element(&mut scratch, |el| match el {
                Element::Member(m) => {
                    let mut b = Vec::new();
                    m.push_to(&mut b);
                    parts.push(b);
                }
                Element::Scored { member, score } => {
                    let mut b = Vec::new();
                    member.push_to(&mut b);
                    b.push(0);
                    b.extend_from_slice(rdb_parser::restore::format_score(score).as_bytes());
                    parts.push(b);
                }
                Element::Field { field, value, .. } => {
                    let mut b = Vec::new();
                    field.push_to(&mut b);
                    b.push(0);
                    value.push_to(&mut b);
                    parts.push(b);
                }
            })
            .map_err(bad)?;
            if k != rdb_parser::Kind::List {
                parts.sort();
            }
        }
    }
    Ok((kind, parts))
}

/// Counts per db on both sides and compares the sample.
fn verify(m: &mut Ctx<'_>, src: &mut Src, sample_path: &Path) -> Result<Value> {
    let p = m.p;
    let now = now_ms();
    // Source counts per source db, now.
    let mut source_counts: BTreeMap<u32, u64> = BTreeMap::new();
    match src {
        Src::Files(f) => {
            for i in 0..f.files.len() {
                let rdb = f.rdb(i)?;
                let mut keybuf = Vec::new();
                for e in rdb.entries() {
                    let e = e.map_err(|e| Error::internal(e.to_string()))?;
                    let key = e
                        .key
                        .bytes(&mut keybuf)
                        .map_err(|e| Error::internal(e.to_string()))?;
                    if p.selects_db(e.db as u32)
                        && p.selects_key(key)
                        && p.selects_type(e.kind().name())
                        && e.expire_at_ms.is_none_or(|t| t > now)
                        && !is_empty_collection(&e.value)
                    {
                        *source_counts.entry(e.db as u32).or_default() += 1;
                    }
                }
            }
        }
        Src::Live(l) => {
            for db in l.dbs.clone() {
                let mut n = 0;
                for master in l.masters.clone() {
                    n += count_matching(l.conn(&master, db)?, p)?;
                }
                source_counts.insert(db, n);
            }
        }
    }
    // Target counts per target db.
    let mut by_target: BTreeMap<u32, (u64, u64, u64)> = BTreeMap::new();
    for (db, n) in &source_counts {
        let failed = m.st.per_db.get(db).map_or(0, |c| c.failed + c.empty);
        let e = by_target.entry(p.target_db(*db)).or_default();
        e.0 += n;
        e.2 += failed;
    }
    let mut mismatches: Vec<Value> = Vec::new();
    let mut mismatch_count = 0u64;
    let mut counts = Vec::new();
    for (tdb, (expected, actual, failed)) in by_target.iter_mut() {
        m.target.db = *tdb;
        for addr in m.target.addrs.clone() {
            *actual += count_matching(m.target.conn(&addr)?, p)?;
        }
        let ok = *actual + *failed >= *expected;
        if !ok {
            mismatch_count += 1;
            mismatches
                .push(json!({"db": tdb, "kind": "count", "source": expected, "target": actual}));
        }
        counts.push(json!({"target_db": tdb, "source_keys": expected, "target_keys": actual, "failed": failed, "ok": ok}));
    }
    // The sample.
    let text = std::fs::read_to_string(sample_path).unwrap_or_default();
    let mut seen = HashSet::new();
    let mut sample: Vec<(u32, Vec<u8>, Option<u64>, bool)> = Vec::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let key = unhex(v["key"].as_str().unwrap_or_default());
        let db = v["db"].as_u64().unwrap_or(0) as u32;
        if seen.insert((db, key.clone())) {
            sample.push((
                db,
                key,
                v["offset"].as_u64(),
                v["big"].as_bool().unwrap_or(false),
            ));
        }
    }
    let (mut compared, mut expired_since, mut big) = (0u64, 0u64, 0u64);
    for (i, (db, key, offset, is_big)) in sample.iter().enumerate() {
        if i % 50 == 0 {
            m.ctx.check_cancel()?;
            m.ctx.progress(
                "verifying",
                92.0 + 7.0 * i as f64 / sample.len() as f64,
                json!({"compared": compared, "of": sample.len()}),
                false,
            );
        }
        let src_val: Option<(Canon, Option<i64>)> = match (&mut *src, offset) {
            (Src::Files(f), Some(off)) => {
                let mut found = None;
                for fi in 0..f.files.len() {
                    let rdb = f.rdb(fi)?;
                    if *off >= rdb.data().len() as u64 {
                        continue;
                    }
                    let chunk = Chunk {
                        index: 0,
                        start: *off,
                        end: rdb.data().len() as u64,
                        db: u64::from(*db),
                        last: false,
                    };
                    if let Some(Ok(Record::Entry(e))) = rdb.chunk_records(&chunk).next() {
                        let mut kb = Vec::new();
                        if e.key.bytes(&mut kb).ok() == Some(key.as_slice()) {
                            found = Some((canon_from_value(&e.value)?, e.expire_at_ms));
                            break;
                        }
                    }
                }
                found
            }
            (Src::Live(l), _) => {
                let mut v = None;
                for master in l.masters.clone() {
                    // A cluster master that does not own the key answers MOVED.
                    if let Ok(Some(x)) = canon_from_redis(l.conn(&master, *db)?, key) {
                        v = Some(x);
                        break;
                    }
                }
                v
            }
            _ => None,
        };
        let Some((src_canon, src_exp)) = src_val else {
            expired_since += 1; // gone from a live source since
            continue;
        };
        if src_exp.is_some_and(|t| t <= now_ms() + 500) {
            expired_since += 1;
            continue;
        }
        m.target.db = p.target_db(*db);
        let node = m.target.node_for(key).unwrap_or_default();
        let tgt = match m.target.conn(&node) {
            Ok(c) => canon_from_redis(c, key),
            Err(e) => Err(e),
        };
        let tgt = match tgt {
            Ok(v) => v,
            Err(e) if e.message.contains("MOVED") || e.is_transient() => {
                m.target.refresh();
                let node = m.target.node_for(key).unwrap_or_default();
                canon_from_redis(m.target.conn(&node)?, key)?
            }
            Err(e) => return Err(e),
        };
        compared += 1;
        if *is_big {
            big += 1;
        }
        let why = match tgt {
            None => Some("missing on the target".to_string()),
            Some((c, _)) if c.0 != src_canon.0 => Some(format!(
                "type {} on the target, {} on the source",
                c.0, src_canon.0
            )),
            Some((c, _)) if c.0 != "module" && c.1 != src_canon.1 => Some(format!(
                "value differs ({} parts on the target, {} on the source)",
                c.1.len(),
                src_canon.1.len()
            )),
            Some((_, t)) => match (t, src_exp) {
                (None, None) => None,
                (Some(a), Some(b)) if (a - b).abs() <= TTL_TOLERANCE_MS => None,
                (a, b) => Some(format!(
                    "expire time {a:?} on the target, {b:?} on the source"
                )),
            },
        };
        if let Some(why) = why {
            mismatch_count += 1;
            if mismatches.len() < LIST_CAP {
                mismatches.push(json!({"db": db, "key": show(key), "key_hex": hex(key), "kind": "value", "why": why}));
            }
        }
    }
    Ok(json!({
        "counts": counts,
        "sample_keys": sample.len(),
        "compared": compared,
        "big_keys_compared": big,
        "expired_since": expired_since,
        "sample_percent": p.verify_percent,
        "mismatch_count": mismatch_count,
        "mismatches": mismatches,
    }))
}

fn is_empty_collection(v: &rdb_parser::Value<'_>) -> bool {
    match v.kind() {
        rdb_parser::Kind::String | rdb_parser::Kind::Module | rdb_parser::Kind::Stream => false,
        _ => v
            .element_count(&mut Scratch::new())
            .map(|n| n == 0)
            .unwrap_or(false),
    }
}

/// Keys of the connection's db that match the filters (a `SCAN`).
fn count_matching(conn: &mut redis::Connection, p: &MigrationParams) -> Result<u64> {
    let mut cursor = 0u64;
    let mut n = 0;
    loop {
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(cursor);
        if p.patterns.len() == 1 {
            cmd.arg("MATCH").arg(p.patterns[0].glob());
        }
        cmd.arg("COUNT").arg(1000);
        if let Some(t) = &p.key_type {
            cmd.arg("TYPE").arg(t);
        }
        let (next, keys): (u64, Vec<Vec<u8>>) = cmd.query(conn).map_err(Error::from)?;
        n += keys
            .iter()
            .filter(|k| p.selects_key(k) && !k.windows(12).any(|w| w == b"migrate-tmp:"))
            .count() as u64;
        cursor = next;
        if cursor == 0 {
            return Ok(n);
        }
    }
}

// ---- the plan ------------------------------------------------------------------

/// The plan shown to the approver.
pub async fn plan(state: &ServiceState, p: &MigrationParams, apps: &[AppRow]) -> Result<Value> {
    let find = |name: &str| {
        apps.iter()
            .find(|a| a.name == name)
            .cloned()
            .ok_or_else(|| Error::bad_request(format!("unknown app {name:?}")))
    };
    let target = find(&p.target)?;
    let source = p.source.app.as_deref().map(find).transpose()?;
    check_target_dbs(p, &target, source.as_ref())?;
    let file = p
        .source
        .file
        .as_ref()
        .map(|f| check_allowed_file(f, &state.config.allowed_dirs))
        .transpose()?;
    let p = p.clone();
    tokio::task::spawn_blocking(move || {
        plan_blocking(&p, &target, source.as_ref(), file.as_deref())
    })
    .await
    .map_err(|e| Error::internal(format!("plan: {e}")))?
}

fn masters_of(app: &AppRow) -> Vec<String> {
    let nodes: Vec<Node> = serde_json::from_str(&app.topology).unwrap_or_default();
    registry::masters(&nodes)
}

fn plan_blocking(
    p: &MigrationParams,
    target: &AppRow,
    source: Option<&AppRow>,
    file: Option<&Path>,
) -> Result<Value> {
    let timeout = Duration::from_secs(3);
    let mut notes: Vec<String> = Vec::new();
    // The target's format.
    let tmasters = masters_of(target);
    let (tversion, tdump) = match tmasters.first().map(|a| {
        registry::connect(a, &credentials(target), timeout)
            .and_then(|mut c| registry::info(&mut c, "server"))
    }) {
        Some(Ok(info)) => (
            info.iter()
                .find(|(k, _)| k == "redis_version")
                .map(|(_, v)| v.clone())
                .unwrap_or_default(),
            Some(dump_version(&info)),
        ),
        Some(Err(e)) => {
            notes.push(format!("the target did not answer at submission: {e}"));
            (String::new(), None)
        }
        None => (String::new(), None),
    };
    let mut keys_estimate: Option<u64> = None;
    let mut source_version: Option<u32> = None;
    let source_json = match (file, source) {
        (Some(f), _) => {
            let mut v =
                json!({"file": f, "bytes": std::fs::metadata(f).map(|m| m.len()).unwrap_or(0)});
            if let Ok(map) = crate::jobs::map_file(f) {
                if let Ok(rdb) = Rdb::new(&map) {
                    source_version = Some(rdb.version());
                    v["rdb_version"] = json!(rdb.version());
                    if map.len() <= 1 << 30 {
                        let now = now_ms();
                        let mut n = 0u64;
                        let mut kb = Vec::new();
                        for e in rdb.entries().flatten() {
                            if let Ok(k) = e.key.bytes(&mut kb) {
                                if p.selects_db(e.db as u32)
                                    && p.selects_key(k)
                                    && p.selects_type(e.kind().name())
                                    && e.expire_at_ms.is_none_or(|t| t > now)
                                {
                                    n += 1;
                                }
                            }
                        }
                        keys_estimate = Some(n);
                        v["keys_selected"] = json!(n);
                    }
                }
            }
            v
        }
        (None, Some(app)) => {
            let masters = masters_of(app);
            let mut n = 0u64;
            for m in &masters {
                match registry::connect(m, &credentials(app), timeout).and_then(|mut c| {
                    let ks = registry::info(&mut c, "keyspace")?;
                    let srv = registry::info(&mut c, "server")?;
                    Ok((ks, srv))
                }) {
                    Ok((ks, srv)) => {
                        source_version = source_version.max(Some(dump_version(&srv)));
                        for (k, v) in ks {
                            let Some(db) = k.strip_prefix("db").and_then(|d| d.parse::<u32>().ok())
                            else {
                                continue;
                            };
                            if p.selects_db(db) {
                                n += v
                                    .split(',')
                                    .find_map(|x| x.strip_prefix("keys="))
                                    .and_then(|x| x.parse::<u64>().ok())
                                    .unwrap_or(0);
                            }
                        }
                    }
                    Err(e) => notes.push(format!(
                        "source master {m} did not answer at submission: {e}"
                    )),
                }
            }
            keys_estimate = Some(n);
            if !p.patterns.is_empty() || p.key_type.is_some() {
                notes.push("keys_in_dbs counts every key of the selected dbs; the pattern and type filters select fewer".into());
            }
            json!({
                "app": app.name,
                "kind": app.kind,
                "method": p.method(),
                "masters": masters,
                "keys_in_dbs": n,
                "reads": match p.method() {
                    SourceMethod::Scan => "SCAN + PTTL + DUMP on each master",
                    SourceMethod::Rdb => "each shard's RDB fetched as a replica (the node read from forks to write it)",
                },
            })
        }
        _ => Value::Null,
    };
    let write = match (p.write, source_version, tdump) {
        (WriteMode::Restore, _, _) => "restore".to_string(),
        (WriteMode::Commands, _, _) => "commands".to_string(),
        (WriteMode::Auto, Some(s), Some(t)) if s > t => format!(
            "commands: the target writes RDB version {t}, older than the source's {s}; collections are written into a temporary key in their slot, in commands of at most {} bytes, then RENAMEd into place",
            p.max_command_bytes
        ),
        (WriteMode::Auto, Some(s), Some(_)) => format!("RESTORE … ABSTTL (source format: RDB version {s})"),
        _ => "RESTORE … ABSTTL, or commands if the target refuses the source's format".to_string(),
    };
    if p.conflict == Conflict::Replace {
        notes.push("conflict \"replace\": keys already on the target are overwritten".into());
    }
    let db_map: Value = if p.db_map.is_empty() {
        json!("same db numbers")
    } else {
        json!(p.db_map)
    };
    Ok(json!({
        "source": source_json,
        "target": {
            "app": target.name,
            "kind": target.kind,
            "masters": tmasters,
            "redis_version": tversion,
            "dump_rdb_version": tdump,
        },
        "write": write,
        "filters": {"dbs": p.dbs, "patterns": p.patterns, "type": p.key_type},
        "db_map": db_map,
        "conflict": p.conflict,
        "ttl": "absolute expire times are kept; keys already expired are not written",
        "rate_keys_per_sec": p.rate,
        "keys_estimate": keys_estimate,
        "estimated_seconds": keys_estimate.map(|n| n.div_ceil(p.rate)),
        "checkpoint": format!("after every batch of at most {} keys; a restart resumes without losing or doubling a key", p.chunk()),
        "verification": format!(
            "key counts per db on both sides, and {}% of the written keys plus every key over {} bytes compared by value and TTL; the ticket fails if a mismatch remains",
            p.verify_percent, p.big_key_bytes
        ),
        "notes": notes,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: ParseCtx<'static> = ParseCtx {
        allowed_dirs: &[],
        max_monitor_secs: 300,
        is_admin: false,
    };

    fn parse(v: Value) -> Result<MigrationParams> {
        let p: MigrationParams =
            serde_json::from_value(v).map_err(|e| Error::bad_request(e.to_string()))?;
        p.validate(&CTX)?;
        Ok(p)
    }

    #[test]
    fn params() {
        let p = parse(json!({"source": "a", "target": "b"})).unwrap();
        assert_eq!(p.source.app.as_deref(), Some("a"));
        assert_eq!(p.apps(), vec!["a", "b"]);
        assert_eq!(p.conflict, Conflict::FailKey);
        let p = parse(json!({"source": {"app": "a", "method": "rdb"}, "target": "b", "conflict": "skip", "db_map": {"1": 0}})).unwrap();
        assert_eq!(p.target_db(1), 0);
        assert_eq!(p.target_db(2), 2);
        let text = serde_json::to_string(&p).unwrap();
        let again: MigrationParams = serde_json::from_str(&text).unwrap();
        assert_eq!(again, p);
        for bad in [
            json!({"source": "a"}),
            json!({"source": {"app": "a", "file": "/x"}, "target": "b"}),
            json!({"source": "a", "target": "a"}),
            json!({"source": "a", "target": "b", "conflict": "overwrite"}),
            json!({"source": "a", "target": "b", "rate": 0}),
            json!({"source": "a", "target": "b", "type": "blob"}),
            json!({"source": {"file": "relative.rdb"}, "target": "b"}),
            json!({"source": "a", "target": "b", "colour": 1}),
        ] {
            assert!(parse(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn versions_and_tags() {
        let info = |v: &str| vec![("redis_version".to_string(), v.to_string())];
        assert_eq!(dump_version(&info("6.2.14")), 9);
        assert_eq!(dump_version(&info("7.0.15")), 10);
        assert_eq!(dump_version(&info("7.2.4")), 11);
        assert_eq!(dump_version(&info("7.4.1")), 12);
        let tags = slot_tags();
        for s in [0usize, 1, 5000, 16383] {
            let key = format!("{{rdbscope-{}}}:x", tags[s]);
            assert_eq!(analyzer::slot::key_slot(key.as_bytes()) as usize, s);
        }
    }
}
