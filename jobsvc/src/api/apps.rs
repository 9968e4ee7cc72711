//! The apps tickets act on: registering one (its nodes discovered now),
//! reading, refreshing and deleting them.

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::error::{
    ApiResult, BadRequest, Conflict, Forbidden, NotFound, Unauthorized, Unavailable,
};
use super::request::{Admin, Body, Caller};
use super::views::{app_json, AppBody};
use crate::error::{Error, ErrorKind, Result};
use crate::registry::{self, AppKind, Credentials, Window};
use crate::service::Shared;
use crate::store::AppRow;
use crate::topology::discover;

/// An app to register.
#[derive(Deserialize, serde::Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "shop", "kind": "replicated", "addr": "10.0.0.5:6379",
    "user": null, "password": "secret", "maintenance_window": "01:00-05:00"
}))]
pub(super) struct NewApp {
    /// 1-64 letters, digits, `.`, `_`, `-` or `@`.
    #[schema(pattern = "^[A-Za-z0-9._@-]{1,64}$")]
    name: String,
    /// How it is deployed.
    #[schema(value_type = AppKind)]
    kind: String,
    /// `host:port` of a member (a cluster: a seed node).
    #[schema(example = "10.0.0.5:6379")]
    addr: String,
    /// ACL user for AUTH (null: the default user).
    #[serde(default)]
    user: Option<String>,
    /// Password for AUTH; never returned.
    #[serde(default)]
    #[schema(write_only)]
    password: Option<String>,
    /// `HH:MM-HH:MM` in UTC (may wrap midnight), or null for any time.
    /// Heavy jobs on the app wait for it.
    #[serde(default)]
    #[schema(
        pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$",
        example = "01:00-05:00"
    )]
    maintenance_window: Option<String>,
}

/// Register an app (admin); its nodes are discovered now.
///
/// A `replicated` app may be given by its master or any member (topology
/// from `INFO replication`); a `cluster` by one seed address
/// (`CLUSTER SHARDS`, or `CLUSTER SLOTS` on older servers). An app that
/// cannot be reached is refused (400).
#[utoipa::path(
    post,
    path = "/apps",
    tag = "apps",
    operation_id = "createApp",
    request_body = NewApp,
    responses(
        (status = 201, description = "Registered.", body = AppBody),
        BadRequest, Unauthorized, Forbidden, Conflict,
    )
)]
pub(super) async fn create_app(
    State(state): State<Shared>,
    Body(Admin(u), req): Body<Admin, NewApp>,
) -> ApiResult {
    crate::auth::check_name("app name", &req.name)?;
    let kind = AppKind::parse(&req.kind)?;
    registry::split_addr(&req.addr)?;
    if let Some(w) = &req.maintenance_window {
        Window::parse(w)?;
    }
    if state.store.get_app(&req.name).await?.is_some() {
        return Err(Error::conflict(format!("app {:?} already exists", req.name)).into());
    }
    let creds = Credentials {
        user: req.user.clone(),
        password: req.password.clone(),
    };
    // An app that cannot be reached is refused: a typo now is a failed
    // ticket later.
    let topology = discover(kind, &req.addr, creds).await.map_err(|e| {
        if e.kind == ErrorKind::Transient {
            Error::bad_request(e.message)
        } else {
            e
        }
    })?;
    let row = AppRow {
        name: req.name,
        kind: kind.as_str().into(),
        addr: req.addr,
        username: req.user,
        password: req.password,
        maintenance_window: req.maintenance_window,
        topology,
        refreshed_at: Some(crate::store::now_ms()),
    };
    state.store.create_app(&row).await?;
    crate::service::log(&format!(
        "{} registered app {} ({})",
        u.name, row.name, row.kind
    ));
    Ok((StatusCode::CREATED, Json(app_json(&row))).into_response())
}

/// List apps.
#[utoipa::path(
    get,
    path = "/apps",
    tag = "apps",
    operation_id = "listApps",
    responses(
        (status = 200, description = "Every app.", body = Vec<AppBody>),
        Unauthorized,
    )
)]
pub(super) async fn list_apps(State(state): State<Shared>, Caller(_): Caller) -> ApiResult {
    let apps: Vec<Value> = state
        .reads
        .list_apps()
        .await?
        .iter()
        .map(app_json)
        .collect();
    Ok(Json(apps).into_response())
}

async fn load_app(state: &Shared, name: &str) -> Result<AppRow> {
    state
        .store
        .get_app(name)
        .await?
        .ok_or_else(|| Error::not_found(format!("no app {name:?}")))
}

/// One app.
#[utoipa::path(
    get,
    path = "/apps/{name}",
    tag = "apps",
    operation_id = "getApp",
    params(("name" = String, Path, description = "The app's name.")),
    responses(
        (status = 200, description = "The app.", body = AppBody),
        Unauthorized, NotFound,
    )
)]
pub(super) async fn get_app(
    State(state): State<Shared>,
    UrlPath(name): UrlPath<String>,
    Caller(_): Caller,
) -> ApiResult {
    Ok(Json(app_json(&load_app(&state, &name).await?)).into_response())
}

/// Discover the app's topology again (admin).
#[utoipa::path(
    post,
    path = "/apps/{name}/refresh",
    tag = "apps",
    operation_id = "refreshApp",
    params(("name" = String, Path, description = "The app's name.")),
    responses(
        (status = 200, description = "The app with its nodes as found now.", body = AppBody),
        BadRequest, Unauthorized, Forbidden, NotFound, Unavailable,
    )
)]
pub(super) async fn refresh_app(
    State(state): State<Shared>,
    UrlPath(name): UrlPath<String>,
    Admin(_): Admin,
) -> ApiResult {
    let app = load_app(&state, &name).await?;
    let topology = crate::service::refresh_topology(&state, &app).await?;
    let mut app = app;
    app.topology = topology;
    app.refreshed_at = Some(crate::store::now_ms());
    Ok(Json(app_json(&app)).into_response())
}

/// Unregister an app (admin).
#[utoipa::path(
    delete,
    path = "/apps/{name}",
    tag = "apps",
    operation_id = "deleteApp",
    params(("name" = String, Path, description = "The app's name.")),
    responses(
        (status = 204, description = "Deleted."),
        Unauthorized, Forbidden, NotFound,
    )
)]
pub(super) async fn delete_app(
    State(state): State<Shared>,
    UrlPath(name): UrlPath<String>,
    Admin(_): Admin,
) -> ApiResult {
    if !state.store.delete_app(&name).await? {
        return Err(Error::not_found(format!("no app {name:?}")).into());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
