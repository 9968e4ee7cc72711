//! The HTTP JSON API (see `jobsvc/API.md` and `/openapi.json`). Handlers
//! check the caller, parse and validate the request, then call the store;
//! every ticket state change goes through [`crate::ticket::transition`].

use std::path::{Component, Path};
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth;
use crate::error::{Error, ErrorKind, Result};
use crate::files::report_dir;
use crate::params::Params;
use crate::registry::{self, AppKind, Credentials, Window};
use crate::service::Shared;
use crate::store::{parse_role, AppRow, NewTicket, TicketRow, TransitionExtras, User};
use crate::ticket::{transition, Actor, Event, Role, TicketState, TicketView, TransitionError};
use crate::time::rfc3339;
use crate::topology::discover;

/// An error as the API answers it: a status and `{"error": message}`.
/// Internal errors are logged and answered with a generic message.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        ApiError(e)
    }
}

impl From<TransitionError> for ApiError {
    fn from(e: TransitionError) -> ApiError {
        ApiError(match e {
            TransitionError::Forbidden(m) => Error::forbidden(m),
            TransitionError::Invalid(m) => Error::conflict(m),
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self.0.kind {
            ErrorKind::BadRequest => (StatusCode::BAD_REQUEST, self.0.message),
            ErrorKind::Unauthorized => (StatusCode::UNAUTHORIZED, self.0.message),
            ErrorKind::Forbidden => (StatusCode::FORBIDDEN, self.0.message),
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, self.0.message),
            ErrorKind::Conflict => (StatusCode::CONFLICT, self.0.message),
            ErrorKind::Transient => (StatusCode::SERVICE_UNAVAILABLE, self.0.message),
            ErrorKind::Internal => {
                crate::service::log(&format!("internal error: {}", self.0.message));
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error (the service log has the details)".to_string(),
                )
            }
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}

type ApiResult<T = Response> = std::result::Result<T, ApiError>;

/// The router with every endpoint (tests and `serve` call this).
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/me", get(me))
        .route("/users", get(list_users).post(create_user))
        .route("/apps", get(list_apps).post(create_app))
        .route("/apps/{name}", get(get_app).delete(delete_app))
        .route("/apps/{name}/refresh", post(refresh_app))
        .route("/tickets", get(list_tickets).post(submit))
        .route("/tickets/{id}", get(get_ticket))
        .route("/tickets/{id}/{action}", post(ticket_action))
        .route("/tickets/{id}/audit", get(audit))
        .route("/tickets/{id}/report", get(report_list))
        .route("/tickets/{id}/report/{*name}", get(report_file))
        .fallback(|| async { ApiError(Error::not_found("no such endpoint (see /openapi.json)")) })
        .with_state(state)
}

// ---- helpers ---------------------------------------------------------------

async fn caller(state: &Shared, headers: &HeaderMap) -> Result<User> {
    let unauthorized = |m: &str| Error::new(ErrorKind::Unauthorized, m);
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("missing Authorization: Bearer <token>"))?
        .to_str()
        .map_err(|_| unauthorized("bad Authorization header"))?;
    let token = value
        .strip_prefix("Bearer ")
        .ok_or_else(|| unauthorized("Authorization must be \"Bearer <token>\""))?
        .trim();
    state
        .store
        .user_by_token_hash(&auth::token_hash(token))
        .await?
        .ok_or_else(|| unauthorized("unknown token"))
}

fn actor(u: &User) -> Actor {
    Actor::user(&u.name, u.role)
}

fn require_admin(u: &User) -> Result<()> {
    if u.role == Role::Admin {
        Ok(())
    } else {
        Err(Error::forbidden("only an admin can do this"))
    }
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T> {
    if body.is_empty() {
        return serde_json::from_slice(b"{}")
            .map_err(|e| Error::bad_request(format!("a JSON body is required: {e}")));
    }
    serde_json::from_slice(body).map_err(|e| Error::bad_request(format!("bad JSON body: {e}")))
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Admin => "admin",
        Role::Submitter => "submitter",
    }
}

