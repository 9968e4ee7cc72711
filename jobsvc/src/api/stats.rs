//! Ticket statistics over a period (admin): `GET /stats`.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiResult, BadRequest, Forbidden, Unauthorized};
use super::request::{time_param, Admin, Filter};
use super::views::to_json;
use crate::error::Error;
use crate::service::Shared;
use crate::stats::{apps_of, by_group, Stats};
use crate::store::now_ms;
use crate::store::TicketFacts;
use crate::time::rfc3339;

/// The period and the tickets to count.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct StatsFilter {
    /// Tickets filed at or after: `YYYY-MM-DD` (UTC) or RFC 3339
    /// (default: 30 days before `to`).
    from: Option<String>,
    /// Tickets filed before: `YYYY-MM-DD` (the whole day) or RFC 3339
    /// (default: now).
    to: Option<String>,
    /// Only tickets naming this app.
    app: Option<String>,
    /// Only tickets naming an app this team owns.
    team: Option<String>,
}

/// The statistics and the period they cover.
#[derive(Serialize, ToSchema)]
#[schema(as = TicketStats)]
pub(super) struct StatsBody {
    /// Start of the period: RFC 3339, UTC.
    #[schema(format = DateTime)]
    from: String,
    /// End of the period (excluded).
    #[schema(format = DateTime)]
    to: String,
    /// The app filter, if any.
    app: Option<String>,
    /// The team filter, if any.
    team: Option<String>,
    /// The figures.
    #[serde(flatten)]
    stats: Stats,
}

/// Ticket statistics over a period (admin).
///
/// Tickets by type and state, time to first approval and to the end of the
/// run (median and p90, from the audit trail), rejection and failure rates,
/// and per app the keys deleted, expired and migrated and the RDB bytes
/// analyzed, for the tickets filed in `[from, to)`.
#[utoipa::path(
    get,
    path = "/stats",
    tag = "tickets",
    operation_id = "ticketStats",
    params(StatsFilter),
    responses(
        (status = 200, description = "The statistics.", body = StatsBody),
        BadRequest, Unauthorized, Forbidden,
    )
)]
pub(super) async fn stats(
    State(state): State<Shared>,
    Admin(_): Admin,
    Filter(f): Filter<StatsFilter>,
) -> ApiResult {
    let to = time_param("to", &f.to, true)?.unwrap_or_else(|| now_ms() + 1);
    let from = time_param("from", &f.from, false)?.unwrap_or(to - 30 * 86_400_000);
    if from >= to {
        return Err(Error::bad_request("from must be before to").into());
    }
    if let Some(team) = &f.team {
        if state.store.team(team).await?.is_none() {
            return Err(Error::bad_request(format!("team: no team {team:?}")).into());
        }
    }
    let mut facts = state.reads.ticket_facts(from, to).await?;
    if let Some(app) = &f.app {
        facts.retain(|t| apps_of(t).contains(app));
    }
    // The team owning each app the tickets name.
    let mut owner: HashMap<String, Option<String>> = HashMap::new();
    for app in facts.iter().flat_map(apps_of) {
        if let Entry::Vacant(slot) = owner.entry(app) {
            let team = state
                .store
                .ownership(slot.key())
                .await?
                .and_then(|o| o.team);
            slot.insert(team);
        }
    }
    let teams_of = |t: &TicketFacts| -> Vec<String> {
        let mut teams: Vec<String> = apps_of(t)
            .iter()
            .filter_map(|a| owner.get(a).cloned().flatten())
            .collect();
        teams.dedup();
        teams
    };
    if let Some(team) = &f.team {
        facts.retain(|t| teams_of(t).contains(team));
    }
    let mut stats = Stats::of(&facts);
    stats.per_team = by_group(&facts, teams_of);
    Ok(Json(to_json(&StatsBody {
        from: rfc3339(from),
        to: rfc3339(to),
        app: f.app.clone(),
        team: f.team.clone(),
        stats,
    }))
    .into_response())
}
