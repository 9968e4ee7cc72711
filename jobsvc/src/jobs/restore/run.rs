//! The restore run: find the backup (a clear failure if the retention
//! deleted it), then copy `backup.rdb` back as a migration from that file,
//! or give the keys of `ttls.jsonl` their previous expire times.

use serde_json::{json, Value};

use super::params::{RestoreConflict, RestoreParams};
use super::plan::check_source;
use super::ttls::restore_ttls;
use crate::backup::retention::present;
use crate::backup::RDB_FILE;
use crate::error::{Error, Result};
use crate::job::JobCtx;
use crate::jobs::migrate::{run_from, MigrationParams};

/// Runs the ticket.
pub(super) fn run(ctx: &JobCtx, p: &RestoreParams) -> Result<Value> {
    let source = ctx.block_on(ctx.state().store.get_ticket(p.ticket))?;
    check_source(source, p).map_err(|e| Error::internal(e.message))?;
    let dir = present(&ctx.state().config, p.ticket).map_err(|e| Error::internal(e.message))?;
    let app = ctx.app(&p.app)?;
    let rdb = dir.join(RDB_FILE);
    if !rdb.is_file() {
        return restore_ttls(ctx, p, app, &dir);
    }
    let file = rdb.canonicalize()?;
    let mp: MigrationParams = serde_json::from_value(json!({
        "source": {"file": file},
        "target": p.app,
        "conflict": match p.conflict {
            RestoreConflict::Skip => "skip",
            RestoreConflict::Replace => "replace",
        },
        "rate": p.rate,
        "batch": p.batch,
        "verify_percent": p.verify_percent,
        "wait_replicas": p.wait_replicas,
        "wait_timeout_ms": p.wait_timeout_ms,
    }))
    .map_err(|e| Error::internal(format!("restore as a migration: {e}")))?;
    let mut result = run_from(ctx, &mp, Some(file))?;
    let c = result["counts"].clone();
    result["restore"] = json!({
        "source_ticket": p.ticket,
        "backup": format!("{}/{RDB_FILE}", crate::backup::DIR),
        "restored": c["written"],
        "skipped_expired": c["expired"],
        "skipped_existing": c["skipped"],
        "replaced": c["replaced"],
        "failed": c["failed"],
    });
    Ok(result)
}
