//! What each ticket type does when it runs, and the plan shown to the
//! approver before it does. Jobs are blocking code on a worker thread; they
//! report progress and checkpoints through [`JobCtx`] and stop at the next
//! batch boundary once it says they are cancelled.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::api::report_dir;
use crate::error::{Error, Result};
use crate::params::{AnalysisParams, HotKeyMethodParam, HotkeysParams, Params};
use crate::registry::{self, AppKind, Node};
use crate::service::{credentials, stored_params, ServiceState};
use crate::store::{AppRow, TicketRow};

/// A running job's link to the service.
pub struct JobCtx {
    state: Arc<ServiceState>,
    id: i64,
    owner: String,
    cancel: Arc<AtomicBool>,
    rt: tokio::runtime::Handle,
    last_progress: Mutex<Option<Instant>>,
}

impl JobCtx {
    /// A context for ticket `t`.
    pub fn new(
        state: Arc<ServiceState>,
        t: &TicketRow,
        cancel: Arc<AtomicBool>,
        rt: tokio::runtime::Handle,
    ) -> JobCtx {
        JobCtx {
            state,
            id: t.id,
            owner: t.lease_owner.clone().unwrap_or_default(),
            cancel,
            rt,
            last_progress: Mutex::new(None),
        }
    }

    /// The flag that says stop (cancelled, lease lost, or shutting down).
    pub fn cancel_flag(&self) -> &AtomicBool {
        &self.cancel
    }

    /// Errors out when the job must stop.
    pub fn check_cancel(&self) -> Result<()> {
        if self.cancel.load(Ordering::SeqCst) {
            Err(Error::conflict(
                "stopped: the ticket was cancelled or its lease lost",
            ))
        } else {
            Ok(())
        }
    }

    /// Records progress (at most twice a second unless `force`).
    pub fn progress(&self, phase: &str, percent: f64, counters: Value, force: bool) {
        {
            let mut last = self.last_progress.lock().unwrap_or_else(|p| p.into_inner());
            if !force && last.is_some_and(|t| t.elapsed() < Duration::from_millis(500)) {
                return;
            }
            *last = Some(Instant::now());
        }
        let p = json!({"percent": (percent * 10.0).round() / 10.0, "phase": phase, "counters": counters});
        let r = self.rt.block_on(self.state.store.set_progress(
            self.id,
            &self.owner,
            &p.to_string(),
        ));
        if let Ok(false) = r {
            self.cancel.store(true, Ordering::SeqCst);
        }
    }

    /// Persists a checkpoint (after a batch). A run that is no longer ours
    /// is told to stop.
    pub fn checkpoint(
        &self,
        checkpoint: &Value,
        phase: &str,
        percent: f64,
        counters: Value,
    ) -> Result<()> {
        let p = json!({"percent": percent, "phase": phase, "counters": counters});
        let ours = self.rt.block_on(self.state.store.set_checkpoint(
            self.id,
            &self.owner,
            &checkpoint.to_string(),
            &p.to_string(),
        ))?;
        if !ours {
            self.cancel.store(true, Ordering::SeqCst);
        }
        self.check_cancel()
    }

    /// The ticket's id.
    pub fn ticket_id(&self) -> i64 {
        self.id
    }

    /// The service's shared state (store, config, metrics).
    pub fn state(&self) -> &ServiceState {
        &self.state
    }

    /// Runs a store call (or any future) from the job's blocking thread.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The checkpoint an earlier attempt of this ticket left, to resume from.
    pub fn resume_checkpoint(&self) -> Result<Option<Value>> {
        let t = self
            .block_on(self.state.store.get_ticket(self.id))?
            .ok_or_else(|| Error::internal("ticket vanished"))?;
        Ok(t.checkpoint
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok()))
    }

    /// A registered app, as stored.
    pub fn app(&self, name: &str) -> Result<AppRow> {
        self.block_on(self.state.store.get_app(name))?
            .ok_or_else(|| Error::internal(format!("app {name:?} is no longer registered")))
    }

    /// Discovers the app's nodes again before touching them (a failover may
    /// have moved a master) and stores them. Only these nodes of registered
    /// apps are ever touched.
    pub fn fresh_nodes(&self, app: &AppRow) -> Result<Vec<Node>> {
        let kind = AppKind::parse(&app.kind)?;
        let nodes = registry::discover(kind, &app.addr, &credentials(app), Duration::from_secs(5))?;
        let text = serde_json::to_string(&nodes).unwrap_or_else(|_| "[]".into());
        self.block_on(self.state.store.set_topology(&app.name, &text))?;
        Ok(nodes)
    }

    /// Where the job writes the files the ticket's report lists.
    pub fn report_dir(&self) -> PathBuf {
        report_dir(&self.state.config, self.id)
    }

    /// The ticket's working directory.
    pub fn work_dir(&self) -> PathBuf {
        self.state.config.ticket_dir(self.id)
    }

    /// Fetches the RDB of node `addr` of `app` as a replica into `dest` (it
    /// lands by rename, so a file there is complete), counting the bytes
    /// in the service's metrics.
    pub fn fetch_rdb(
        &self,
        app: &AppRow,
        addr: &str,
        dest: &Path,
        progress: &mut dyn FnMut(u64, Option<u64>),
    ) -> Result<crate::replica::FetchedRdb> {
        let creds = credentials(app);
        let opts = crate::replica::FetchOptions {
            addr: addr.to_string(),
            user: creds.user,
            password: creds.password,
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(60),
        };
        let fetched = crate::replica::fetch_rdb(&opts, dest, progress, self.cancel_flag())
            .map_err(|e| e.context(format!("fetching the RDB of {addr}")))?;
        self.state
            .metrics
            .bytes_fetched
            .fetch_add(fetched.bytes, Ordering::Relaxed);
        Ok(fetched)
    }
}

