//! The web console: its HTML, CSS and JavaScript, embedded in the binary and
//! served at `/` and `/console/…` by the same server as the API, with the
//! security headers every answer carries (`docs/console.md`).
//!
//! - `assets.rs`: the embedded files and their content types;
//! - `headers.rs`: Content-Security-Policy, framing, sniffing and referrer
//!   headers added to every answer of the server.

mod assets;
mod headers;

use std::sync::OnceLock;

use axum::extract::Path as UrlPath;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub use assets::{asset, Asset, ASSETS};
pub use headers::{security_headers, CONSOLE_CSP};

/// The entity tag of every asset (in [`ASSETS`]' order): a hash of its
/// bytes, computed once.
fn etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| format!("\"{}\"", &crate::auth::sha256_hex(a.body)[..32]))
            .collect()
    })
}

/// Whether `If-None-Match` names `tag` (or is `*`).
fn not_modified(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == tag || t == "*")
}

/// An asset from memory, with its entity tag: a client that has it
/// (`If-None-Match`) gets 304 and no body.
fn serve(a: &Asset, headers: &HeaderMap) -> Response {
    // By path: `ASSETS` is a constant, so references to it need not be equal.
    let Some(i) = ASSETS.iter().position(|b| b.path == a.path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let tag = etags()[i].as_str();
    let head = [
        (header::CONTENT_TYPE, a.content_type),
        // Small files, always revalidated: a new binary serves new ones.
        (header::CACHE_CONTROL, "no-cache"),
        (header::ETAG, tag),
    ];
    if not_modified(headers, tag) {
        (StatusCode::NOT_MODIFIED, head).into_response()
    } else {
        (head, a.body).into_response()
    }
}

async fn index(headers: HeaderMap) -> Response {
    match asset("index.html") {
        Some(a) => serve(a, &headers),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn file(UrlPath(path): UrlPath<String>, headers: HeaderMap) -> Response {
    match asset(&path) {
        Some(a) => serve(a, &headers),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_carry_an_etag_and_a_matching_client_gets_304() {
        let a = asset("js/main.js").unwrap();
        let r = serve(a, &HeaderMap::new());
        assert_eq!(r.status(), StatusCode::OK);
        let tag = r.headers()[header::ETAG].to_str().unwrap().to_string();
        assert!(tag.starts_with('"') && tag.len() == 34, "{tag}");
        let other = serve(asset("js/dom.js").unwrap(), &HeaderMap::new());
        assert_ne!(other.headers()[header::ETAG].to_str().unwrap(), tag);
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            format!("\"x\", {tag}").parse().unwrap(),
        );
        let r = serve(a, &h);
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(r.headers()[header::ETAG].to_str().unwrap(), tag);
        h.insert(header::IF_NONE_MATCH, "\"stale\"".parse().unwrap());
        assert_eq!(serve(a, &h).status(), StatusCode::OK);
    }
}