fn parse_json(text: &Option<String>) -> Value {
    text.as_deref()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

/// A ticket as the API shows it.
pub fn ticket_json(t: &TicketRow) -> Value {
    json!({
        "id": t.id,
        "type": t.kind,
        "state": t.state.as_str(),
        "submitter": t.submitter,
        "handler": t.handler,
        "params": serde_json::from_str::<Value>(&t.params).unwrap_or(Value::Null),
        "params_hash": t.params_hash,
        "idempotency_key": t.idempotency_key,
        "created_at": rfc3339(t.created_at),
        "updated_at": rfc3339(t.updated_at),
        "attempts": t.attempts,
        "progress": serde_json::from_str::<Value>(&t.progress).unwrap_or(Value::Null),
        "plan": parse_json(&t.plan),
        "error": t.error,
        "result": parse_json(&t.result),
    })
}

fn app_json(a: &AppRow) -> Value {
    json!({
        "name": a.name,
        "kind": a.kind,
        "addr": a.addr,
        "user": a.username,
        "has_password": a.password.is_some(),
        "maintenance_window": a.maintenance_window,
        "nodes": serde_json::from_str::<Value>(&a.topology).unwrap_or(Value::Null),
        "refreshed_at": a.refreshed_at.map(rfc3339),
    })
}

/// Loads a ticket the caller may see (others' tickets are "not found" to
/// submitters, so ids reveal nothing).
async fn visible_ticket(state: &Shared, u: &User, id: i64) -> Result<TicketRow> {
    let t = state
        .store
        .get_ticket(id)
        .await?
        .ok_or_else(|| Error::not_found(format!("no ticket {id}")))?;
    if u.role != Role::Admin && t.submitter != u.name {
        return Err(Error::not_found(format!("no ticket {id}")));
    }
    Ok(t)
}

fn view(t: &TicketRow) -> TicketView<'_> {
    TicketView {
        state: t.state,
        submitter: &t.submitter,
        attempts: t.attempts,
    }
}

// ---- service ---------------------------------------------------------------

async fn healthz(State(state): State<Shared>) -> ApiResult {
    state.store.count_users().await?;
    Ok(Json(json!({"status": "ok", "store": state.store.backend().as_str()})).into_response())
}

async fn metrics(State(state): State<Shared>) -> ApiResult {
    let mut out = String::new();
    out.push_str("# HELP rdbscope_tickets Tickets by state.\n# TYPE rdbscope_tickets gauge\n");
    let counts = state.store.count_by_state().await?;
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
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
        .into_response()
}

async fn me(State(state): State<Shared>, headers: HeaderMap) -> ApiResult {
    let u = caller(&state, &headers).await?;
    Ok(Json(json!({"name": u.name, "role": role_name(u.role)})).into_response())
}

// ---- users -----------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    role: String,
}

async fn create_user(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let u = caller(&state, &headers).await?;
    require_admin(&u)?;
    let req: NewUser = parse_body(&body)?;
    auth::check_name("user name", &req.name)?;
    let role = parse_role(&req.role)?;
    let token = auth::new_token()?;
    let user = state
        .store
        .create_user(&req.name, role, &auth::token_hash(&token))
        .await?;
    crate::service::log(&format!(
        "{} created user {} ({})",
        u.name, user.name, req.role
    ));
    Ok((
        StatusCode::CREATED,
        Json(json!({"name": user.name, "role": role_name(user.role), "token": token})),
    )
        .into_response())
}

async fn list_users(State(state): State<Shared>, headers: HeaderMap) -> ApiResult {
    let u = caller(&state, &headers).await?;
    require_admin(&u)?;
    let users: Vec<Value> = state
        .store
        .list_users()
        .await?
        .iter()
        .map(|u| json!({"name": u.name, "role": role_name(u.role), "created_at": rfc3339(u.created_at)}))
        .collect();
    Ok(Json(users).into_response())
}

// ---- apps ------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewApp {
    name: String,
    kind: String,
    addr: String,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    maintenance_window: Option<String>,
}

