//! The web console: its HTML, CSS and JavaScript, embedded in the binary and
//! served at `/` and `/console/…` by the same server as the API, with the
//! security headers every answer carries (`docs/console.md`).
//!
//! - `assets.rs`: the embedded files and their content types;
//! - `headers.rs`: Content-Security-Policy, framing, sniffing and referrer
//!   headers added to every answer of the server.

mod assets;
mod headers;

use axum::extract::Path as UrlPath;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub use assets::{asset, Asset, ASSETS};
pub use headers::{security_headers, CONSOLE_CSP};

fn serve(a: &Asset) -> Response {
    (
        [
            (header::CONTENT_TYPE, a.content_type),
            // Small files, always revalidated: a new binary serves new ones.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        a.body,
    )
        .into_response()
}

async fn index() -> Response {
    match asset("index.html") {
        Some(a) => serve(a),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn file(UrlPath(path): UrlPath<String>) -> Response {
    match asset(&path) {
        Some(a) => serve(a),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "no such console file",
        )
            .into_response(),
    }
}

/// The console's routes: `/` (the page) and `/console/{file}` (its assets).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/console/{*path}", get(file))
}
