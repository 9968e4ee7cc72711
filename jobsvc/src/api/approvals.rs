//! A ticket's approvals: decide on one record (approve, return, reject),
//! amend a returned ticket and resubmit it, the ticket with its records,
//! and which tickets wait for the caller.

use axum::extract::{Path as UrlPath, State};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::approval_view::ApprovalBody;
use super::error::{ApiResult, BadRequest, Conflict, Forbidden, NotFound, Unauthorized};
use super::preview::checked;
use super::request::{actor, load_ticket, may_decide, view, visible_ticket, Body, Caller};
use super::views::{ticket_json, to_json, TicketBody, TicketParams};
use crate::approvals;
use crate::error::{Error, Result};
use crate::service::Shared;
use crate::store::{ApprovalRow, TicketRow, TransitionExtras, User};
use crate::ticket::{transition, Actor, Decision, Event, Role, Slot, TicketState};

/// A ticket as the API shows it, with its approval records.
pub(super) async fn ticket_with_approvals(state: &Shared, t: &TicketRow) -> Result<Value> {
    let all = state.reads.approvals(t.id).await?;
    let last = all.iter().map(|a| a.round).max().unwrap_or(0);
    let mut v = ticket_json(t);
    v["approvals"] = Value::Array(
        all.iter()
            .map(|a| to_json(&ApprovalBody::of(a, last)))
            .collect(),
    );
    Ok(v)
}

/// Opens the first round of a ticket that has none (filed before
/// approval records existed, or whose round failed to open).
async fn current_round(state: &Shared, t: &TicketRow) -> Result<Vec<ApprovalRow>> {
    // Read without waiting for the writer: a decision on a record that
    // changed meanwhile loses its compare-and-set (a conflict).
    let round = state.reads.current_round(t.id).await?;
    if !round.is_empty() || t.state != TicketState::Pending {
        return Ok(round);
    }
    let plan: Value = t
        .plan
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or(Value::Null);
    let apps = ticket_apps(state, t);
    let mut r = approvals::round_for(state, state.store.lookup(), &t.kind, &apps, &plan).await?;
    if r.slots.is_empty() {
        r.slots = vec![("admin".into(), crate::ticket::Eligible::AnyAdmin)];
    }
    state.store.open_round(t.id, &r).await?;
    state.store.current_round(t.id).await
}

/// The apps a stored ticket names.
pub(super) fn ticket_apps(state: &Shared, t: &TicketRow) -> Vec<String> {
    crate::jobs::stored_params(state, t)
        .map(|p| p.apps().into_iter().map(str::to_string).collect())
        .unwrap_or_default()
}

fn slots(round: &[ApprovalRow]) -> Vec<Slot> {
    round
        .iter()
        .map(|a| Slot {
            eligible: a.eligible.clone(),
            state: a.state,
            actor: a.actor.clone(),
            for_user: a.for_user.clone(),
        })
        .collect()
}

/// The pending tickets with a pending approval the caller may decide (not
/// their own, not one they already approved), newest first.
pub(super) async fn needs_me(state: &Shared, u: &User) -> Result<Vec<TicketRow>> {
    let stands = approvals::stands_in_for(state.reads.lookup(), &u.name).await?;
    let mut out: Vec<TicketRow> = Vec::new();
    for a in state.reads.pending_approvals().await? {
        if out.last().is_some_and(|t| t.id == a.ticket_id) || !may_decide(&a, u, &stands) {
            continue;
        }
        let Some(t) = state.reads.get_ticket(a.ticket_id).await? else {
            continue;
        };
        if t.submitter == u.name {
            continue;
        }
        let counted =
            state.store.current_round(t.id).await?.iter().any(|o| {
                o.actor.as_deref() == Some(u.name.as_str()) && o.state.as_str() == "approved"
            });
        if !counted {
            out.push(t);
        }
    }
    Ok(out)
}

