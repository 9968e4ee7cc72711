//! `analysis` tickets: fetch each shard's RDB from a live app as a replica
//! (or read a file on the service host) and write the analyzer's report.

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::files::map_file;
use crate::job::{
    check_allowed_file, FetchProgress, Fetched, Job, JobCtx, NodeUse, ParseCtx, Shard,
};
use crate::registry::{self, Node};
use crate::state::ServiceState;
use crate::store::AppRow;

/// Parameters of an `analysis` ticket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalysisParams {
    /// A live app: a fresh RDB is fetched from it as a replica.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// An RDB file on the service host, inside an allowed directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub file: Option<PathBuf>,
    /// Key separators for prefixes, or `auto`.
    #[serde(default = "default_separators")]
    #[schema(default = default_separators)]
    pub separators: String,
    /// Prefix tree depth.
    #[serde(default = "default_prefix_depth")]
    #[schema(default = default_prefix_depth)]
    pub prefix_depth: usize,
    /// Rows in each top list.
    #[serde(default = "default_top")]
    #[schema(default = default_top)]
    pub top: usize,
    /// Write `keys.parquet` (one row per key).
    #[serde(default = "yes")]
    #[schema(default = yes)]
    pub keys_table: bool,
    /// Model a server restarted from the file instead of a running one.
    #[serde(default)]
    pub loaded: bool,
}

fn default_separators() -> String {
    "auto".into()
}
fn default_prefix_depth() -> usize {
    4
}
fn default_top() -> usize {
    100
}
fn yes() -> bool {
    true
}

impl Job for AnalysisParams {
    const NAME: &'static str = "analysis";
    // An analysis holds the node it reads each shard from.
    const NODES: NodeUse = NodeUse::Sources;

    fn validate(&self, ctx: &ParseCtx<'_>) -> Result<()> {
        match (&self.app, &self.file) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(Error::bad_request(
                    "analysis params: give exactly one source, \"app\" or \"file\"",
                ))
            }
            (None, Some(f)) => {
                check_allowed_file(f, ctx.allowed_dirs)?;
            }
            (Some(_), None) => {}
        }
        if analyzer::prefix::Separators::parse(&self.separators).is_none() {
            return Err(Error::bad_request(format!(
                "analysis params: separators {:?}: give ASCII separator characters (not `*`) or \"auto\"",
                self.separators
            )));
        }
        if !(1..=32).contains(&self.prefix_depth) {
            return Err(Error::bad_request(
                "analysis params: prefix_depth must be 1 to 32",
            ));
        }
        if !(1..=100_000).contains(&self.top) {
            return Err(Error::bad_request(
                "analysis params: top must be 1 to 100000",
            ));
        }
        Ok(())
    }

    fn apps(&self) -> Vec<&str> {
        self.app.as_deref().into_iter().collect()
    }

    fn plan(
        &self,
        state: &ServiceState,
        apps: &[AppRow],
    ) -> impl Future<Output = Result<Value>> + Send {
        let c = &state.config;
        let plan = plan(self, apps.first(), (c.fetches_at_once, c.fetches_per_host));
        async move { Ok(plan) }
    }

    fn run(&self, ctx: &JobCtx) -> Result<Value> {
        let app = self.app.as_deref().map(|a| ctx.app(a)).transpose()?;
        run_analysis(ctx, self, app.as_ref())
    }
}

/// What the analysis reads, and from which nodes (`fetches`: the
/// service's `fetches_at_once` and `fetches_per_host`).
fn plan(p: &AnalysisParams, app: Option<&AppRow>, fetches: (usize, usize)) -> Value {
    let nodes: Vec<Node> = app
        .map(|a| serde_json::from_str(&a.topology).unwrap_or_default())
        .unwrap_or_default();
    match (&p.file, app) {
        (Some(f), _) => json!({
            "source": "file",
            "file": f,
            "touches_nodes": false,
            "note": "reads a file on the service host; no node is touched",
        }),
        (None, Some(a)) => {
            let reads: Vec<Value> = registry::sources(&nodes)
                .iter()
                .map(|(m, from)| json!({"master": m.addr, "read_from": from.addr, "role": from.role}))
                .collect();
            json!({
                "source": "app",
                "app": a.name,
                "kind": a.kind,
                "reads": reads,
                "maintenance_window": a.maintenance_window,
                "note": "each shard's RDB is fetched as a replica would (PSYNC/SYNC); the node it is read from forks to write it, so the fetch prefers a replica",
                "fetches": format!(
                    "shards on different hosts side by side: at most {} at once, {} of one host at a time",
                    fetches.0, fetches.1
                ),
            })
        }
        (None, None) => Value::Null,
    }
}

