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
//! - `notify_channels.rs`: notification channels and the outbox of
//!   deliveries; `subscriptions.rs`: who is told what, where;
//! - `views.rs`: the answers' typed bodies (also the document's schemas);
//! - `request.rs`: the caller, their role, the body, a visible ticket;
//! - `error.rs`: errors as the API answers them.

mod apps;
mod doc;
mod error;
mod guard;
mod listing;
mod notify_channels;
mod preview;
mod report_view;
mod reports;
mod request;
mod routes;
mod status;
mod subscriptions;
mod tickets;
mod users;
mod views;

pub use doc::ApiDoc;
pub use error::ApiError;
pub use routes::router;
pub use views::ticket_json;
