//! The plan of a restore ticket: the cleanup it undoes (which must have
//! succeeded and still have its backup), what the backup holds, and how
//! long putting it back takes at the rate.

use serde_json::{json, Value};

use super::params::RestoreParams;
use crate::backup::retention::present;
use crate::backup::{DIR, RDB_FILE, TTL_FILE};
use crate::error::{Error, Result};
use crate::state::ServiceState;
use crate::store::{AppRow, TicketRow};
use crate::ticket::TicketState;

/// The cleanup ticket a restore names, checked: a cleanup, finished, that
/// changed keys of the same app.
pub(super) fn check_source(t: Option<TicketRow>, p: &RestoreParams) -> Result<(TicketRow, Value)> {
    let id = p.ticket;
    let t = t.ok_or_else(|| Error::bad_request(format!("restore params: no ticket {id}")))?;
    if t.kind != "cleanup" {
        return Err(Error::bad_request(format!(
            "restore params: ticket {id} is a {} ticket; only a cleanup's backup can be restored",
            t.kind
        )));
    }
    if t.state != TicketState::Succeeded {
        return Err(Error::conflict(format!(
            "ticket {id} is {}: only a cleanup that succeeded has a finished backup",
            t.state.as_str()
        )));
    }
    let params: Value = serde_json::from_str(&t.params).unwrap_or(Value::Null);
    if params["dry_run"].as_bool() == Some(true) {
        return Err(Error::bad_request(format!(
            "restore params: ticket {id} was a dry run: it changed nothing"
        )));
    }
    if params["backup"].as_bool() == Some(false) {
        return Err(Error::bad_request(format!(
            "restore params: ticket {id} ran with \"backup\": false: it wrote no backup, no rollback is possible"
        )));
    }
    if params["app"].as_str() != Some(p.app.as_str()) {
        return Err(Error::bad_request(format!(
            "restore params: ticket {id} cleaned app {}, not {}",
            params["app"], p.app
        )));
    }
    Ok((t, params))
}

/// The plan shown to the approver.
pub(super) async fn plan(
    state: &ServiceState,
    p: &RestoreParams,
    apps: &[AppRow],
) -> Result<Value> {
    let app = apps
        .iter()
        .find(|a| a.name == p.app)
        .ok_or_else(|| Error::bad_request(format!("unknown app {:?}", p.app)))?;
    let (source, params) = check_source(state.store.get_ticket(p.ticket).await?, p)?;
    let dir = present(&state.config, p.ticket)?;
    let result: Value = source
        .result
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or(Value::Null);
    let (file, what) = if dir.join(RDB_FILE).is_file() {
        (RDB_FILE, format!(
            "RESTORE every key of the backup with its expire time (ABSTTL); keys whose expire time has passed are skipped and counted; keys that exist again are {}",
            match p.conflict {
                super::RestoreConflict::Skip => "left as they are (skip)",
                super::RestoreConflict::Replace => "overwritten (replace)",
            }
        ))
    } else {
        (TTL_FILE, "give every key of the backup its previous expire time back (PEXPIREAT, or PERSIST when it had none); times already past are skipped and counted".to_string())
    };
    let bytes = std::fs::metadata(dir.join(file))
        .map(|m| m.len())
        .unwrap_or(0);
    let keys = result["backup"]["keys"].as_u64().unwrap_or(0);
    let eta = keys.div_ceil(p.rate);
    Ok(json!({
        "app": app.name,
        "kind": app.kind,
        "source_ticket": source.id,
        "source_mode": params["mode"],
        "source_finished_at": crate::time::rfc3339(source.updated_at),
        "backup": {"file": format!("{DIR}/{file}"), "bytes": bytes, "keys": keys},
        "keys": keys,
        "action": what,
        "conflict": p.conflict,
        "rate": p.rate,
        "eta_secs": eta,
        "wait_replicas": p.wait_replicas.unwrap_or(state.config.wait_replicas),
    }))
}