/// A decision's note.
#[derive(Deserialize, serde::Serialize, PartialEq, Default, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DecisionNote, example = json!({"note": "split it per prefix, please"}))]
pub(super) struct DecisionNote {
    /// Kept with the record and in the audit trail; required to return
    /// or reject.
    #[serde(default)]
    note: Option<String>,
    /// Same as `note` (the rejection endpoints' older name).
    #[serde(default)]
    reason: Option<String>,
    /// An approval only: run not before this time (RFC 3339), setting or
    /// moving the submitter's `run_at`.
    #[serde(default)]
    #[schema(format = DateTime)]
    run_at: Option<String>,
}

/// Decides on record `approval` (none: the first pending one the caller
/// may decide) of ticket `id`.
pub(super) async fn decide(
    state: &Shared,
    u: User,
    id: i64,
    approval: Option<i64>,
    n: DecisionNote,
    decision: Decision,
) -> ApiResult {
    let run_at = match (decision, n.run_at.as_deref()) {
        (_, None) => None,
        (Decision::Approve, Some(t)) => Some(crate::schedule::parse_run_at(
            t,
            crate::store::now_ms(),
            state.config.run_at_max_days,
        )?),
        (_, Some(_)) => return Err(Error::bad_request("run_at is for an approval").into()),
    };
    let note = n.note.or(n.reason);
    let text = note
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_string();
    if decision != Decision::Approve && text.is_empty() {
        return Err(Error::bad_request(format!(
            "{} needs a reason: {{\"note\": \"…\"}}",
            if decision == Decision::Reject {
                "a rejection"
            } else {
                "returning a ticket"
            }
        ))
        .into());
    }
    let t = visible_ticket(state, &u, id).await?;
    let round = if t.state == TicketState::Pending {
        current_round(state, &t).await?
    } else {
        state.store.current_round(id).await?
    };
    let stands = approvals::stands_in_for(state.reads.lookup(), &u.name).await?;
    let pending = |a: &&ApprovalRow| a.state.as_str() == "pending";
    let index = match approval {
        Some(aid) => round.iter().position(|a| a.id == aid).ok_or_else(|| {
            Error::not_found(format!(
                "ticket {id} has no approval {aid} in its current round"
            ))
        })?,
        None => {
            let mine = round
                .iter()
                .filter(pending)
                .find(|a| may_decide(a, &u, &stands));
            match mine.or_else(|| round.iter().find(pending)) {
                Some(a) => a.slot as usize,
                None if decision == Decision::Reject && u.role == Role::Admin => {
                    return legacy_reject(state, &u, &t, note).await;
                }
                None => 0,
            }
        }
    };
    if decision == Decision::Reject
        && approval.is_none()
        && u.role == Role::Admin
        && round
            .get(index)
            .is_some_and(|a| !may_decide(a, &u, &stands))
    {
        // An admin may always refuse a ticket, even one whose approvals
        // name others.
        return legacy_reject(state, &u, &t, note).await;
    }
    let event = Event::Decide {
        slot: index,
        decision,
        note,
        slots: slots(&round),
        stands_in_for: stands,
    };
    let mut tr = transition(&view(&t), &event, &actor(&u), &state.policy)?;
    if let Some(at) = run_at {
        let when = format!("run_at {}", crate::time::rfc3339(at));
        tr.note = Some(match tr.note.take() {
            Some(n) => format!("{n}; {when}"),
            None => when,
        });
    }
    let record = round
        .get(index)
        .ok_or_else(|| Error::internal("decided record vanished"))?;
    let extras = TransitionExtras {
        handler: Some(u.name.clone()),
        error: (tr.to == TicketState::Rejected).then(|| format!("rejected: {text}")),
        not_before: run_at,
        ..TransitionExtras::default()
    };
    state.store.decide(record.id, id, &tr, &extras).await?;
    crate::service::log(&format!(
        "ticket {id}: {} -> {} by {} ({})",
        tr.from,
        tr.to,
        u.name,
        tr.note.as_deref().unwrap_or_default()
    ));
    match tr.to {
        TicketState::Approved => state.wake.notify_one(),
        TicketState::Returned => approvals::ticket_returned(
            id,
            &t.submitter,
            &u.name,
            tr.note.as_deref().unwrap_or_default(),
        ),
        _ => {}
    }
    let t = load_ticket(state, id).await?;
    Ok(Json(ticket_with_approvals(state, &t).await?).into_response())
}

