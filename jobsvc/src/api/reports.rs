//! A ticket's report files: listing and downloading them.

use std::path::{Component, Path};

use axum::extract::{Path as UrlPath, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;

use super::error::{ApiResult, BadRequest, NotFound, Unauthorized};
use super::request::{visible_ticket, Caller};
use super::views::{to_json, ReportFile};
use crate::error::Error;
use crate::files::report_dir;
use crate::service::Shared;

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

/// The ticket's report files (its submitter or an admin).
///
/// Names are relative paths; a cluster analysis has one folder per shard
/// plus an overall `summary.json`.
#[utoipa::path(
    get,
    path = "/tickets/{id}/report",
    tag = "tickets",
    operation_id = "ticketReport",
    params(("id" = i64, Path, description = "The ticket's id.", minimum = 1)),
    responses(
        (status = 200, description = "The files, by name.", body = Vec<ReportFile>),
        Unauthorized, NotFound,
    )
)]
pub(super) async fn report_list(
    State(state): State<Shared>,
    UrlPath(id): UrlPath<i64>,
    Caller(u): Caller,
) -> ApiResult {
    visible_ticket(&state, &u, id).await?;
    let dir = report_dir(&state.config, id);
    let mut files = Vec::new();
    walk(&dir, &dir, &mut files);
    Ok(Json(
        files
            .into_iter()
            .map(|(name, bytes)| to_json(&ReportFile { name, bytes }))
            .collect::<Vec<_>>(),
    )
    .into_response())
}

/// Download one report file (its submitter or an admin).
#[utoipa::path(
    get,
    path = "/tickets/{id}/report/{name}",
    tag = "tickets",
    operation_id = "ticketReportFile",
    params(
        ("id" = i64, Path, description = "The ticket's id.", minimum = 1),
        ("name" = String, Path,
         description = "A name as listed by `GET /tickets/{id}/report` (may contain `/`; never `..`)."),
    ),
    responses(
        (status = 200, description = "The file: JSON, text, or bytes (Parquet).", content(
            ([u8] = "application/octet-stream"),
            (Object = "application/json"),
            (String = "text/plain"),
        )),
        BadRequest, Unauthorized, NotFound,
    )
)]
pub(super) async fn report_file(
    State(state): State<Shared>,
    UrlPath((id, name)): UrlPath<(i64, String)>,
    Caller(u): Caller,
) -> ApiResult {
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
