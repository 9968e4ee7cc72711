//! Moving when a ticket that has not started may run (admin): `POST
//! /tickets/{id}/run-at`.

use axum::extract::{Path as UrlPath, State};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::{ApiResult, BadRequest, Conflict, Forbidden, NotFound, Unauthorized};
use super::request::{visible_ticket, Admin, Body};
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
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict,
    )
)]
pub(super) async fn set_run_at(
    State(state): State<Shared>,
    UrlPath(id): UrlPath<i64>,
    Body(Admin(u), req): Body<Admin, RunAt>,
) -> ApiResult {
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