async fn create_app(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let u = caller(&state, &headers).await?;
    require_admin(&u)?;
    let req: NewApp = parse_body(&body)?;
    auth::check_name("app name", &req.name)?;
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

async fn list_apps(State(state): State<Shared>, headers: HeaderMap) -> ApiResult {
    caller(&state, &headers).await?;
    let apps: Vec<Value> = state
        .store
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

async fn get_app(
    State(state): State<Shared>,
    headers: HeaderMap,
    UrlPath(name): UrlPath<String>,
) -> ApiResult {
    caller(&state, &headers).await?;
    Ok(Json(app_json(&load_app(&state, &name).await?)).into_response())
}

async fn refresh_app(
    State(state): State<Shared>,
    headers: HeaderMap,
    UrlPath(name): UrlPath<String>,
) -> ApiResult {
    let u = caller(&state, &headers).await?;
    require_admin(&u)?;
    let app = load_app(&state, &name).await?;
    let topology = crate::service::refresh_topology(&state, &app).await?;
    let mut app = app;
    app.topology = topology;
    app.refreshed_at = Some(crate::store::now_ms());
    Ok(Json(app_json(&app)).into_response())
}

async fn delete_app(
    State(state): State<Shared>,
    headers: HeaderMap,
    UrlPath(name): UrlPath<String>,
) -> ApiResult {
    let u = caller(&state, &headers).await?;
    require_admin(&u)?;
    if !state.store.delete_app(&name).await? {
        return Err(Error::not_found(format!("no app {name:?}")).into());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- tickets ---------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTicketRequest {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    params: Value,
    #[serde(default)]
    idempotency_key: Option<String>,
}

async fn submit(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let u = caller(&state, &headers).await?;
    let req: NewTicketRequest = parse_body(&body)?;
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
    let params = Params::parse(
        &req.kind,
        &req.params,
        &crate::params::ParseCtx {
            allowed_dirs: &state.config.allowed_dirs,
            max_monitor_secs: state.config.max_monitor_secs,
            is_admin: u.role == Role::Admin,
        },
    )?;
    let mut apps = Vec::new();
    for name in params.apps() {
        apps.push(
            state.store.get_app(name).await?.ok_or_else(|| {
                Error::bad_request(format!("unknown app {name:?} (see GET /apps)"))
            })?,
        );
    }
    let plan = crate::jobs::plan(&state, &params, &apps).await?;
    let (canonical, hash) = params.canonical();
    let (ticket, created) = state
        .store
        .insert_ticket(&NewTicket {
            kind: req.kind.clone(),
            submitter: u.name.clone(),
            params: canonical,
            params_hash: hash.clone(),
            idempotency_key: key,
            plan: Some(plan.to_string()),
        })
        .await?;
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
    if state.config.auto_approve.iter().any(|t| t == &req.kind) {
        let t = transition(
            &view(&ticket),
            &Event::Approve,
            &Actor::System("auto"),
            &state.policy,
        )?;
        ticket = state
            .store
            .apply(
                ticket.id,
                &t,
                &TransitionExtras {
                    handler: Some("auto".into()),
                    ..TransitionExtras::default()
                },
            )
            .await?;
        state.wake.notify_one();
    }
    Ok((StatusCode::CREATED, Json(ticket_json(&ticket))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TicketFilter {
    state: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    limit: Option<i64>,
}

async fn list_tickets(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(f): Query<TicketFilter>,
) -> ApiResult {
    let u = caller(&state, &headers).await?;
    let st = f
        .state
        .as_deref()
        .map(|s| s.parse::<TicketState>().map_err(Error::bad_request))
        .transpose()?;
    let mine = (u.role != Role::Admin).then_some(u.name.as_str());
    let tickets = state
        .store
        .list_tickets(mine, st, f.kind.as_deref(), f.limit.unwrap_or(500))
        .await?;
    Ok(Json(tickets.iter().map(ticket_json).collect::<Vec<_>>()).into_response())
}

async fn get_ticket(
    State(state): State<Shared>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<i64>,
) -> ApiResult {
    let u = caller(&state, &headers).await?;
    Ok(Json(ticket_json(&visible_ticket(&state, &u, id).await?)).into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Note {
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

async fn change(
    state: &Shared,
    headers: &HeaderMap,
    id: i64,
    body: &Bytes,
    make: impl FnOnce(&Note) -> Result<Event>,
) -> ApiResult {
    let u = caller(state, headers).await?;
    let note: Note = parse_body(body)?;
    let event = make(&note)?;
    let t = visible_ticket(state, &u, id).await?;
    let mut tr = transition(&view(&t), &event, &actor(&u), &state.policy)?;
    if let (Event::Approve, Some(n)) = (&event, &note.note) {
        tr.note = Some(n.clone());
    }
    let handler = matches!(event, Event::Approve | Event::Reject { .. }).then(|| u.name.clone());
    // A rejection's reason is what the submitter needs to see first.
    let error = match &event {
        Event::Reject { reason } => Some(format!("rejected: {reason}")),
        _ => None,
    };
    let t = state
        .store
        .apply(
            id,
            &tr,
            &TransitionExtras {
                handler,
                error,
                ..TransitionExtras::default()
            },
        )
        .await?;
    crate::service::log(&format!(
        "ticket {id}: {} -> {} by {}",
        tr.from, tr.to, u.name
    ));
    state.wake.notify_one();
    Ok(Json(ticket_json(&t)).into_response())
}

/// `POST /tickets/{id}/approve|reject|cancel`.
async fn ticket_action(
    State(state): State<Shared>,
    headers: HeaderMap,
    UrlPath((id, action)): UrlPath<(i64, String)>,
    body: Bytes,
) -> ApiResult {
    change(&state, &headers, id, &body, |n| match action.as_str() {
        "approve" => Ok(Event::Approve),
        "cancel" => Ok(Event::Cancel),
        "reject" => {
            let reason = n
                .reason
                .clone()
                .or_else(|| n.note.clone())
                .unwrap_or_default();
            if reason.trim().is_empty() {
                return Err(Error::bad_request(
                    "a rejection needs a reason: {\"reason\": \"…\"}",
                ));
            }
            Ok(Event::Reject { reason })
        }
        other => Err(Error::not_found(format!(
            "no ticket action {other:?} (approve, reject or cancel)"
        ))),
    })
    .await
}

async fn audit(
    State(state): State<Shared>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<i64>,
) -> ApiResult {
    let u = caller(&state, &headers).await?;
    visible_ticket(&state, &u, id).await?;
    let rows: Vec<Value> = state
        .store
        .audit(id)
        .await?
        .iter()
        .map(|a| {
            json!({
                "at": rfc3339(a.at),
                "actor": a.actor,
                "from": a.from.map(|s| s.as_str()),
                "to": a.to.as_str(),
                "note": a.note,
            })
        })
        .collect();
    Ok(Json(rows).into_response())
}

fn walk(dir: &Path, base: &Path, out: &mut Vec<(String, u64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            walk(&p, base, out);
        } else if let (Ok(rel), Ok(meta)) = (p.strip_prefix(base), e.metadata()) {
            out.push((rel.to_string_lossy().into_owned(), meta.len()));
        }
    }
}

async fn report_list(
    State(state): State<Shared>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<i64>,
) -> ApiResult {
    let u = caller(&state, &headers).await?;
    visible_ticket(&state, &u, id).await?;
    let dir = report_dir(&state.config, id);
    let mut files = Vec::new();
    walk(&dir, &dir, &mut files);
    Ok(Json(
        files
            .iter()
            .map(|(n, b)| json!({"name": n, "bytes": b}))
            .collect::<Vec<_>>(),
    )
    .into_response())
}

async fn report_file(
    State(state): State<Shared>,
    headers: HeaderMap,
    UrlPath((id, name)): UrlPath<(i64, String)>,
) -> ApiResult {
    let u = caller(&state, &headers).await?;
    visible_ticket(&state, &u, id).await?;
    let rel = Path::new(&name);
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(Error::bad_request("report file names are relative, without ..").into());
    }
    let path = report_dir(&state.config, id).join(rel);
    let bytes = tokio::task::spawn_blocking(move || std::fs::read(&path))
        .await
        .map_err(|e| Error::internal(e.to_string()))?
        .map_err(|_| Error::not_found(format!("ticket {id} has no report file {name:?}")))?;
    let ctype = match rel.extension().and_then(|e| e.to_str()) {
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    };
    Ok(([(header::CONTENT_TYPE, ctype)], bytes).into_response())
}
