//! The service's own endpoints: health, Prometheus metrics, the caller.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;

use super::error::{ApiResult, Internal, Unauthorized, Unavailable};
use super::request::Caller;
use super::views::{to_json, Health, Me};
use crate::service::Shared;
use crate::ticket::TicketState;

/// Liveness and the store in use.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "service",
    security(()),
    responses(
        (status = 200, description = "The service and its store answer.", body = Health),
        Internal, Unavailable,
    )
)]
pub(super) async fn healthz(State(state): State<Shared>) -> ApiResult {
    state.reads.count_users().await?;
    let health = Health {
        status: "ok",
        store: state.store.backend().as_str(),
    };
    Ok(Json(to_json(&health)).into_response())
}

/// Prometheus metrics.
///
/// `rdbscope_tickets{state="…"}` (gauge, one line per state),
/// `rdbscope_jobs_running` (gauge), `rdbscope_bytes_analyzed_total`,
/// `rdbscope_keys_touched_total`, `rdbscope_bytes_fetched_total` (counters);
/// over every ticket in the store: `rdbscope_tickets_by_type{type,state}`,
/// the summaries `rdbscope_ticket_approval_seconds` and
/// `rdbscope_ticket_completion_seconds` (quantiles 0.5 and 0.9),
/// `rdbscope_ticket_rejection_ratio`, `rdbscope_ticket_failure_ratio`, and
/// per app `rdbscope_app_keys_deleted_total`, `…_keys_expired_total`,
/// `…_keys_migrated_total`, `rdbscope_app_bytes_analyzed_total`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "service",
    security(()),
    responses(
        (status = 200, description = "Prometheus text exposition format.", body = String,
         content_type = "text/plain",
         example = "rdbscope_tickets{state=\"pending\"} 1\nrdbscope_jobs_running 0\nrdbscope_bytes_analyzed_total 5963\nrdbscope_keys_touched_total 300\n"),
        Internal,
    )
)]
pub(super) async fn metrics(State(state): State<Shared>) -> ApiResult {
    let mut out = String::new();
    out.push_str("# HELP rdbscope_tickets Tickets by state.\n# TYPE rdbscope_tickets gauge\n");
    let counts = state.reads.count_by_state().await?;
    for s in TicketState::ALL {
        let n = counts
            .iter()
            .find(|(name, _)| name == s.as_str())
            .map(|c| c.1)
            .unwrap_or(0);
        out.push_str(&format!("rdbscope_tickets{{state=\"{s}\"}} {n}\n"));
    }
    let m = &state.metrics;
    for (name, help, kind, v) in [
        (
            "rdbscope_jobs_running",
            "Jobs running in this instance.",
            "gauge",
            m.jobs_running.load(Ordering::Relaxed),
        ),
        (
            "rdbscope_bytes_analyzed_total",
            "RDB bytes analyzed by this instance.",
            "counter",
            m.bytes_analyzed.load(Ordering::Relaxed),
        ),
        (
            "rdbscope_keys_touched_total",
            "Keys analyzed, sampled, deleted or written by this instance.",
            "counter",
            m.keys_touched.load(Ordering::Relaxed),
        ),
        (
            "rdbscope_bytes_fetched_total",
            "RDB bytes fetched from live nodes by this instance.",
            "counter",
            m.bytes_fetched.load(Ordering::Relaxed),
        ),
    ] {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
        ));
    }
    // Tickets by type and state, approval and completion times, rates and
    // per-app figures, over every ticket in the store.
    let facts = state.reads.ticket_facts(0, i64::MAX).await?;
    out.push_str(&crate::stats::Stats::of(&facts).prometheus());
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}

/// The user the token belongs to.
#[utoipa::path(
    get,
    path = "/me",
    tag = "service",
    responses(
        (status = 200, description = "The caller.", body = Me),
        Unauthorized,
    )
)]
pub(super) async fn me(Caller(u): Caller) -> ApiResult {
    Ok(Json(to_json(&Me::of(&u))).into_response())
}
