//! Rolling a cleanup back: files a `restore` ticket naming the cleanup,
//! submitted like any other ticket (same checks, same approval flow).

use axum::extract::{Path as UrlPath, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::error::{ApiResult, BadRequest, Conflict, Forbidden, NotFound, Unauthorized};
use super::request::{visible_ticket, Body, Caller};
use super::tickets::{file_ticket, NewTicketRequest};
use crate::error::Error;
use crate::jobs::restore::RestoreConflict;
use crate::service::Shared;

/// How to roll a cleanup back (every field optional).
#[derive(Deserialize, serde::Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"conflict": "skip"}))]
pub(super) struct RollbackRequest {
    /// Keys that exist again: `skip` (default) or `replace`.
    #[serde(default)]
    conflict: RestoreConflict,
    /// Keys per second (default 5000).
    #[serde(default)]
    rate: Option<u64>,
    /// Keys per batch (default 200).
    #[serde(default)]
    batch: Option<u64>,
    /// Share of the restored keys compared at the end, in percent (default 10).
    #[serde(default)]
    verify_percent: Option<f64>,
    /// Replicas each batch must reach (`WAIT`).
    #[serde(default)]
    wait_replicas: Option<u32>,
    /// How long that `WAIT` waits, in ms.
    #[serde(default)]
    wait_timeout_ms: Option<u64>,
    /// As in `POST /tickets`.
    #[serde(default)]
    idempotency_key: Option<String>,
}

/// Roll a cleanup back.
///
/// Files a `restore` ticket that puts the cleanup's backup back: the
/// deleted keys with their values and expire times (`delete` mode), or the
/// previous expire times (`expire` mode). It is submitted as by `POST
/// /tickets` with `{"type": "restore", "params": {"ticket": id, "app":
/// …}}`, so it waits for approval like any ticket. The cleanup must have
/// succeeded and its backup must still be there (`backup_retention_days`);
/// a cleanup run with `"backup": false` wrote none and is refused (409).
#[utoipa::path(
    post,
    path = "/tickets/{id}/rollback",
    tag = "tickets",
    operation_id = "rollbackTicket",
    params(("id" = i64, Path, description = "The cleanup ticket's id.", minimum = 1)),
    request_body(content = Option<RollbackRequest>, description = "Optional: `{\"conflict\": \"replace\"}`."),
    responses(
        (status = 201, description = "The restore ticket, submitted.", body = super::views::TicketBody),
        (status = 200, description = "The restore ticket this idempotency key already made.", body = super::views::TicketBody),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict,
    )
)]
pub(super) async fn rollback(
    State(state): State<Shared>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<i64>,
    Body(Caller(u), req): Body<Caller, RollbackRequest>,
) -> ApiResult {
    let t = visible_ticket(&state, &u, id).await?;
    if t.kind != "cleanup" {
        return Err(Error::conflict(format!(
            "ticket {id} is a {} ticket: only a cleanup can be rolled back",
            t.kind
        ))
        .into());
    }
    let source: Value = serde_json::from_str(&t.params).unwrap_or(Value::Null);
    if source["backup"].as_bool() == Some(false) {
        return Err(Error::conflict(format!(
            "ticket {id} ran with \"backup\": false: it wrote no backup, so it cannot be rolled back"
        ))
        .into());
    }
    let mut params = json!({"ticket": id, "app": source["app"], "conflict": req.conflict});
    for (k, v) in [
        ("rate", json!(req.rate)),
        ("batch", json!(req.batch)),
        ("verify_percent", json!(req.verify_percent)),
        ("wait_replicas", json!(req.wait_replicas)),
        ("wait_timeout_ms", json!(req.wait_timeout_ms)),
    ] {
        if !v.is_null() {
            params[k] = v;
        }
    }
    let restore = NewTicketRequest::new("restore", params, req.idempotency_key);
    file_ticket(&state, &headers, &u, restore).await
}
