//! The plan shown to the approver of a cleanup: what matches, how many keys
//! and bytes, what is done to them, and how long it takes at the rate.

use serde_json::{json, Value};

use super::estimate::{count_keys_table, count_prefix_table, live_estimate, Estimate, LIVE_BUDGET};
use super::params::{CleanupParams, Mode};
use crate::error::{Error, Result};
use crate::redis::nodes::is_cluster;
use crate::registry::{self, Node};
use crate::state::ServiceState;
use crate::store::AppRow;
use crate::ticket::TicketState;

fn duration_text(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
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
            .map(|t| crate::files::report_dir(&state.config, t.id));
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
        (false, Mode::Delete) if !p.backup => format!(
            "UNLINK every selected key, NO BACKUP written: no rollback is possible; SCAN COUNT {}, many keys per UNLINK; collections are not emptied first{}",
            p.scan_count(),
            if p.reads_keys() { " unless a filter read their type" } else { " (UNLINK frees them in the background)" }
        ),
        (false, Mode::Delete) => format!(
            "UNLINK every selected key; collections over {} members are first emptied {} at a time",
            p.big_elements, p.batch
        ),
        (false, Mode::Expire) => {
            let [lo, hi] = p.expire_secs.unwrap_or([0, 0]);
            format!("EXPIRE every selected key with a random TTL of {lo} to {hi} s (keys that already expire within {hi} s are left as they are)")
        }
    };
    // What the backup will hold: the values of the deleted keys (an RDB
    // file, about the size of their serialized values, so at most about
    // their memory), or one line of previous TTL per key.
    let backup = match (p.dry_run, p.mode) {
        (true, _) => Value::Null,
        (false, _) if !p.backup => json!({
            "file": null,
            "note": "none: \"backup\": false, the deleted keys are not saved anywhere",
        }),
        (false, Mode::Delete) => json!({
            "file": "backup/backup.rdb",
            "estimated_bytes": est.memory_bytes,
            "note": "DUMP payloads of the deleted keys, written before each batch's UNLINK; at most about the keys' memory",
            "retention_days": state.config.backup_retention_days,
        }),
        (false, Mode::Expire) => json!({
            "file": "backup/ttls.jsonl",
            "estimated_bytes": est.keys * 80,
            "note": "the previous expire time of each key, written before each batch's EXPIRE",
            "retention_days": state.config.backup_retention_days,
        }),
    };
    let rollback = if p.dry_run {
        "nothing to roll back: a dry run changes nothing".to_string()
    } else if p.backup {
        format!(
            "possible from the backup (POST /tickets/{{id}}/rollback) for {} days after the run",
            state.config.backup_retention_days
        )
    } else {
        "NOT POSSIBLE: \"backup\": false, the deleted keys cannot be restored".to_string()
    };
    Ok(json!({
        "backup": backup,
        "rollback": rollback,
        "rollback_possible": p.rollback_possible(),
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
        "analysis_finished_at": analysis.as_ref().filter(|_| from).map(|t| crate::time::rfc3339(t.updated_at)),
        "note": note,
        "rate": p.rate,
        "eta_secs": eta,
        "eta": duration_text(eta),
        "pause": format!("while a fork runs on the node or a replica lags more than {} bytes", p.max_lag_bytes),
    }))
}