fn run_analysis(ctx: &JobCtx, p: &AnalysisParams, app: Option<&AppRow>) -> Result<Value> {
    let work = ctx.work_dir();
    let fetch_dir = work.join("fetch");
    let mut inputs: Vec<(PathBuf, String, Value)> = Vec::new();
    if let Some(file) = &p.file {
        let real = check_allowed_file(file, &ctx.state().config.allowed_dirs)
            .map_err(|e| Error::internal(e.message))?;
        inputs.push((real, file.display().to_string(), json!({"file": file})));
    } else if let Some(app) = app {
        std::fs::create_dir_all(&fetch_dir)?;
        let nodes = ctx.fresh_nodes(app)?;
        let sources = registry::sources(&nodes);
        let total = sources.len();
        // A file from an earlier attempt is complete (fetches land by
        // rename), so a resumed job does not fetch it again.
        let shards: Vec<Shard> = sources
            .iter()
            .map(|(_, from)| Shard::in_dir(&fetch_dir, &from.addr, &from.addr))
            .collect();
        let progress = |p: FetchProgress<'_>| {
            // Bytes over the sizes announced; a shard that announced none
            // counts once done.
            let pct = if p.announced > 0 {
                (p.bytes as f64 / p.announced as f64).min(1.0) * 50.0
            } else {
                p.shards_done as f64 / total as f64 * 50.0
            };
            ctx.progress(
                "fetching",
                pct,
                json!({"node": p.node, "bytes": p.bytes, "shards_done": p.shards_done, "shards": total}),
                false,
            );
        };
        let landed = |_: usize, _: &Fetched, done: usize| {
            ctx.checkpoint(
                &json!({"fetched": done, "of": total}),
                "fetching",
                done as f64 / total as f64 * 50.0,
                json!({"shards_done": done, "shards": total}),
            )
        };
        let fetched = ctx.fetch_shards(app, &shards, &progress, &landed)?;
        for (((master, from), shard), f) in sources.iter().zip(shards).zip(fetched) {
            inputs.push((
                shard.dest,
                from.addr.clone(),
                json!({"addr": from.addr, "role": from.role, "master": master.addr, "rdb_bytes": f.bytes, "fetch": f.how,
                       "fetch_secs": (f.secs * 1000.0).round() / 1000.0}),
            ));
        }
    }
    ctx.check_cancel()?;
    let maps = inputs
        .iter()
        .map(|(path, _, _)| map_file(path))
        .collect::<Result<Vec<_>>>()?;
    let total: u64 = maps.iter().map(|m| m.len() as u64).sum();
    let rdbs = maps
        .iter()
        .zip(&inputs)
        .map(|(m, (_, name, _))| {
            rdb_parser::Rdb::new(m)
                .map(|r| (r.with_page_release(m), name.clone()))
                .map_err(|e| Error::internal(format!("{name}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let separators = analyzer::prefix::Separators::parse(&p.separators)
        .ok_or_else(|| Error::internal("bad separators"))?;
    let opts = analyzer::Options {
        top_n: p.top,
        separators,
        prefix_depth: p.prefix_depth,
        fresh_load: p.loaded,
        ..analyzer::Options::default()
    };
    let out = ctx.report_dir();
    if out.exists() {
        std::fs::remove_dir_all(&out)?;
    }
    let done = AtomicU64::new(0);
    let finished = AtomicBool::new(false);
    let report = std::thread::scope(|s| {
        s.spawn(|| {
            while !finished.load(Ordering::SeqCst) {
                let d = done.load(Ordering::Relaxed);
                let base = if app.is_some() { 50.0 } else { 0.0 };
                let span = 100.0 - base - 1.0;
                ctx.progress(
                    "analyzing",
                    base + span * d as f64 / total.max(1) as f64,
                    json!({"bytes": d, "of": total}),
                    false,
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        let r = analyzer::report::write_report(&rdbs, &opts, &out, p.keys_table, &done);
        finished.store(true, Ordering::SeqCst);
        r
    })
    .map_err(|e| {
        // No partial report: a failed write (a full disk) leaves nothing
        // behind that could be taken for a result.
        let removed = std::fs::remove_dir_all(&out).is_ok() || !out.exists();
        Error::internal(format!(
            "analysis: writing the report into {} failed: {e}{}",
            out.display(),
            if removed {
                " (what was written is removed)"
            } else {
                " (what was written could not be removed)"
            }
        ))
    })?;
    let keys: u64 = report.files.iter().map(|f| f.acc.keys).sum();
    let memory: u64 = report.files.iter().map(|f| f.acc.memory_bytes).sum();
    let metrics = &ctx.state().metrics;
    metrics.bytes_analyzed.fetch_add(total, Ordering::Relaxed);
    ctx.touched(keys);
    // Fetched snapshots are large and the report holds what was learned.
    if app.is_some() {
        let _ = std::fs::remove_dir_all(&fetch_dir);
    }
    ctx.progress("done", 100.0, json!({"keys": keys, "bytes": total}), true);
    Ok(json!({
        "keys": keys,
        "rdb_bytes": total,
        "memory_bytes": memory,
        "sources": inputs.iter().map(|(_, _, v)| v.clone()).collect::<Vec<_>>(),
        "files": report.outputs.iter().filter_map(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).collect::<Vec<_>>(),
    }))
}
