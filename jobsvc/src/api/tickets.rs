//! Tickets: submit and read them, approve, reject or cancel them, and read
//! their audit trail (listing is in `listing.rs`, the plan preview in
//! `preview.rs`).

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::approvals::{auto_approve, decide, ticket_with_approvals, DecisionNote};
use super::error::{ApiResult, BadRequest, Conflict, Forbidden, NotFound, Unauthorized};
use super::preview::checked;
use super::request::{actor, load_ticket, view, visible_ticket, Body, Caller};
use super::views::{ticket_json, to_json, AuditEntry, TicketBody, TicketParams, TicketType};
use crate::error::{Error, Result};
use crate::schedule::parse_run_at;
use crate::service::Shared;
use crate::store::{now_ms, FirstRound, NewTicket, TransitionExtras, User};
use crate::ticket::{transition, Decision, Event};

/// A ticket to submit.
#[derive(Deserialize, serde::Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewTicket, example = json!({"type": "analysis", "params": {"app": "shop"}, "idempotency_key": "abc"}))]
pub(super) struct NewTicketRequest {
    /// Its type.
    #[serde(rename = "type")]
    #[schema(value_type = TicketType)]
    kind: String,
    /// The type's parameters (unknown fields are refused).
    #[serde(default)]
    #[schema(value_type = TicketParams)]
    params: Value,
    /// A client-chosen key (1-200 characters): submitting again with the
    /// same key returns the ticket it made.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    idempotency_key: Option<String>,
    /// Run not before this time: RFC 3339 (`2026-11-23T03:00:00Z`), not in
    /// the past, at most `run_at_max_days` ahead. The approver may move it.
    #[serde(default)]
    #[schema(format = DateTime)]
    run_at: Option<String>,
}

impl NewTicketRequest {
    /// A ticket of type `kind` with `params`, to run as soon as approved.
    pub(super) fn new(kind: &str, params: Value, idempotency_key: Option<String>) -> Self {
        NewTicketRequest {
            kind: kind.to_string(),
            params,
            idempotency_key,
            run_at: None,
        }
    }
}

/// Submit a ticket.
///
/// The parameters are checked now (unknown fields are refused) and, once
/// approved, frozen with their hash. With an idempotency key (in the body or
/// the `Idempotency-Key` header), a key already used with the same type and
/// parameters answers 200 with the existing ticket, and with others 409.
/// The ticket's approval records are opened by the approval policy that
/// matches its type, risk and app tags; a submitter may file only for the
/// apps of their teams (and apps without a team). Ticket types listed in
/// the service's `auto_approve`, and those whose policy asks for no
/// approval, are approved on submission (`handler` is then `"auto"`).
#[utoipa::path(
    post,
    path = "/tickets",
    tag = "tickets",
    operation_id = "submitTicket",
    params(
        ("Idempotency-Key" = Option<String>, Header,
         description = "Same as `idempotency_key` in the body (if both are given they must be equal)."),
    ),
    request_body = NewTicketRequest,
    responses(
        (status = 201, description = "Submitted.", body = TicketBody),
        (status = 200, description = "The ticket this idempotency key already made, with the same type and parameters.", body = TicketBody),
        BadRequest, Unauthorized, Forbidden, Conflict,
    )
)]
pub(super) async fn submit(
    State(state): State<Shared>,
    headers: HeaderMap,
    Body(Caller(u), req): Body<Caller, NewTicketRequest>,
) -> ApiResult {
    file_ticket(&state, &headers, &u, req).await
}

