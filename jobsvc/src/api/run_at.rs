//! Moving when a ticket that has not started may run (admin): `POST
//! /tickets/{id}/run-at`.

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::ApiResult;
use super::request::{caller, parse_body, require_admin, visible_ticket};
use super::views::{ticket_json, TicketBody};
use crate::error::Error;
use crate::schedule::parse_run_at;
use crate::service::Shared;
use crate::store::now_ms;

/// When a ticket may run.
#[derive(Deserialize, serde::Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"run_at": "2026-11-23T03:00:00Z"}))]
pub(super) struct RunAt {
    /// Not before this time: RFC 3339 (`2026-11-23T03:00:00Z` or with an
    /// offset), not in the past, at most `run_at_max_days` ahead.
    #[schema(format = DateTime)]
    run_at: String,
}

/// Set or move when a pending or approved ticket runs (admin).
///
/// The ticket starts at the first moment after `run_at` at which the app's
/// maintenance window is open and a worker is free. The change is audited.
#[utoipa::path(
    post,
    path = "/tickets/{id}/run-at",
    tag = "tickets",
    operation_id = "setTicketRunAt",
    params(("id" = i64, Path, description = "The ticket's id.", minimum = 1)),
    request_body = RunAt,
    responses(
        (status = 200, description = "The ticket.", body = TicketBody),
        (status = 400, response = super::error::BadRequest),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
        (status = 404, response = super::error::NotFound),
        (status = 409, response = super::error::Conflict),
    )
)]
pub(super) async fn set_run_at(
    State(state): State<Shared>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<i64>,
    body: Bytes,
) -> ApiResult {
    let u = caller(&state, &headers).await?;
    require_admin(&u)?;
    let req: RunAt = parse_body(&body)?;
    let at = parse_run_at(&req.run_at, now_ms(), state.config.run_at_max_days)?;
    let t = visible_ticket(&state, &u, id).await?;
    if !state.store.set_run_at(id, at, &u.name).await? {
        return Err(Error::conflict(format!(
            "ticket {id} is {}: only a pending or approved ticket can be moved",
            t.state
        ))
        .into());
    }
    state.wake.notify_one();
    let t = visible_ticket(&state, &u, id).await?;
    Ok(Json(ticket_json(&t)).into_response())
}
