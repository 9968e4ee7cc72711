//! The HTTP JSON API (see `jobsvc/API.md` and `/openapi.json`). Handlers
//! check the caller, parse and validate the request, then call the store;
//! every ticket state change goes through [`crate::ticket::transition`].
//!
//! - `routes.rs`: the table of endpoints and the router built from it;
//! - `doc.rs`: the OpenAPI document, generated from the handlers and types;
//! - `status.rs`, `users.rs`, `apps.rs`, `tickets.rs`, `reports.rs`: the
//!   handlers, by resource; `listing.rs`: the paged ticket list and the
//!   summary of counts; `preview.rs`: a ticket's plan before submission;
//!   `report_view.rs`: one-use links that show a report page in a frame;
//! - `teams.rs`: teams and app ownership; `approvals.rs`: decisions on
//!   approval records, amend and resubmit; `policies.rs`: approval
//!   policies and stand-ins; `approval_view.rs`: an approval record's body;
//! - `schedules.rs`: recurring analyses; `stats.rs`: ticket statistics;
//!   `run_at.rs`: moving when a waiting ticket runs;
//! - `notify_channels.rs`: notification channels and the outbox of
//!   deliveries; `subscriptions.rs`: who is told what, where;
//! - `views.rs`: the answers' typed bodies (also the document's schemas);
//! - `request.rs`: the caller, their role, the body and the query (as
//!   extractors), a visible ticket;
//! - `error.rs`: errors as the API answers them;
//! - `body_check.rs`: every JSON body parsed, written back and parsed
//!   again, for the fuzz target in `jobsvc/fuzz`.

mod approval_view;
mod approvals;
mod apps;
mod body_check;
mod doc;
mod error;
mod guard;
mod listing;
mod notify_channels;
mod policies;
mod preview;
mod report_view;
mod reports;
mod request;
mod rollback;
mod routes;
mod run_at;
mod schedules;
mod stats;
mod status;
mod subscriptions;
mod teams;
mod tickets;
mod users;
mod views;

pub use body_check::{check_body, BODIES};
pub use doc::ApiDoc;
pub use error::ApiError;
pub use routes::router;
pub use views::ticket_json;