async fn legacy_reject(state: &Shared, u: &User, t: &TicketRow, note: Option<String>) -> ApiResult {
    let reason = note.unwrap_or_default();
    let tr = transition(
        &view(t),
        &Event::Reject {
            reason: reason.clone(),
        },
        &actor(u),
        &state.policy,
    )?;
    let extras = TransitionExtras {
        handler: Some(u.name.clone()),
        error: Some(format!("rejected: {reason}")),
        ..TransitionExtras::default()
    };
    state
        .store
        .apply_with_round(t.id, &tr, &extras, None, None)
        .await?;
    let t = load_ticket(state, t.id).await?;
    Ok(Json(ticket_with_approvals(state, &t).await?).into_response())
}

macro_rules! decision_endpoint {
    ($name:ident, $path:literal, $op:literal, $decision:expr, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(
            post,
            path = $path,
            tag = "approvals",
            operation_id = $op,
            params(
                ("id" = i64, Path, description = "The ticket's id.", minimum = 1),
                ("approval" = i64, Path, description = "The approval record's id (from the ticket's `approvals`).", minimum = 1),
            ),
            request_body(content = Option<DecisionNote>, description = "`{\"note\": \"…\"}` (required to return or reject)."),
            responses(
                (status = 200, description = "The ticket with its approval records.", body = TicketBody),
                BadRequest, Unauthorized, Forbidden, NotFound, Conflict,
            )
        )]
        pub(super) async fn $name(
            State(state): State<Shared>,
            UrlPath((id, approval)): UrlPath<(i64, i64)>,
            Body(Caller(u), note): Body<Caller, DecisionNote>,
        ) -> ApiResult {
            decide(&state, u, id, Some(approval), note, $decision).await
        }
    };
}

decision_endpoint!(
    approve_one,
    "/tickets/{id}/approvals/{approval}/approve",
    "approveApproval",
    Decision::Approve,
    "Approve one approval record (its approver, or their stand-in).\n\nThe ticket is approved when every record of its round is; nobody approves their own ticket, and one person counts once (also as a stand-in)."
);
decision_endpoint!(
    return_one,
    "/tickets/{id}/approvals/{approval}/return",
    "returnApproval",
    Decision::Return,
    "Return a ticket to its submitter for changes, with a note (its approver, or their stand-in).\n\nThe ticket becomes `returned`: its submitter amends it (`PATCH /tickets/{id}`) and resubmits it."
);
decision_endpoint!(
    reject_one,
    "/tickets/{id}/approvals/{approval}/reject",
    "rejectApproval",
    Decision::Reject,
    "Reject a ticket through one approval record, with a reason (its approver, or their stand-in)."
);

/// Return a pending ticket to its submitter for changes, with a note
/// (the first pending approval the caller may decide).
#[utoipa::path(
    post,
    path = "/tickets/{id}/return",
    tag = "approvals",
    operation_id = "returnTicket",
    params(("id" = i64, Path, description = "The ticket's id.", minimum = 1)),
    request_body = DecisionNote,
    responses(
        (status = 200, description = "The returned ticket with its approval records.", body = TicketBody),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict,
    )
)]
pub(super) async fn return_ticket(
    State(state): State<Shared>,
    UrlPath(id): UrlPath<i64>,
    Body(Caller(u), note): Body<Caller, DecisionNote>,
) -> ApiResult {
    decide(&state, u, id, None, note, Decision::Return).await
}

