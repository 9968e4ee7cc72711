//! The store's row types (users, apps, tickets, audit lines, a new ticket,
//! the extra columns of a transition) and their decoding from SQL rows.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::error::{Error, Result};
use crate::ticket::{Role, TicketState};

/// A user as stored (the token only as its hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Unique name.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// When created (ms).
    pub created_at: i64,
}

/// A registered app, with its secrets (never sent by the API).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppRow {
    /// Unique name.
    pub name: String,
    /// `standalone`, `replicated` or `cluster`.
    pub kind: String,
    /// The address it was registered with (the seed for a cluster).
    pub addr: String,
    /// ACL user for the nodes.
    pub username: Option<String>,
    /// Password for the nodes.
    pub password: Option<String>,
    /// `HH:MM-HH:MM` UTC, or none for any time.
    pub maintenance_window: Option<String>,
    /// Discovered nodes, as JSON (see `registry::Node`).
    pub topology: String,
    /// When the topology was last discovered (ms).
    pub refreshed_at: Option<i64>,
}

/// A ticket as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct TicketRow {
    /// Id.
    pub id: i64,
    /// `analysis`, `hotkeys`, `cleanup`, `migration`.
    pub kind: String,
    /// Lifecycle state.
    pub state: TicketState,
    /// Who filed it.
    pub submitter: String,
    /// The admin who approved or rejected it.
    pub handler: Option<String>,
    /// Parameters as JSON (frozen at submission).
    pub params: String,
    /// `sha256:` of the canonical parameters.
    pub params_hash: String,
    /// Client-supplied idempotency key.
    pub idempotency_key: Option<String>,
    /// Created (ms).
    pub created_at: i64,
    /// Last changed (ms).
    pub updated_at: i64,
    /// Runs started.
    pub attempts: u32,
    /// Progress JSON: `{"percent","phase","counters"}`.
    pub progress: String,
    /// The plan shown to the approver (JSON), if the type makes one.
    pub plan: Option<String>,
    /// Last error.
    pub error: Option<String>,
    /// Result JSON of a finished run.
    pub result: Option<String>,
    /// Where a resumed run starts (JSON), written after every batch.
    pub checkpoint: Option<String>,
    /// Instance running it.
    pub lease_owner: Option<String>,
    /// Lease expiry (ms).
    pub lease_until: Option<i64>,
    /// Nodes it holds while running (JSON array of addresses).
    pub lease_nodes: String,
    /// Not to be started before this time (ms): retry backoff.
    pub not_before: i64,
}

/// One line of a ticket's audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    /// When (ms).
    pub at: i64,
    /// Who.
    pub actor: String,
    /// State before; none for the submission.
    pub from: Option<TicketState>,
    /// State after.
    pub to: TicketState,
    /// Reason, error, note.
    pub note: Option<String>,
}

/// A new ticket.
#[derive(Clone, Debug)]
pub struct NewTicket {
    /// Type.
    pub kind: String,
    /// Submitter's name.
    pub submitter: String,
    /// Canonical JSON parameters.
    pub params: String,
    /// Their hash.
    pub params_hash: String,
    /// Idempotency key.
    pub idempotency_key: Option<String>,
    /// Plan for the approver.
    pub plan: Option<String>,
}

/// Extra columns written with a transition.
#[derive(Clone, Debug, Default)]
pub struct TransitionExtras {
    /// Sets the handler.
    pub handler: Option<String>,
    /// Sets the error (and clears it when the new state is running).
    pub error: Option<String>,
    /// Sets the result.
    pub result: Option<String>,
    /// Lease for a start: owner, expiry, nodes JSON.
    pub lease: Option<(String, i64, String)>,
    /// The run must be held by this instance (for a worker's own changes).
    pub require_owner: Option<String>,
    /// Earliest next start (retry backoff).
    pub not_before: Option<i64>,
}

/// The columns of a [`TicketRow`], in `SELECT` order.
pub(super) const TICKET_COLUMNS: &str = "id, kind, state, submitter, handler, params, params_hash, idempotency_key, created_at, updated_at, attempts, progress, plan, error, result, checkpoint, lease_owner, lease_until, lease_nodes, not_before";

pub(super) fn role_str(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Submitter => "submitter",
    }
}

/// Parses a role name.
pub fn parse_role(s: &str) -> Result<Role> {
    match s {
        "admin" => Ok(Role::Admin),
        "submitter" => Ok(Role::Submitter),
        _ => Err(Error::bad_request(format!(
            "unknown role {s:?} (expected submitter or admin)"
        ))),
    }
}

pub(super) fn state_of(s: &str) -> Result<TicketState> {
    s.parse::<TicketState>().map_err(Error::internal)
}

pub(super) fn ticket_from_row(r: &AnyRow) -> Result<TicketRow> {
    Ok(TicketRow {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        state: state_of(&r.try_get::<String, _>("state")?)?,
        submitter: r.try_get("submitter")?,
        handler: r.try_get("handler")?,
        params: r.try_get("params")?,
        params_hash: r.try_get("params_hash")?,
        idempotency_key: r.try_get("idempotency_key")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        attempts: r.try_get::<i64, _>("attempts")? as u32,
        progress: r.try_get("progress")?,
        plan: r.try_get("plan")?,
        error: r.try_get("error")?,
        result: r.try_get("result")?,
        checkpoint: r.try_get("checkpoint")?,
        lease_owner: r.try_get("lease_owner")?,
        lease_until: r.try_get("lease_until")?,
        lease_nodes: r.try_get("lease_nodes")?,
        not_before: r.try_get("not_before")?,
    })
}

pub(super) fn app_from_row(r: &AnyRow) -> Result<AppRow> {
    Ok(AppRow {
        name: r.try_get("name")?,
        kind: r.try_get("kind")?,
        addr: r.try_get("addr")?,
        username: r.try_get("username")?,
        password: r.try_get("password")?,
        maintenance_window: r.try_get("maintenance_window")?,
        topology: r.try_get("topology")?,
        refreshed_at: r.try_get("refreshed_at")?,
    })
}
