//! Notification channels (admins add, change and remove those of the API;
//! everyone sees their names, kinds and health) and the outbox of
//! deliveries with their attempts and errors (admins).

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiResult, BadRequest, Conflict, Forbidden, NotFound, Unauthorized};
use super::request::{Admin, Body, Caller, Filter};
use super::views::to_json;
use crate::error::Error;
use crate::notify::channel::ChannelSpec;
use crate::notify::channels::{self, Source};
use crate::service::Shared;
use crate::store::{ChannelHealth, DeliveryQuery, DeliveryRow};
use crate::ticket::Role;
use crate::time::rfc3339;

/// How a channel has fared.
#[derive(Serialize, ToSchema)]
pub(super) struct HealthBody {
    /// `ok` (the last attempt worked), `failing` (the last attempts
    /// failed: see `last_error`) or `unused`.
    #[schema(example = "failing")]
    state: &'static str,
    /// Failed attempts since the last success.
    failures_in_row: i64,
    /// Deliveries sent.
    sent: i64,
    /// Attempts that failed.
    failed_attempts: i64,
    /// Last success.
    last_ok_at: Option<String>,
    /// Last failure.
    last_error_at: Option<String>,
    /// Its error.
    last_error: Option<String>,
}

impl HealthBody {
    fn of(h: Option<&ChannelHealth>) -> HealthBody {
        let h = h.cloned().unwrap_or_default();
        HealthBody {
            state: if h.failures_in_row > 0 {
                "failing"
            } else if h.sent > 0 {
                "ok"
            } else {
                "unused"
            },
            failures_in_row: h.failures_in_row,
            sent: h.sent,
            failed_attempts: h.failed_attempts,
            last_ok_at: h.last_ok_at.map(rfc3339),
            last_error_at: h.last_error_at.map(rfc3339),
            last_error: h.last_error,
        }
    }
}

/// A channel as the API shows it (no secret; the URL to admins only).
#[derive(Serialize, ToSchema)]
pub(super) struct ChannelBody {
    /// The spec, without secrets.
    #[serde(flatten)]
    spec: ChannelSpec,
    /// `config` (the config file's) or `api`.
    source: &'static str,
    /// Whether a secret is set (webhook signature, DingTalk signing).
    has_secret: bool,
    /// How it has fared.
    health: HealthBody,
}

/// List the channels with their health (admins see URLs).
#[utoipa::path(
    get,
    path = "/notify/channels",
    tag = "notify",
    operation_id = "listChannels",
    responses(
        (status = 200, description = "Every channel.", body = Vec<ChannelBody>),
        Unauthorized,
    )
)]
pub(super) async fn list_channels(State(state): State<Shared>, Caller(u): Caller) -> ApiResult {
    let health = state.store.channel_health().await?;
    let out: Vec<_> = channels::all(&state)
        .await?
        .into_iter()
        .map(|(spec, source)| {
            let body = ChannelBody {
                has_secret: spec.secret.is_some(),
                health: HealthBody::of(health.iter().find(|h| h.channel == spec.name)),
                spec: spec.shown(u.role == Role::Admin),
                source: source.as_str(),
            };
            to_json(&body)
        })
        .collect();
    Ok(Json(out).into_response())
}

/// Add or replace a channel (admin).
///
/// Channels of the config file cannot be changed here. The secret is kept
/// and never shown again.
#[utoipa::path(
    put,
    path = "/notify/channels/{name}",
    tag = "notify",
    operation_id = "putChannel",
    params(("name" = String, Path, description = "The channel's name.")),
    request_body = ChannelSpec,
    responses(
        (status = 200, description = "Stored.", body = ChannelBody),
        BadRequest, Unauthorized, Forbidden, Conflict,
    )
)]
pub(super) async fn put_channel(
    State(state): State<Shared>,
    UrlPath(name): UrlPath<String>,
    Body(Admin(u), mut spec): Body<Admin, ChannelSpec>,
) -> ApiResult {
    if !spec.name.is_empty() && spec.name != name {
        return Err(Error::bad_request(format!(
            "the body names channel {:?}, the path {name:?}",
            spec.name
        ))
        .into());
    }
    spec.name = name.clone();
    spec.check().map_err(Error::bad_request)?;
    if let Some((_, Source::Config)) = channels::find(&state, &name).await? {
        return Err(Error::conflict(format!(
            "channel {name:?} is defined in the config file: change it there"
        ))
        .into());
    }
    let json = serde_json::to_string(&spec).map_err(|e| Error::internal(e.to_string()))?;
    state.store.put_channel(&name, &json, &u.name).await?;
    crate::service::log(&format!("{} stored notify channel {name}", u.name));
    let health = state.store.channel_health().await?;
    let out = ChannelBody {
        has_secret: spec.secret.is_some(),
        health: HealthBody::of(health.iter().find(|h| h.channel == name)),
        spec: spec.shown(true),
        source: "api",
    };
    Ok(Json(to_json(&out)).into_response())
}