/// Files ticket `req` for `u` (`headers`: its `Idempotency-Key`).
pub(super) async fn file_ticket(
    state: &Shared,
    headers: &HeaderMap,
    u: &User,
    req: NewTicketRequest,
) -> ApiResult {
    let key = match (
        req.idempotency_key.clone(),
        headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    ) {
        (Some(a), Some(b)) if a != b => {
            return Err(Error::bad_request(
                "the Idempotency-Key header and idempotency_key field differ",
            )
            .into())
        }
        (a, b) => a.or(b),
    };
    if let Some(k) = &key {
        if k.is_empty() || k.len() > 200 {
            return Err(Error::bad_request("idempotency_key must be 1-200 characters").into());
        }
    }
    let run_at = req
        .run_at
        .as_deref()
        .map(|t| parse_run_at(t, now_ms(), state.config.run_at_max_days))
        .transpose()?;
    let (params, plan) = checked(state, u, &req.kind, &req.params).await?;
    let (canonical, hash) = params.canonical();
    // A key used before: its ticket, read without waiting for the writer.
    let used = match &key {
        Some(k) => state.reads.ticket_by_key(&u.name, k).await?,
        None => None,
    };
    let (ticket, created, auto) = match used {
        Some(t) => (t, false, false),
        None => {
            let apps: Vec<String> = params.apps().into_iter().map(str::to_string).collect();
            let round =
                crate::approvals::round_for(state, state.reads.lookup(), &req.kind, &apps, &plan)
                    .await?;
            let first = if round.slots.is_empty() {
                None
            } else {
                Some(FirstRound {
                    approvers: crate::approvals::approvers(
                        state.reads.lookup(),
                        &u.name,
                        &round.slots,
                    )
                    .await?,
                    round: &round,
                })
            };
            let asks = first.is_some();
            let filed = state
                .store
                .file_ticket(
                    &NewTicket {
                        kind: req.kind.clone(),
                        submitter: u.name.clone(),
                        params: canonical,
                        params_hash: hash.clone(),
                        idempotency_key: key,
                        plan: Some(plan.to_string()),
                    },
                    first,
                )
                .await?;
            if filed.1 && asks {
                crate::approvals::log_due(filed.0.id, &round);
            }
            (filed.0, filed.1, !asks)
        }
    };
    if !created {
        if ticket.kind != req.kind || ticket.params_hash != hash {
            return Err(Error::conflict(format!(
                "idempotency key already used for ticket {} with other parameters",
                ticket.id
            ))
            .into());
        }
        return Ok((StatusCode::OK, Json(ticket_json(&ticket))).into_response());
    }
    let mut ticket = ticket;
    if let Some(at) = run_at {
        state.store.set_run_at(ticket.id, at, &u.name).await?;
        ticket = state
            .store
            .get_ticket(ticket.id)
            .await?
            .ok_or_else(|| Error::internal("ticket vanished after insert"))?;
    }
    // No approval asked for: approved on submission.
    let ticket = if auto {
        auto_approve(state, &ticket).await?
    } else {
        ticket
    };
    Ok((
        StatusCode::CREATED,
        Json(ticket_with_approvals(state, &ticket).await?),
    )
        .into_response())
}

/// One ticket (its submitter or an admin; others get 404).
#[utoipa::path(
    get,
    path = "/tickets/{id}",
    tag = "tickets",
    operation_id = "getTicket",
    params(("id" = i64, Path, description = "The ticket's id.", minimum = 1)),
    responses(
        (status = 200, description = "The ticket.", body = TicketBody),
        Unauthorized, NotFound,
    )
)]
pub(super) async fn get_ticket(
    State(state): State<Shared>,
    UrlPath(id): UrlPath<i64>,
    Caller(u): Caller,
) -> ApiResult {
    let t = visible_ticket(&state, &u, id).await?;
    Ok(Json(ticket_with_approvals(&state, &t).await?).into_response())
}

/// The body of an approval or a rejection (optional for an approval and a
/// cancellation).
#[derive(Deserialize, serde::Serialize, PartialEq, Default, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "too big, run at night"}))]
pub(super) struct Note {
    /// Kept in the audit trail (an approval's note; a rejection's reason
    /// when `reason` is absent).
    #[serde(default)]
    note: Option<String>,
    /// Why a ticket is rejected: required for a rejection.
    #[serde(default)]
    reason: Option<String>,
}

