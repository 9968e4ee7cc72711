//! The store: users, apps, tickets, their audit trail, leases and
//! checkpoints, in one SQL schema that runs on SQLite (the embedded default)
//! and PostgreSQL (several service instances sharing one queue).
//!
//! Every state change goes through [`Store::apply`], which stores the
//! result of [`crate::ticket::transition`] with a compare-and-set on the old
//! state and writes the audit row in the same transaction, so two instances
//! can never both apply a change and no change goes unrecorded.
//!
//! The SQL is shared by both databases (sqlx's `any` driver, `$n`
//! placeholders); what differs lives in [`Backend`] (the URL, SQLite's one
//! writer connection beside its read-only connections, and pragmas), the schema files under `migrations/`, and the
//! claim's `SKIP LOCKED` and advisory lock in `queue.rs`.
//!
//! - `backend.rs`: which database, and its connection settings;
//! - `handle.rs`: the [`Store`] handle: opening, the clock, URL redaction;
//!   its `pool` takes every write, transaction and read (jobs, scheduler,
//!   leases and the API's read-modify-writes);
//! - `lookup.rs`: [`Lookup`], the approval flows' reads of owners, teams,
//!   users, stand-ins and policies, from the writer or the readers;
//! - `read_view.rs`: [`ReadView`], the API's plain reads, on SQLite served
//!   by read-only connections (see `backend.rs`);
//! - `user_cache.rs`: who holds a token, remembered for two seconds;
//! - `migrations/`: the schema per database and its version check;
//! - `rows.rs`: the row types and their decoding;
//! - `users.rs`, `apps.rs`: users and tokens, registered apps;
//! - `listing.rs`: tickets by filter, a page at a time, and their counts;
//! - `group.rs`: group commit of the API's writes (filings, decisions):
//!   those waiting at once share one transaction, each answered alone;
//! - `trail.rs`: a change's audit rows and events, many to a statement;
//! - `filing.rs`: filing a ticket with its first round of approvals, in
//!   one transaction (a group's);
//! - `tickets.rs`: reading and listing tickets, their audit trail,
//!   and [`Store::apply`];
//! - `queue.rs`: claims, leases, progress and checkpoints of running tickets;
//! - `teams.rs`: teams, members, and who owns an app;
//! - `approvals.rs`: approval records in rounds, stand-ins, stored policies.
//! - `schedules.rs`: recurring analyses, their firing and runs, `run_at`;
//! - `stats.rs`: the per-ticket facts the statistics are computed from.
//! - `outbox.rs`: notification events (recorded with the change that makes
//!   them), their deliveries and the channels' health;
//! - `subscriptions.rs`: notification channels added through the API, and
//!   subscriptions.

mod approvals;
mod apps;
mod backend;
mod filing;
mod group;
mod handle;
mod listing;
mod lookup;
mod migrations;
mod outbox;
mod queue;
mod read_view;
mod rows;
mod schedules;
mod stats;
mod subscriptions;
mod teams;
#[cfg(test)]
mod test_stores;
mod tickets;
mod trail;
mod user_cache;
mod users;

pub use approvals::{ApprovalRow, Delegate, NewRound};
pub use backend::Backend;
pub use filing::FirstRound;
pub use handle::{now_ms, redact, Store};
pub use listing::{TicketCounts, TicketQuery};
pub use lookup::Lookup;
pub use outbox::{ChannelHealth, Claimed, DeliveryQuery, DeliveryRow, EventRow};
pub use queue::ClaimPolicy;
pub use read_view::ReadView;
pub use rows::{parse_role, AppRow, AuditRow, NewTicket, TicketRow, TransitionExtras, User};
pub use schedules::{RunRow, ScheduleRow};
pub use stats::TicketFacts;
pub use subscriptions::{StoredChannel, SubscriptionRow};
pub use teams::{Ownership, Team};
