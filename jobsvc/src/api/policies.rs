//! Approval policies and stand-ins through the API: read the rules in
//! force, replace them or go back to the config's (admin); name a stand-in
//! who approves while a user is away, end it, list them.

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiResult, BadRequest, Forbidden, NotFound, Unauthorized};
use super::request::{caller, parse_body, Admin, Body, Caller};
use super::views::to_json;
use crate::approvals::{self, PolicyRule};
use crate::error::{Error, Result};
use crate::service::Shared;
use crate::store::{now_ms, Delegate, User};
use crate::ticket::Role;
use crate::time::{parse_time, rfc3339};

/// The approval policies in force.
#[derive(Serialize, ToSchema)]
#[schema(as = ApprovalPolicies)]
pub(super) struct PoliciesBody {
    /// `config` (the config file's, or the built-in defaults) or `store`
    /// (set through the API).
    #[schema(example = "config")]
    source: &'static str,
    /// Who set them through the API.
    updated_by: Option<String>,
    /// When: RFC 3339, UTC.
    #[schema(format = DateTime)]
    updated_at: Option<String>,
    /// How much a plan may grow between approval and start (0.2: 20 %).
    approval_margin: f64,
    /// The rules, in order: the first that matches a ticket decides; none
    /// matches: one admin.
    rules: Vec<PolicyRule>,
}

/// The approval policies in force (every user).
#[utoipa::path(
    get,
    path = "/approval-policies",
    tag = "approvals",
    operation_id = "getApprovalPolicies",
    responses(
        (status = 200, description = "The rules and where they come from.", body = PoliciesBody),
        Unauthorized,
    )
)]
pub(super) async fn get_policies(State(state): State<Shared>, Caller(_): Caller) -> ApiResult {
    in_force(&state).await
}

/// The approval policies in force, as answered.
async fn in_force(state: &Shared) -> ApiResult {
    let stored = state.store.stored_policies().await?;
    let body = PoliciesBody {
        source: if stored.is_some() { "store" } else { "config" },
        updated_by: stored.as_ref().map(|s| s.1.clone()),
        updated_at: stored.as_ref().map(|s| rfc3339(s.2)),
        approval_margin: state.config.approval_margin,
        rules: approvals::rules(state, state.reads.lookup()).await?,
    };
    Ok(Json(to_json(&body)).into_response())
}

/// New approval policies.
#[derive(Deserialize, serde::Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ApprovalPoliciesChange, example = json!({"rules": [
    {"kind": "analysis", "approvals": []},
    {"name": "cleanup-production", "kind": "cleanup", "tags": ["production"], "approvals": ["team_lead", "admin"]}
]}))]
pub(super) struct PoliciesChange {
    /// The rules, in order (they replace the config's until deleted).
    rules: Vec<PolicyRule>,
}

/// Replace the approval policies (admin); tickets filed from now on use
/// them (open approval rounds keep theirs).
#[utoipa::path(
    put,
    path = "/approval-policies",
    tag = "approvals",
    operation_id = "setApprovalPolicies",
    request_body = PoliciesChange,
    responses(
        (status = 200, description = "The rules in force now.", body = PoliciesBody),
        BadRequest, Unauthorized, Forbidden,
    )
)]
pub(super) async fn set_policies(
    State(state): State<Shared>,
    Body(Admin(u), req): Body<Admin, PoliciesChange>,
) -> ApiResult {
    for r in &req.rules {
        r.check().map_err(Error::bad_request)?;
        if r.kind != "*" && !crate::params::TYPES.contains(&r.kind.as_str()) {
            return Err(Error::bad_request(format!(
                "policy rule: unknown ticket type {:?} (one of {}, or \"*\")",
                r.kind,
                crate::params::TYPES.join(", ")
            ))
            .into());
        }
    }
    let text = serde_json::to_string(&req.rules).map_err(|e| Error::internal(e.to_string()))?;
    state.store.set_policies(Some(&text), &u.name).await?;
    crate::service::log(&format!("approval policies replaced by {}", u.name));
    in_force(&state).await
}

/// Go back to the config's approval policies (admin).
#[utoipa::path(
    delete,
    path = "/approval-policies",
    tag = "approvals",
    operation_id = "resetApprovalPolicies",
    responses(
        (status = 200, description = "The rules in force now.", body = PoliciesBody),
        Unauthorized, Forbidden,
    )
)]
pub(super) async fn reset_policies(State(state): State<Shared>, Admin(u): Admin) -> ApiResult {
    state.store.set_policies(None, &u.name).await?;
    crate::service::log(&format!(
        "approval policies reset to the config's by {}",
        u.name
    ));
    in_force(&state).await
}