async fn change(
    state: &Shared,
    u: &User,
    id: i64,
    note: Note,
    make: impl FnOnce(&Note) -> Result<Event>,
) -> ApiResult {
    let event = make(&note)?;
    let t = visible_ticket(state, u, id).await?;
    let mut tr = transition(&view(&t), &event, &actor(u), &state.policy)?;
    if let Some(n) = note.note.as_ref().or(note.reason.as_ref()) {
        tr.note = Some(n.clone());
    }
    state
        .store
        .apply_with_round(id, &tr, &TransitionExtras::default(), None, None)
        .await?;
    let t = load_ticket(state, id).await?;
    crate::service::log(&format!(
        "ticket {id}: {} -> {} by {}",
        tr.from, tr.to, u.name
    ));
    state.wake.notify_one();
    Ok(Json(ticket_json(&t)).into_response())
}

/// Approve a pending ticket: the first of its pending approval records the
/// caller (or the user they stand in for) may decide.
///
/// With the default policy that is one admin's approval. Nobody approves
/// their own ticket (an admin may when the service allows self-approval),
/// and one person counts once.
#[utoipa::path(
    post,
    path = "/tickets/{id}/approve",
    tag = "tickets",
    operation_id = "approveTicket",
    params(("id" = i64, Path, description = "The ticket's id.", minimum = 1)),
    request_body(content = Option<super::approvals::DecisionNote>, description = "Optional: `{\"note\": \"ok\", \"run_at\": \"2026-11-23T03:00:00Z\"}`."),
    responses(
        (status = 200, description = "The approved ticket.", body = TicketBody),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict,
    )
)]
pub(super) async fn approve(
    State(state): State<Shared>,
    UrlPath(id): UrlPath<i64>,
    Body(Caller(u), note): Body<Caller, DecisionNote>,
) -> ApiResult {
    decide(&state, u, id, None, note, Decision::Approve).await
}

/// Reject a pending ticket, with a reason (an admin, or an approver of one
/// of its pending approval records).
#[utoipa::path(
    post,
    path = "/tickets/{id}/reject",
    tag = "tickets",
    operation_id = "rejectTicket",
    params(("id" = i64, Path, description = "The ticket's id.", minimum = 1)),
    request_body = Note,
    responses(
        (status = 200, description = "The rejected ticket.", body = TicketBody),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict,
    )
)]
pub(super) async fn reject(
    State(state): State<Shared>,
    UrlPath(id): UrlPath<i64>,
    Body(Caller(u), note): Body<Caller, DecisionNote>,
) -> ApiResult {
    decide(&state, u, id, None, note, Decision::Reject).await
}

/// Cancel a ticket that has not finished (its submitter or an admin).
///
/// A running job stops at its next batch.
#[utoipa::path(
    post,
    path = "/tickets/{id}/cancel",
    tag = "tickets",
    operation_id = "cancelTicket",
    params(("id" = i64, Path, description = "The ticket's id.", minimum = 1)),
    responses(
        (status = 200, description = "The cancelled ticket.", body = TicketBody),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict,
    )
)]
pub(super) async fn cancel(
    State(state): State<Shared>,
    UrlPath(id): UrlPath<i64>,
    Body(Caller(u), note): Body<Caller, Note>,
) -> ApiResult {
    change(&state, &u, id, note, |_| Ok(Event::Cancel)).await
}

/// The ticket's audit trail, oldest first (its submitter or an admin).
#[utoipa::path(
    get,
    path = "/tickets/{id}/audit",
    tag = "tickets",
    operation_id = "ticketAudit",
    params(("id" = i64, Path, description = "The ticket's id.", minimum = 1)),
    responses(
        (status = 200, description = "Every state change.", body = Vec<AuditEntry>),
        Unauthorized, NotFound,
    )
)]
pub(super) async fn audit(
    State(state): State<Shared>,
    UrlPath(id): UrlPath<i64>,
    Caller(u): Caller,
) -> ApiResult {
    visible_ticket(&state, &u, id).await?;
    let rows: Vec<Value> = state
        .reads
        .audit(id)
        .await?
        .iter()
        .map(|a| to_json(&AuditEntry::of(a)))
        .collect();
    Ok(Json(rows).into_response())
}
