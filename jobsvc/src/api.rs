//! The HTTP JSON API (see `jobsvc/API.md` and `/openapi.json`). Handlers
//! check the caller, parse and validate the request, then call the store;
//! every ticket state change goes through [`crate::ticket::transition`].
//!
//! - `routes.rs`: the table of endpoints and the router built from it;
//! - `doc.rs`: the OpenAPI document, generated from the handlers and types;
//! - `status.rs`, `users.rs`, `apps.rs`, `tickets.rs`, `reports.rs`: the
//!   handlers, by resource;
//! - `views.rs`: the answers' typed bodies (also the document's schemas);
//! - `request.rs`: the caller, their role, the body, a visible ticket;
//! - `error.rs`: errors as the API answers them.

use std::path::PathBuf;

mod apps;
mod doc;
mod error;
mod reports;
mod request;
mod routes;
mod status;
mod tickets;
mod users;
mod views;

pub(crate) use apps::discover;
pub use doc::ApiDoc;
pub use error::ApiError;
pub use routes::router;
pub use views::ticket_json;

// ---- helpers ---------------------------------------------------------------

/// RFC 3339 UTC from milliseconds since the epoch.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Where a ticket's report files live.
pub fn report_dir(config: &crate::Config, id: i64) -> PathBuf {
    config.ticket_dir(id).join("report")
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_339_200_123), "2026-11-22T09:20:00Z");
    }
}
