//! `hotkeys` tickets: sample every master of an app over the same window
//! and report the hottest keys.

pub mod sample;

use std::future::Future;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::job::{Job, JobCtx, ParseCtx};
use crate::registry::Node;
use crate::state::{credentials, ServiceState};
use crate::store::AppRow;
use sample::{hot_keys, merge_top, HotKey, HotKeyMethod, HotKeyOptions, NodeAddr};

/// How a hot-key ticket finds hot keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HotKeyMethodParam {
    /// LFU counters when the node's eviction policy keeps them, else MONITOR.
    Auto,
    /// `OBJECT FREQ` over a SCAN.
    Lfu,
    /// Sample the command stream.
    Monitor,
}

/// Parameters of a `hotkeys` ticket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HotkeysParams {
    /// The app whose masters are sampled.
    pub app: String,
    /// How long to sample (MONITOR) or at most scan (LFU), in seconds.
    #[serde(default = "default_duration")]
    #[schema(default = default_duration)]
    pub duration_secs: u64,
    /// Keys to report.
    #[serde(default = "default_hot_top")]
    #[schema(default = default_hot_top)]
    pub top: usize,
    /// Method.
    #[serde(default = "default_method")]
    #[schema(default = default_method)]
    pub method: HotKeyMethodParam,
}

fn default_duration() -> u64 {
    30
}
fn default_hot_top() -> usize {
    50
}
fn default_method() -> HotKeyMethodParam {
    HotKeyMethodParam::Auto
}

impl Job for HotkeysParams {
    const NAME: &'static str = "hotkeys";

    fn validate(&self, ctx: &ParseCtx<'_>) -> Result<()> {
        let max_monitor_secs = ctx.max_monitor_secs;
        if self.duration_secs == 0 || self.duration_secs > max_monitor_secs {
            return Err(Error::bad_request(format!(
                "hotkeys params: duration_secs must be 1 to {max_monitor_secs}"
            )));
        }
        if !(1..=10_000).contains(&self.top) {
            return Err(Error::bad_request("hotkeys params: top must be 1 to 10000"));
        }
        Ok(())
    }

    fn apps(&self) -> Vec<&str> {
        vec![self.app.as_str()]
    }

    fn plan(
        &self,
        _state: &ServiceState,
        apps: &[AppRow],
    ) -> impl Future<Output = Result<Value>> + Send {
        let plan = plan(self, apps.first());
        async move { Ok(plan) }
    }

    fn run(&self, ctx: &JobCtx) -> Result<Value> {
        let app = ctx.app(&self.app)?;
        run_hotkeys(ctx, self, &app)
    }
}

/// Which masters are sampled, how, and what it costs them.
fn plan(p: &HotkeysParams, app: Option<&AppRow>) -> Value {
    let nodes: Vec<Node> = app
        .map(|a| serde_json::from_str(&a.topology).unwrap_or_default())
        .unwrap_or_default();

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

fn run_hotkeys(ctx: &JobCtx, p: &HotkeysParams, app: &AppRow) -> Result<Value> {
    let nodes = ctx.fresh_nodes(app)?;
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
    let results: Vec<Result<Vec<HotKey>>> = std::thread::scope(|s| {
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
                "key_base64": analyzer::base64::base64(&k.key),
                "node": k.node,
                "slot": k.slot,
                "hits_per_sec": k.hits_per_sec,
                "method": k.method,
            })
        })
        .collect();
    let out = ctx.report_dir();
    std::fs::create_dir_all(&out)?;
    let mut text = serde_json::to_vec_pretty(&rows).unwrap_or_default();
    text.push(b'\n');
    std::fs::write(out.join("hotkeys.json"), text)?;
    ctx.touched(rows.len() as u64);
    Ok(json!({
        "masters": masters.len(),
        "keys": rows.len(),
        "seconds": started.elapsed().as_secs_f64(),
        "top": rows.iter().take(10).cloned().collect::<Vec<_>>(),
        "files": ["hotkeys.json"],
    }))
}
