//! The security headers added to every answer of the server: the console's
//! Content-Security-Policy (scripts and styles from this origin only, no
//! inline script), no framing, no content sniffing, no referrer.

use axum::http::{header, HeaderName, HeaderValue};
use axum::response::Response;

/// The console's policy: its own scripts and styles only (no inline script
/// or style, no `eval`), API calls to this origin, the report of an analysis
/// in a sandboxed frame from this origin, and nothing may frame the console.
pub const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; frame-src 'self'; base-uri 'none'; \
form-action 'none'; frame-ancestors 'none'";

/// Adds the security headers an answer does not set itself (a report shown
/// in the console's frame sets its own policy and framing).
pub async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    let defaults: [(HeaderName, &'static str); 4] = [
        (header::CONTENT_SECURITY_POLICY, CONSOLE_CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    for (name, value) in defaults {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    }
    resp
}