/// A stand-in.
#[derive(Serialize, ToSchema)]
#[schema(as = StandIn, example = json!({"user": "carol", "stand_in": "dave", "from": "2026-11-22T00:00:00Z", "until": "2026-11-29T00:00:00Z", "active": true}))]
pub(super) struct StandInBody {
    /// The user who is away.
    user: String,
    /// Who decides their approvals meanwhile (recorded as "dave for carol").
    stand_in: String,
    /// From: RFC 3339, UTC.
    #[schema(format = DateTime)]
    from: String,
    /// Until: RFC 3339, UTC.
    #[schema(format = DateTime)]
    until: String,
    /// Whether it is in force now.
    active: bool,
}

fn stand_in_json(d: &Delegate) -> serde_json::Value {
    let now = now_ms();
    to_json(&StandInBody {
        user: d.member.clone(),
        stand_in: d.stand_in.clone(),
        from: rfc3339(d.from_ms),
        until: rfc3339(d.until_ms),
        active: d.from_ms <= now && now < d.until_ms,
    })
}

/// Forbidden unless `u` is user `name` or an admin (`act`: what they would
/// do to the stand-in).
fn themselves_or_admin(u: &User, name: &str, act: &str) -> Result<()> {
    if u.role != Role::Admin && u.name != name {
        return Err(Error::forbidden(format!(
            "only the user themselves or an admin can {act} their stand-in"
        )));
    }
    Ok(())
}

/// A stand-in to name.
#[derive(Deserialize, serde::Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewStandIn, example = json!({"stand_in": "dave", "until": "2026-11-29"}))]
pub(super) struct NewStandIn {
    /// Who approves for the user (another user).
    stand_in: String,
    /// From: `YYYY-MM-DD` (UTC) or RFC 3339; default now.
    #[serde(default)]
    from: Option<String>,
    /// Until: `YYYY-MM-DD` (the whole day) or RFC 3339.
    until: String,
}

/// Name a stand-in for a user while they are away (the user themselves,
/// or an admin); it replaces an earlier one.
#[utoipa::path(
    put,
    path = "/users/{name}/stand-in",
    tag = "approvals",
    operation_id = "setStandIn",
    params(("name" = String, Path, description = "The user who is away.")),
    request_body = NewStandIn,
    responses(
        (status = 200, description = "The stand-in.", body = StandInBody),
        BadRequest, Unauthorized, Forbidden, NotFound,
    )
)]
pub(super) async fn set_stand_in(
    State(state): State<Shared>,
    headers: HeaderMap,
    UrlPath(name): UrlPath<String>,
    body: Bytes,
) -> ApiResult {
    let u = caller(&state, &headers).await?;
    themselves_or_admin(&u, &name, "name")?;
    let req: NewStandIn = parse_body(&body)?;
    state.store.user(&name).await?;
    state
        .store
        .user(&req.stand_in)
        .await
        .map_err(|_| Error::bad_request(format!("no user {:?} (see GET /users)", req.stand_in)))?;
    if req.stand_in == name {
        return Err(Error::bad_request("a user cannot stand in for themselves").into());
    }
    let time = |what: &str, t: &str, end: bool| {
        parse_time(t, end).ok_or_else(|| {
            Error::bad_request(format!(
                "{what}: {t:?} is not a date (YYYY-MM-DD) or an RFC 3339 time"
            ))
        })
    };
    let from = match &req.from {
        Some(f) => time("from", f, false)?,
        None => now_ms(),
    };
    let until = time("until", &req.until, true)?;
    if until <= from {
        return Err(Error::bad_request("until must be after from").into());
    }
    let d = Delegate {
        member: name,
        stand_in: req.stand_in,
        from_ms: from,
        until_ms: until,
    };
    state.store.set_delegate(&d).await?;
    Ok(Json(stand_in_json(&d)).into_response())
}

/// End a user's stand-in (the user themselves, or an admin).
#[utoipa::path(
    delete,
    path = "/users/{name}/stand-in",
    tag = "approvals",
    operation_id = "endStandIn",
    params(("name" = String, Path, description = "The user.")),
    responses(
        (status = 204, description = "Ended."),
        Unauthorized, Forbidden, NotFound,
    )
)]
pub(super) async fn end_stand_in(
    State(state): State<Shared>,
    UrlPath(name): UrlPath<String>,
    Caller(u): Caller,
) -> ApiResult {
    themselves_or_admin(&u, &name, "end")?;
    if !state.store.clear_delegate(&name).await? {
        return Err(Error::not_found(format!("{name:?} has no stand-in")).into());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Every stand-in named (every user).
#[utoipa::path(
    get,
    path = "/stand-ins",
    tag = "approvals",
    operation_id = "listStandIns",
    responses(
        (status = 200, description = "The stand-ins, by user.", body = Vec<StandInBody>),
        Unauthorized,
    )
)]
pub(super) async fn list_stand_ins(State(state): State<Shared>, Caller(_): Caller) -> ApiResult {
    let all = state.store.delegates().await?;
    Ok(Json(all.iter().map(stand_in_json).collect::<Vec<_>>()).into_response())
}