/// New parameters for a returned ticket.
#[derive(Deserialize, serde::Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Amendment, example = json!({"params": {"app": "shop", "patterns": [{"prefix": "login:old:"}]}}))]
pub(super) struct Amendment {
    /// The type's parameters, whole (unknown fields are refused).
    #[schema(value_type = TicketParams)]
    params: Value,
}

/// Amend a returned ticket's parameters (its submitter or an admin).
///
/// Checked as at submission; the ticket gets a new parameters hash and a
/// new plan, and its earlier approvals are void. It stays `returned` until
/// resubmitted.
#[utoipa::path(
    patch,
    path = "/tickets/{id}",
    tag = "approvals",
    operation_id = "amendTicket",
    params(("id" = i64, Path, description = "The ticket's id.", minimum = 1)),
    request_body = Amendment,
    responses(
        (status = 200, description = "The amended ticket.", body = TicketBody),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict,
    )
)]
pub(super) async fn amend(
    State(state): State<Shared>,
    UrlPath(id): UrlPath<i64>,
    Body(Caller(u), req): Body<Caller, Amendment>,
) -> ApiResult {
    let t = visible_ticket(&state, &u, id).await?;
    let (params, plan) = checked(&state, &u, &t.kind, &req.params).await?;
    let (canonical, hash) = params.canonical();
    let tr = transition(
        &view(&t),
        &Event::Amend {
            old_hash: t.params_hash.clone(),
            new_hash: hash.clone(),
        },
        &actor(&u),
        &state.policy,
    )?;
    state
        .store
        .amend(id, &canonical, &hash, &plan.to_string(), &tr)
        .await?;
    let t = load_ticket(&state, id).await?;
    Ok(Json(ticket_with_approvals(&state, &t).await?).into_response())
}

/// Resubmit a returned ticket for approval (its submitter or an admin).
///
/// A new round of approval records opens, chosen by the policy for the
/// (amended) plan.
#[utoipa::path(
    post,
    path = "/tickets/{id}/resubmit",
    tag = "approvals",
    operation_id = "resubmitTicket",
    params(("id" = i64, Path, description = "The ticket's id.", minimum = 1)),
    responses(
        (status = 200, description = "The ticket, pending again, with its new approval records.", body = TicketBody),
        Unauthorized, Forbidden, NotFound, Conflict,
    )
)]
pub(super) async fn resubmit(
    State(state): State<Shared>,
    UrlPath(id): UrlPath<i64>,
    Caller(u): Caller,
) -> ApiResult {
    let t = visible_ticket(&state, &u, id).await?;
    let tr = transition(&view(&t), &Event::Resubmit, &actor(&u), &state.policy)?;
    let plan: Value = t
        .plan
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or(Value::Null);
    let round = approvals::round_for(
        &state,
        state.reads.lookup(),
        &t.kind,
        &ticket_apps(&state, &t),
        &plan,
    )
    .await?;
    state
        .store
        .apply_with_round(id, &tr, &TransitionExtras::default(), None, Some(&round))
        .await?;
    let mut t = load_ticket(&state, id).await?;
    if round.slots.is_empty() {
        t = auto_approve(&state, &t).await?;
    } else {
        approvals::approval_due(&state, id, &round).await;
    }
    Ok(Json(ticket_with_approvals(&state, &t).await?).into_response())
}

/// Approves a ticket whose policy asks for no approval.
pub(super) async fn auto_approve(state: &Shared, t: &TicketRow) -> Result<TicketRow> {
    let tr = transition(
        &view(t),
        &Event::Approve,
        &Actor::System("auto"),
        &state.policy,
    )
    .map_err(|e| Error::conflict(e.to_string()))?;
    let t = state
        .store
        .apply(
            t.id,
            &tr,
            &TransitionExtras {
                handler: Some("auto".into()),
                ..TransitionExtras::default()
            },
        )
        .await?;
    state.wake.notify_one();
    Ok(t)
}
