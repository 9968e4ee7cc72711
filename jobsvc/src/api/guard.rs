//! What every request and answer passes through: a body must say it is JSON
//! (415 otherwise), and every error answer is `{"error": message}` — also
//! those axum makes itself (a body over the size limit, a path or query that
//! does not parse, a method the path does not take).

use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::error::ErrorBody;

/// The longest plain-text error body carried into the JSON answer.
const MAX_TEXT: usize = 64 * 1024;

/// Refuses a request body that is not declared as JSON; passes the rest on.
pub(super) async fn json_bodies(req: Request, next: Next) -> Response {
    let has_body = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() != "0")
        || req.headers().contains_key(header::TRANSFER_ENCODING);
    let writes = matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH);
    if writes && has_body && !is_json(req.headers().get(header::CONTENT_TYPE)) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the request body must be JSON, sent with Content-Type: application/json".into(),
        );
    }
    next.run(req).await
}

/// Turns an error answer that is not JSON into `{"error": message}`.
pub(super) async fn json_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error())
        || is_json(resp.headers().get(header::CONTENT_TYPE))
    {
        return resp;
    }
    let allow = resp.headers().get(header::ALLOW).cloned();
    let text = match to_bytes(resp.into_body(), MAX_TEXT).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
        Err(_) => String::new(),
    };
    let message = match (status, text.is_empty(), &allow) {
        (StatusCode::METHOD_NOT_ALLOWED, _, Some(allow)) => format!(
            "method not allowed here; this path takes {}",
            allow.to_str().unwrap_or("other methods")
        ),
        (_, true, _) => status
            .canonical_reason()
            .unwrap_or("request refused")
            .to_lowercase(),
        _ => text,
    };
    let mut out = error(status, message);
    if let Some(allow) = allow {
        out.headers_mut().insert(header::ALLOW, allow);
    }
    out
}

fn is_json(v: Option<&HeaderValue>) -> bool {
    v.and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

fn error(status: StatusCode, error: String) -> Response {
    let mut r = (status, Json(ErrorBody { error })).into_response();
    // Keep a body the client has not sent from being read as the next request.
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}
