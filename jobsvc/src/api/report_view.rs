//! One-use view links for a report page (`report.html`): a frame cannot send
//! the bearer token, so the console asks for a link with the token, and the
//! frame loads the link once, within a minute, under a sandboxing policy.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiResult, BadRequest, NotFound, Unauthorized};
use super::request::{caller, parse_body, visible_ticket};
use super::views::to_json;
use crate::auth;
use crate::error::Error;
use crate::files::report_dir;
use crate::service::Shared;

/// How long a link may wait for its one use.
const LINK_TTL: Duration = Duration::from_secs(60);

/// The policy a report page is served under: its own inline style and
/// script run, sandboxed into an opaque origin (no access to the console,
/// its storage or the API), nothing fetched; only this origin may frame it.
pub(super) const REPORT_CSP: &str = "sandbox allow-scripts; default-src 'none'; \
style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'";

fn links() -> &'static Mutex<HashMap<String, (PathBuf, Instant)>> {
    static LINKS: OnceLock<Mutex<HashMap<String, (PathBuf, Instant)>>> = OnceLock::new();
    LINKS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Which report page to view.
#[derive(Deserialize, serde::Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "report.html"}))]
pub(super) struct ViewRequest {
    /// An HTML file of the ticket's report (as listed).
    name: String,
}

/// A one-use link to a report page.
#[derive(Serialize, ToSchema)]
pub(super) struct ViewLink {
    /// Same-origin path, usable once within a minute, without a token.
    #[schema(example = "/report-view/3f9a…")]
    url: String,
}

/// A one-use link to view a ticket's report page in a frame (its submitter
/// or an admin).
///
/// A frame cannot send the `Authorization` header: the link, not the
/// token, goes into the frame's address; it works once, within a minute.
#[utoipa::path(
    post,
    path = "/tickets/{id}/report-view",
    tag = "tickets",
    operation_id = "ticketReportView",
    params(("id" = i64, Path, description = "The ticket's id.", minimum = 1)),
    request_body = ViewRequest,
    responses(
        (status = 200, description = "The link.", body = ViewLink),
        BadRequest, Unauthorized, NotFound,
    )
)]
pub(super) async fn make_link(
    State(state): State<Shared>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<i64>,
    body: Bytes,
) -> ApiResult {
    let u = caller(&state, &headers).await?;
    visible_ticket(&state, &u, id).await?;
    let req: ViewRequest = parse_body(&body)?;
    let rel = Path::new(&req.name);
    if rel.components().any(|c| !matches!(c, Component::Normal(_)))
        || rel.extension().and_then(|e| e.to_str()) != Some("html")
    {
        return Err(Error::bad_request("name: an .html report file, relative, without ..").into());
    }
    let path = report_dir(&state.config, id).join(rel);
    if !path.is_file() {
        return Err(
            Error::not_found(format!("ticket {id} has no report file {:?}", req.name)).into(),
        );
    }
    let key = auth::hex(&auth::random_bytes(24)?);
    let mut map = links()
        .lock()
        .map_err(|_| Error::internal("view links poisoned"))?;
    map.retain(|_, (_, at)| at.elapsed() < LINK_TTL);
    map.insert(key.clone(), (path, Instant::now()));
    let link = ViewLink {
        url: format!("/report-view/{key}"),
    };
    Ok(Json(to_json(&link)).into_response())
}

/// A report page, by a one-use link (no token: the link is the permission).
#[utoipa::path(
    get,
    path = "/report-view/{key}",
    tag = "tickets",
    operation_id = "reportView",
    security(()),
    params(("key" = String, Path, description = "From `POST /tickets/{id}/report-view`.")),
    responses(
        (status = 200, description = "The page, sandboxed by its Content-Security-Policy.", content((String = "text/html"))),
        NotFound,
    )
)]
pub(super) async fn view(UrlPath(key): UrlPath<String>) -> ApiResult {
    let gone = || Error::not_found("this view link was used or has expired: open the report again");
    let path = {
        let mut map = links()
            .lock()
            .map_err(|_| Error::internal("view links poisoned"))?;
        let (path, at) = map.remove(&key).ok_or_else(gone)?;
        if at.elapsed() >= LINK_TTL {
            return Err(gone().into());
        }
        path
    };
    let bytes = tokio::task::spawn_blocking(move || std::fs::read(&path))
        .await
        .map_err(|e| Error::internal(e.to_string()))?
        .map_err(|_| gone())?;
    let mut resp = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], bytes).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(REPORT_CSP),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}
