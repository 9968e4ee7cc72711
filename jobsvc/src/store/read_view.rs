//! The API's read-only view of the store: the plain reads it answers
//! requests with (tickets, their audit and approvals, listings and counts,
//! the caller's token), served on SQLite by read-only connections that never
//! wait for the writer.
//!
//! A [`ReadView`] only reads, and a job, the scheduler and the lease code
//! never hold one: they read through the [`Store`], whose reads all go to the
//! writer, so a run always resumes from its own last checkpoint and lease.
//! A read here sees every write committed before it began (SQLite's WAL).

use super::approvals::ApprovalRow;
use super::handle::Store;
use super::listing::{TicketCounts, TicketQuery};
use super::lookup::Lookup;
use super::rows::{AppRow, AuditRow, TicketRow, User};
use super::stats::TicketFacts;
use crate::error::Result;

/// The API's plain reads (cheap to clone); see the module's doc.
#[derive(Clone, Debug)]
pub struct ReadView {
    /// A store whose `read` pool is the read-only connections.
    store: Store,
}

impl Store {
    /// The API's view for plain reads: on SQLite served by the read-only
    /// connections, which never wait for the writer.
    pub fn read_view(&self) -> ReadView {
        ReadView {
            store: Store {
                read: self.readers.clone(),
                ..self.clone()
            },
        }
    }
}

impl ReadView {
    /// Its lookups of owners, teams, users and policies, from the readers.
    pub fn lookup(&self) -> Lookup<'_> {
        Lookup { store: &self.store }
    }
}

/// Forwards each listed read to the wrapped store (same name, same doc).
macro_rules! reads {
    ($($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        impl ReadView {
            $(
                $(#[$doc])*
                pub async fn $name(&self, $($arg: $ty),*) -> Result<$ret> {
                    self.store.$name($($arg),*).await
                }
            )*
        }
    };
}

reads! {
    /// Who holds a token (by its hash).
    fn user_by_token_hash(hash: &str) -> Option<User>;
    /// One user by name.
    fn user(name: &str) -> User;
    /// How many users there are.
    fn count_users() -> i64;
    /// The ticket a submitter filed with an idempotency key.
    fn ticket_by_key(submitter: &str, key: &str) -> Option<TicketRow>;
    /// One ticket.
    fn get_ticket(id: i64) -> Option<TicketRow>;
    /// Tickets by filter, a page at a time, with the total.
    fn page_tickets(q: &TicketQuery) -> (Vec<TicketRow>, i64);
    /// Tickets by state and type (of one submitter, or all).
    fn ticket_counts(submitter: Option<&str>) -> TicketCounts;
    /// How many tickets wait for an admin's decision.
    fn waiting_for(admin: &str, self_approval: bool) -> i64;
    /// Tickets per state.
    fn count_by_state() -> Vec<(String, i64)>;
    /// A ticket's audit trail, oldest first.
    fn audit(id: i64) -> Vec<AuditRow>;
    /// Every approval record of a ticket.
    fn approvals(ticket: i64) -> Vec<ApprovalRow>;
    /// The records of a ticket's last round, in slot order.
    fn current_round(ticket: i64) -> Vec<ApprovalRow>;
    /// The pending records of pending tickets.
    fn pending_approvals() -> Vec<ApprovalRow>;
    /// The per-ticket facts the statistics are computed from.
    fn ticket_facts(from: i64, to: i64) -> Vec<TicketFacts>;
    /// One registered app.
    fn get_app(name: &str) -> Option<AppRow>;
    /// Every registered app.
    fn list_apps() -> Vec<AppRow>;
}