/// Remove a channel of the API, and the subscriptions to it (admin).
#[utoipa::path(
    delete,
    path = "/notify/channels/{name}",
    tag = "notify",
    operation_id = "deleteChannel",
    params(("name" = String, Path, description = "The channel's name.")),
    responses(
        (status = 204, description = "Removed."),
        Unauthorized, Forbidden, NotFound, Conflict,
    )
)]
pub(super) async fn delete_channel(
    State(state): State<Shared>,
    UrlPath(name): UrlPath<String>,
    Admin(_): Admin,
) -> ApiResult {
    if let Some((_, Source::Config)) = channels::find(&state, &name).await? {
        return Err(Error::conflict(format!(
            "channel {name:?} is defined in the config file: remove it there"
        ))
        .into());
    }
    if !state.store.delete_channel(&name).await? {
        return Err(Error::not_found(format!("no channel {name:?}")).into());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Which deliveries to list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct DeliveryFilter {
    /// `pending` (queued or retrying), `sent` or `dead` (out of attempts).
    state: Option<String>,
    /// One channel's.
    channel: Option<String>,
    /// One ticket's.
    ticket: Option<i64>,
    /// At most this many, newest first (default 200, at most 1000).
    #[param(minimum = 1, maximum = 1000, default = json!(200))]
    limit: Option<i64>,
}

/// One delivery of an event to a channel.
#[derive(Serialize, ToSchema)]
pub(super) struct DeliveryBody {
    /// Id (also sent as `X-Rdbscope-Delivery`).
    id: i64,
    /// The ticket.
    ticket: i64,
    /// The event.
    #[schema(example = "approved")]
    event: String,
    /// The channel.
    channel: String,
    /// The address on it (e-mail), or empty.
    address: String,
    /// `pending`, `sent` or `dead`.
    state: String,
    /// Attempts made.
    attempts: u32,
    /// The next attempt, while pending.
    next_at: Option<String>,
    /// The last attempt's error.
    last_error: Option<String>,
    /// Queued.
    created_at: String,
    /// Sent.
    sent_at: Option<String>,
}

impl DeliveryBody {
    fn of(d: DeliveryRow) -> DeliveryBody {
        DeliveryBody {
            id: d.id,
            ticket: d.ticket_id,
            event: d.kind,
            channel: d.channel,
            address: d.address,
            next_at: (d.state == "pending").then(|| rfc3339(d.next_at)),
            state: d.state,
            attempts: d.attempts,
            last_error: d.last_error,
            created_at: rfc3339(d.created_at),
            sent_at: d.sent_at.map(rfc3339),
        }
    }
}

/// List deliveries (the outbox), newest first (admin).
#[utoipa::path(
    get,
    path = "/notify/deliveries",
    tag = "notify",
    operation_id = "listDeliveries",
    params(DeliveryFilter),
    responses(
        (status = 200, description = "The deliveries.", body = Vec<DeliveryBody>),
        BadRequest, Unauthorized, Forbidden,
    )
)]
pub(super) async fn list_deliveries(
    State(state): State<Shared>,
    Admin(_): Admin,
    Filter(f): Filter<DeliveryFilter>,
) -> ApiResult {
    if let Some(s) = &f.state {
        if !["pending", "sent", "dead"].contains(&s.as_str()) {
            return Err(
                Error::bad_request(format!("state: {s:?} is not pending, sent or dead")).into(),
            );
        }
    }
    let limit = f.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(Error::bad_request("limit: give 1 to 1000").into());
    }
    let rows = state
        .store
        .deliveries(&DeliveryQuery {
            state: f.state,
            channel: f.channel,
            ticket_id: f.ticket,
            limit,
        })
        .await?;
    let out: Vec<_> = rows
        .into_iter()
        .map(|d| to_json(&DeliveryBody::of(d)))
        .collect();
    Ok(Json(out).into_response())
}
