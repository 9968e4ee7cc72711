//! The plan preview: a ticket's parameters checked and its plan made
//! exactly as a submission would, with nothing stored (the console shows it
//! before the final submit).

use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::error::{ApiResult, BadRequest, Forbidden, Unauthorized, Unavailable};
use super::request::{Body, Caller};
use super::views::{to_json, TicketParams, TicketType};
use crate::error::{Error, Result};
use crate::params::{Params, ParseCtx};
use crate::service::Shared;
use crate::store::User;
use crate::ticket::Role;

/// Checks `raw` as the parameters of a `kind` ticket filed by `u` and makes
/// its plan with its risk: what a submission stores (a 400, 403 or 503
/// refuses it; 403 also when an app is owned by a team the submitter is
/// not in).
pub(super) async fn checked(
    state: &Shared,
    u: &User,
    kind: &str,
    raw: &Value,
) -> Result<(Params, Value)> {
    let params = Params::parse(
        kind,
        raw,
        &ParseCtx {
            allowed_dirs: &state.config.allowed_dirs,
            max_monitor_secs: state.config.max_monitor_secs,
            is_admin: u.role == Role::Admin,
        },
    )?;
    let mut apps = Vec::new();
    for name in params.apps() {
        apps.push(
            state.reads.lookup().get_app(name).await?.ok_or_else(|| {
                Error::bad_request(format!("unknown app {name:?} (see GET /apps)"))
            })?,
        );
    }
    let names: Vec<String> = apps.iter().map(|a| a.name.clone()).collect();
    crate::approvals::check_filing(state.reads.lookup(), u, &names).await?;
    let plan = crate::jobs::plan(state, &params, &apps).await?;
    Ok((params, crate::approvals::with_risk(kind, plan)))
}

/// A ticket to preview: a submission's type and parameters.
#[derive(Deserialize, serde::Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PlanRequest, example = json!({"type": "cleanup", "params": {"app": "shop", "patterns": [{"prefix": "login:"}]}}))]
pub(super) struct PlanRequest {
    /// Its type.
    #[serde(rename = "type")]
    #[schema(value_type = TicketType)]
    kind: String,
    /// The type's parameters (unknown fields are refused).
    #[serde(default)]
    #[schema(value_type = TicketParams)]
    params: Value,
}

/// What a submission of these parameters would store.
#[derive(Serialize, ToSchema)]
pub(super) struct PlanPreview {
    /// The type.
    #[serde(rename = "type")]
    #[schema(value_type = TicketType)]
    kind: String,
    /// The parameters in canonical form (every default filled in).
    #[schema(value_type = TicketParams)]
    params: Value,
    /// `sha256:` of the canonical parameters.
    #[schema(pattern = "^sha256:[0-9a-f]{64}$")]
    params_hash: String,
    /// The plan the approver will judge.
    #[schema(value_type = Object)]
    plan: Value,
}

/// Preview a ticket: check its parameters and make its plan, storing
/// nothing.
///
/// The same checks as a submission (the same 400 and 403 answers), so a
/// form can show the plan and any error before the final submit.
#[utoipa::path(
    post,
    path = "/tickets/plan",
    tag = "tickets",
    operation_id = "planTicket",
    request_body = PlanRequest,
    responses(
        (status = 200, description = "The canonical parameters, their hash and the plan.", body = PlanPreview),
        BadRequest, Unauthorized, Forbidden, Unavailable,
    )
)]
pub(super) async fn plan(
    State(state): State<Shared>,
    Body(Caller(u), req): Body<Caller, PlanRequest>,
) -> ApiResult {
    let (params, plan) = checked(&state, &u, &req.kind, &req.params).await?;
    let (canonical, hash) = params.canonical();
    let preview = PlanPreview {
        kind: req.kind,
        params: serde_json::from_str(&canonical).unwrap_or(Value::Null),
        params_hash: hash,
        plan,
    };
    Ok(Json(to_json(&preview)).into_response())
}