/// The plan stored with a ticket at submission: what it will touch and how
/// (for a cleanup or a migration, also how much and how long).
pub async fn plan(state: &ServiceState, params: &Params, apps: &[AppRow]) -> Result<Value> {
    match params {
        Params::Cleanup(p) => crate::cleanup::plan(state, p, apps).await,
        Params::Migration(p) => crate::migrate::plan(state, p, apps).await,
        _ => Ok(simple_plan(params, apps.first())),
    }
}

fn simple_plan(params: &Params, app: Option<&AppRow>) -> Value {
    let nodes: Vec<Node> = app
        .map(|a| serde_json::from_str(&a.topology).unwrap_or_default())
        .unwrap_or_default();
    match params {
        Params::Analysis(p) => match (&p.file, app) {
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
                })
            }
            (None, None) => Value::Null,
        },
        Params::Hotkeys(p) => {
            let masters: Vec<&str> = nodes
                .iter()
                .filter(|n| n.role == "master")
                .map(|n| n.addr.as_str())
                .collect();
            let cost = match p.method {
                HotKeyMethodParam::Lfu => "SCAN with OBJECT FREQ on every master: light, but it walks the whole keyspace",
                HotKeyMethodParam::Monitor => "MONITOR on every master for the whole window: it can cost a busy node a large share of its throughput",
                HotKeyMethodParam::Auto => "LFU counters (SCAN + OBJECT FREQ) where maxmemory-policy is an LFU policy, otherwise MONITOR for the whole window, which can cost a busy node a large share of its throughput",
            };
            json!({
                "app": p.app,
                "masters": masters,
                "method": p.method,
                "duration_secs": p.duration_secs,
                "cost": cost,
            })
        }
        Params::Cleanup(_) | Params::Migration(_) => Value::Null,
    }
}

/// Runs ticket `t` to its result JSON.
pub fn run(ctx: &JobCtx, t: &TicketRow) -> Result<Value> {
    let params = stored_params(&ctx.state, t)?;
    match params {
        Params::Analysis(p) => {
            let app = p.app.as_deref().map(|a| ctx.app(a)).transpose()?;
            run_analysis(ctx, &p, app.as_ref())
        }
        Params::Hotkeys(p) => {
            let app = ctx.app(&p.app)?;
            run_hotkeys(ctx, &p, &app)
        }
        Params::Cleanup(p) => crate::cleanup::run(ctx, &p),
        Params::Migration(p) => crate::migrate::run(ctx, &p),
    }
}

fn fresh_nodes(ctx: &JobCtx, app: &AppRow) -> Result<Vec<Node>> {
    ctx.fresh_nodes(app)
}

/// Maps a file read-only for the parser.
#[allow(unsafe_code)]
pub(crate) fn map_file(path: &Path) -> Result<rdb_parser::mmap::Mmap> {
    let file = std::fs::File::open(path)
        .map_err(|e| Error::internal(format!("cannot open {}: {e}", path.display())))?;
    // SAFETY: the mapping is read-only, and the files mapped here are either
    // fetched by this job into its own directory (nothing else writes them)
    // or an admin-provided snapshot in an allowed directory, which by
    // contract is not modified while tickets read it.
    unsafe { rdb_parser::mmap::map(&file) }
        .map_err(|e| Error::internal(format!("cannot map {}: {e}", path.display())))
}

