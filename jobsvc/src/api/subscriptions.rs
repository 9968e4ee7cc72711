//! Subscriptions: a user's own (which events of their tickets, and of
//! those they are asked to approve, go to which channel), and admins' for
//! every ticket or for a team.

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiResult, BadRequest, Forbidden, NotFound, Unauthorized};
use super::request::{Body, Caller, Filter};
use super::views::to_json;
use crate::error::Error;
use crate::notify::channel::{check_address, ChannelKind};
use crate::notify::channels;
use crate::notify::event::check_kinds;
use crate::service::Shared;
use crate::store::SubscriptionRow;
use crate::ticket::Role;
use crate::time::rfc3339;

/// A subscription to add.
#[derive(Deserialize, serde::Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"events": ["approved", "rejected", "failed"], "channel": "mail", "address": "alice@example.com"}))]
pub(super) struct NewSubscription {
    /// The events (`*`: all): `submitted`, `needs_approval`, `approved`,
    /// `returned`, `rejected`, `started`, `paused`, `succeeded`, `failed`,
    /// `cancelled`, `approval_reminder`, `approval_escalation`.
    events: Vec<String>,
    /// The channel they go to.
    channel: String,
    /// The e-mail address, for an e-mail channel.
    #[serde(default)]
    address: Option<String>,
    /// Subscribe this user (default: the caller; another user: admins only).
    #[serde(default)]
    user: Option<String>,
    /// Subscribe a team instead (admins only): its members' events.
    #[serde(default)]
    team: Option<String>,
    /// Every ticket's events, not only the subscriber's own (admins only).
    #[serde(default)]
    all_tickets: bool,
}

/// A subscription.
#[derive(Serialize, ToSchema)]
pub(super) struct SubscriptionBody {
    /// Id.
    id: i64,
    /// `user` or `team`.
    subscriber_kind: String,
    /// The user's or team's name.
    subscriber: String,
    /// The events.
    events: Vec<String>,
    /// The channel.
    channel: String,
    /// The address on it (e-mail), or empty.
    address: String,
    /// Every ticket's events.
    all_tickets: bool,
    /// Who made it.
    created_by: String,
    /// When.
    created_at: String,
}

impl SubscriptionBody {
    fn of(s: SubscriptionRow) -> SubscriptionBody {
        SubscriptionBody {
            id: s.id,
            subscriber_kind: s.subscriber_kind,
            subscriber: s.subscriber,
            events: s.events,
            channel: s.channel,
            address: s.address,
            all_tickets: s.all_tickets,
            created_by: s.created_by,
            created_at: rfc3339(s.created_at),
        }
    }
}

/// Whose subscriptions to list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct SubscriptionFilter {
    /// Everyone's (admins only); default: the caller's own.
    all: Option<bool>,
}

/// List subscriptions: the caller's, or everyone's (`all=true`, admin).
#[utoipa::path(
    get,
    path = "/notify/subscriptions",
    tag = "notify",
    operation_id = "listSubscriptions",
    params(SubscriptionFilter),
    responses(
        (status = 200, description = "The subscriptions.", body = Vec<SubscriptionBody>),
        BadRequest, Unauthorized, Forbidden,
    )
)]
pub(super) async fn list_subscriptions(
    State(state): State<Shared>,
    Caller(u): Caller,
    Filter(f): Filter<SubscriptionFilter>,
) -> ApiResult {
    let rows = if f.all.unwrap_or(false) {
        if u.role != Role::Admin {
            return Err(Error::forbidden("only an admin can list everyone's subscriptions").into());
        }
        state.store.subscriptions(None).await?
    } else {
        state.store.subscriptions(Some(("user", &u.name))).await?
    };
    let out: Vec<_> = rows
        .into_iter()
        .map(|s| to_json(&SubscriptionBody::of(s)))
        .collect();
    Ok(Json(out).into_response())
}

/// Subscribe to events.
///
/// A user subscribes themselves to the events of their own tickets and of
/// the tickets they are asked to approve; admins may subscribe another
/// user, a team, or anyone to every ticket's events (`all_tickets`).
#[utoipa::path(
    post,
    path = "/notify/subscriptions",
    tag = "notify",
    operation_id = "subscribe",
    request_body = NewSubscription,
    responses(
        (status = 201, description = "Subscribed.", body = SubscriptionBody),
        BadRequest, Unauthorized, Forbidden,
    )
)]
pub(super) async fn subscribe(
    State(state): State<Shared>,
    Body(Caller(u), req): Body<Caller, NewSubscription>,
) -> ApiResult {
    let admin = u.role == Role::Admin;
    let (kind, who) = match (&req.user, &req.team) {
        (Some(_), Some(_)) => return Err(Error::bad_request("give user or team, not both").into()),
        (None, Some(team)) => {
            if !admin {
                return Err(Error::forbidden("only an admin can subscribe a team").into());
            }
            crate::auth::check_name("team name", team)?;
            ("team", team.clone())
        }
        (Some(user), None) if user != &u.name => {
            if !admin {
                return Err(Error::forbidden("you can only subscribe yourself").into());
            }
            state.store.user(user).await?;
            ("user", user.clone())
        }
        _ => ("user", u.name.clone()),
    };
    if req.all_tickets && !admin {
        return Err(Error::forbidden("only an admin can subscribe to every ticket").into());
    }
    if req.events.is_empty() {
        return Err(Error::bad_request("events: name at least one (or \"*\")").into());
    }
    check_kinds(&req.events).map_err(|e| Error::bad_request(format!("events: {e}")))?;
    let Some((channel, _)) = channels::find(&state, &req.channel).await? else {
        return Err(Error::bad_request(format!("channel: no channel {:?}", req.channel)).into());
    };
    let address = match (channel.kind, req.address) {
        (ChannelKind::Email, Some(a)) => {
            check_address(&a).map_err(|e| Error::bad_request(format!("address: {e}")))?;
            a
        }
        (ChannelKind::Email, None) => {
            return Err(Error::bad_request("address: an e-mail channel needs an address").into())
        }
        (_, Some(_)) => {
            return Err(Error::bad_request(format!(
                "address: only e-mail channels take one ({} is {})",
                channel.name,
                channel.kind.as_str()
            ))
            .into())
        }
        (_, None) => String::new(),
    };
    let row = state
        .store
        .add_subscription(&SubscriptionRow {
            id: 0,
            subscriber_kind: kind.into(),
            subscriber: who,
            events: req.events,
            channel: channel.name,
            address,
            all_tickets: req.all_tickets,
            created_by: u.name.clone(),
            created_at: 0,
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(to_json(&SubscriptionBody::of(row))),
    )
        .into_response())
}

/// Remove a subscription (its user, or an admin).
#[utoipa::path(
    delete,
    path = "/notify/subscriptions/{id}",
    tag = "notify",
    operation_id = "unsubscribe",
    params(("id" = i64, Path, description = "The subscription's id.")),
    responses(
        (status = 204, description = "Removed."),
        Unauthorized, NotFound,
    )
)]
pub(super) async fn unsubscribe(
    State(state): State<Shared>,
    UrlPath(id): UrlPath<i64>,
    Caller(u): Caller,
) -> ApiResult {
    let not_found = || Error::not_found(format!("no subscription {id}"));
    let s = state.store.subscription(id).await?.ok_or_else(not_found)?;
    let own = s.subscriber_kind == "user" && s.subscriber == u.name;
    if !own && u.role != Role::Admin {
        return Err(not_found().into());
    }
    state.store.delete_subscription(id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
