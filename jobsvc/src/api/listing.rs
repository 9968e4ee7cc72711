//! Listing tickets: the filtered, paged list and the summary of counts by
//! state and type (with the tickets waiting for the calling admin).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiResult, BadRequest, Unauthorized};
use super::request::{time_param, Caller, Filter};
use super::views::{ticket_json, to_json, TicketBody, TicketType};
use crate::error::Error;
use crate::service::Shared;
use crate::store::TicketQuery;
use crate::ticket::{Role, TicketState};

/// The header of a list's answer that says how many tickets the filters
/// select in all (the page is `limit` of them from `offset`).
pub(super) const TOTAL_HEADER: &str = "x-total-count";

/// Which tickets to list, and which page.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct TicketFilter {
    /// Only tickets in this state.
    #[param(value_type = Option<TicketState>)]
    state: Option<String>,
    /// Only tickets of this type.
    #[serde(rename = "type")]
    #[param(value_type = Option<TicketType>)]
    kind: Option<String>,
    /// Only tickets whose parameters name this app (a migration's source
    /// or target too).
    app: Option<String>,
    /// Only this submitter's tickets (a submitter sees only their own).
    submitter: Option<String>,
    /// Only tickets filed at or after this time: `YYYY-MM-DD` (UTC) or
    /// RFC 3339 (`2026-11-22T07:00:00Z`).
    since: Option<String>,
    /// Only tickets filed up to this time: `YYYY-MM-DD` (the whole day)
    /// or RFC 3339.
    until: Option<String>,
    /// At most this many tickets (default 500, at most 10,000).
    #[param(minimum = 1, maximum = 10000, default = json!(500))]
    limit: Option<i64>,
    /// Skip this many of the newest (default 0): with `limit`, a page.
    #[param(minimum = 0, default = json!(0))]
    offset: Option<i64>,
    /// `true`: only pending tickets with an approval the caller (or the
    /// user they stand in for) may decide, not their own, not one they
    /// already approved; the other filters are ignored.
    needs_me: Option<bool>,
}

/// List tickets, newest first, a page at a time (submitters see their own).
///
/// The `X-Total-Count` header says how many tickets the filters select.
#[utoipa::path(
    get,
    path = "/tickets",
    tag = "tickets",
    operation_id = "listTickets",
    params(TicketFilter),
    responses(
        (status = 200, description = "The page of tickets.", body = Vec<TicketBody>,
         headers(("X-Total-Count" = i64, description = "How many tickets the filters select in all."))),
        BadRequest, Unauthorized,
    )
)]
pub(super) async fn list_tickets(
    State(state): State<Shared>,
    Caller(u): Caller,
    Filter(f): Filter<TicketFilter>,
) -> ApiResult {
    let st = f
        .state
        .as_deref()
        .map(|s| s.parse::<TicketState>().map_err(Error::bad_request))
        .transpose()?;
    if let Some(k) = &f.kind {
        if !crate::params::TYPES.contains(&k.as_str()) {
            return Err(Error::bad_request(format!(
                "type: unknown ticket type {k:?} (one of {})",
                crate::params::TYPES.join(", ")
            ))
            .into());
        }
    }
    let limit = f.limit.unwrap_or(500);
    if !(1..=10_000).contains(&limit) {
        return Err(Error::bad_request("limit: give 1 to 10000").into());
    }
    let offset = f.offset.unwrap_or(0);
    if offset < 0 {
        return Err(Error::bad_request("offset: give 0 or more").into());
    }
    let mut query = TicketQuery {
        submitter: f.submitter.clone(),
        state: st,
        kind: f.kind.clone(),
        app: f.app.clone(),
        since_ms: time_param("since", &f.since, false)?,
        until_ms: time_param("until", &f.until, true)?,
        limit,
        offset,
    };
    let mut nothing = false;
    if u.role != Role::Admin {
        // A submitter's list is their own: another name selects nothing.
        nothing = query.submitter.as_ref().is_some_and(|s| s != &u.name);
        query.submitter = Some(u.name.clone());
    }
    let (tickets, total) = if f.needs_me == Some(true) {
        let all = super::approvals::needs_me(&state, &u).await?;
        let total = all.len() as i64;
        let page = all
            .into_iter()
            .skip(offset as usize)
            .take(limit as usize)
            .collect();
        (page, total)
    } else if nothing {
        (Vec::new(), 0)
    } else {
        state.reads.page_tickets(&query).await?
    };
    let mut resp = Json(tickets.iter().map(ticket_json).collect::<Vec<_>>()).into_response();
    resp.headers_mut()
        .insert(TOTAL_HEADER, HeaderValue::from(total));
    Ok(resp)
}

/// Tickets counted by state and by type.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "total": 5,
    "by_state": {"pending": 2, "running": 1, "succeeded": 1, "rejected": 1},
    "by_type": {"analysis": 3, "cleanup": 2},
    "by_state_and_type": [{"state": "pending", "type": "cleanup", "count": 2}],
    "waiting_for_me": 2
}))]
pub(super) struct Summary {
    /// Every ticket the caller sees.
    total: i64,
    /// Per state (states without tickets are absent).
    by_state: BTreeMap<String, i64>,
    /// Per type (types without tickets are absent).
    by_type: BTreeMap<String, i64>,
    /// Per state and type.
    by_state_and_type: Vec<StateTypeCount>,
    /// For an admin: pending tickets they may approve or reject (not their
    /// own unless self-approval is allowed). Null for a submitter.
    waiting_for_me: Option<i64>,
}

/// Tickets of one state and type.
#[derive(Serialize, ToSchema)]
pub(super) struct StateTypeCount {
    /// The state.
    #[schema(value_type = TicketState)]
    state: String,
    /// The type.
    #[serde(rename = "type")]
    #[schema(value_type = TicketType)]
    kind: String,
    /// How many.
    count: i64,
}

/// Tickets counted by state and type (submitters: their own), and for an
/// admin the pending tickets waiting for them.
#[utoipa::path(
    get,
    path = "/tickets/summary",
    tag = "tickets",
    operation_id = "ticketSummary",
    responses(
        (status = 200, description = "The counts.", body = Summary),
        Unauthorized,
    )
)]
pub(super) async fn summary(State(state): State<Shared>, Caller(u): Caller) -> ApiResult {
    let admin = u.role == Role::Admin;
    let counts = state
        .reads
        .ticket_counts((!admin).then_some(u.name.as_str()))
        .await?;
    let mut s = Summary {
        total: 0,
        by_state: BTreeMap::new(),
        by_type: BTreeMap::new(),
        by_state_and_type: Vec::new(),
        waiting_for_me: None,
    };
    for (st, kind, n) in counts.by_state_and_type {
        s.total += n;
        *s.by_state.entry(st.clone()).or_default() += n;
        *s.by_type.entry(kind.clone()).or_default() += n;
        s.by_state_and_type.push(StateTypeCount {
            state: st,
            kind,
            count: n,
        });
    }
    if admin {
        s.waiting_for_me = Some(
            state
                .reads
                .waiting_for(&u.name, state.policy.allow_self_approval)
                .await?,
        );
    }
    Ok(Json(to_json(&s)).into_response())
}