fn run_analysis(ctx: &JobCtx, p: &AnalysisParams, app: Option<&AppRow>) -> Result<Value> {
    let work = ctx.work_dir();
    let fetch_dir = work.join("fetch");
    let mut inputs: Vec<(PathBuf, String, Value)> = Vec::new();
    if let Some(file) = &p.file {
        let real = crate::params::check_allowed_file(file, &ctx.state.config.allowed_dirs)
            .map_err(|e| Error::internal(e.message))?;
        inputs.push((real, file.display().to_string(), json!({"file": file})));
    } else if let Some(app) = app {
        std::fs::create_dir_all(&fetch_dir)?;
        let nodes = fresh_nodes(ctx, app)?;
        let sources = registry::sources(&nodes);
        let total = sources.len();
        for (i, (master, from)) in sources.iter().enumerate() {
            ctx.check_cancel()?;
            let dest = fetch_dir.join(format!("{}.rdb", from.addr.replace([':', '/'], "_")));
            // A file from an earlier attempt is complete (fetches land by
            // rename), so a resumed job does not fetch it again.
            let (bytes, how) = if dest.is_file() {
                (std::fs::metadata(&dest)?.len(), json!("resumed"))
            } else {
                let mut on_progress = |done: u64, size: Option<u64>| {
                    let pct = match size {
                        Some(s) if s > 0 => {
                            (i as f64 + done as f64 / s as f64) / total as f64 * 50.0
                        }
                        _ => i as f64 / total as f64 * 50.0,
                    };
                    ctx.progress(
                        "fetching",
                        pct,
                        json!({"node": from.addr, "bytes": done, "shards_done": i, "shards": total}),
                        false,
                    );
                };
                let fetched = ctx.fetch_rdb(app, &from.addr, &dest, &mut on_progress)?;
                (
                    fetched.bytes,
                    json!(format!("{:?}", fetched.command).to_lowercase()),
                )
            };
            ctx.checkpoint(
                &json!({"fetched": i + 1, "of": total}),
                "fetching",
                (i + 1) as f64 / total as f64 * 50.0,
                json!({"shards_done": i + 1, "shards": total}),
            )?;
            inputs.push((
                dest,
                from.addr.clone(),
                json!({"addr": from.addr, "role": from.role, "master": master.addr, "rdb_bytes": bytes, "fetch": how}),
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
    let out = report_dir(&ctx.state.config, ctx.id);
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
    .map_err(|e| Error::internal(format!("analysis: {e}")))?;
    let keys: u64 = report.files.iter().map(|f| f.acc.keys).sum();
    let memory: u64 = report.files.iter().map(|f| f.acc.memory_bytes).sum();
    let metrics = &ctx.state.metrics;
    metrics.bytes_analyzed.fetch_add(total, Ordering::Relaxed);
    metrics.keys_touched.fetch_add(keys, Ordering::Relaxed);
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

fn run_hotkeys(ctx: &JobCtx, p: &HotkeysParams, app: &AppRow) -> Result<Value> {
    use crate::hotkeys::{hot_keys, merge_top, HotKeyMethod, HotKeyOptions, NodeAddr};
    let nodes = fresh_nodes(ctx, app)?;
    let masters: Vec<&Node> = nodes.iter().filter(|n| n.role == "master").collect();
    let creds = credentials(app);
    let opts = HotKeyOptions {
        duration: Duration::from_secs(p.duration_secs),
        top: p.top,
        method: match p.method {
            HotKeyMethodParam::Auto => HotKeyMethod::Auto,
            HotKeyMethodParam::Lfu => HotKeyMethod::Lfu,
            HotKeyMethodParam::Monitor => HotKeyMethod::Monitor,
        },
        scan_count: 1000,
    };
    let started = Instant::now();
    // Every master is sampled over the same window, at once.
    let results: Vec<Result<Vec<crate::hotkeys::HotKey>>> = std::thread::scope(|s| {
        let handles: Vec<_> = masters
            .iter()
            .map(|m| {
                let node = NodeAddr {
                    addr: m.addr.clone(),
                    user: creds.user.clone(),
                    password: creds.password.clone(),
                };
                let opts = &opts;
                s.spawn(move || {
                    let mut progress = |f: f64| {
                        ctx.progress(
                            "sampling",
                            f * 100.0,
                            json!({"elapsed_secs": started.elapsed().as_secs()}),
                            false,
                        )
                    };
                    hot_keys(&node, opts, ctx.cancel_flag(), &mut progress)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::internal("sampler panicked")))
            })
            .collect()
    });
    let mut lists = Vec::new();
    for r in results {
        lists.push(r?);
    }
    ctx.check_cancel()?;
    let top = merge_top(lists, p.top);
    let rows: Vec<Value> = top
        .iter()
        .map(|k| {
            json!({
                "key": String::from_utf8_lossy(&k.key),
                "key_base64": base64(&k.key),
                "node": k.node,
                "slot": k.slot,
                "hits_per_sec": k.hits_per_sec,
                "method": k.method,
            })
        })
        .collect();
    let out = report_dir(&ctx.state.config, ctx.id);
    std::fs::create_dir_all(&out)?;
    let mut text = serde_json::to_vec_pretty(&rows).unwrap_or_default();
    text.push(b'\n');
    std::fs::write(out.join("hotkeys.json"), text)?;
    ctx.state
        .metrics
        .keys_touched
        .fetch_add(rows.len() as u64, Ordering::Relaxed);
    Ok(json!({
        "masters": masters.len(),
        "keys": rows.len(),
        "seconds": started.elapsed().as_secs_f64(),
        "top": rows.iter().take(10).cloned().collect::<Vec<_>>(),
        "files": ["hotkeys.json"],
    }))
}

/// Standard base64 with padding, for keys that are not text.
pub use analyzer::base64::base64;
