//! What the API answers, as typed bodies: they are serialized into the
//! answers and they are the schemas of the OpenAPI document, so the two
//! cannot drift apart.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::request::role_name;
use crate::jobs::cleanup::CleanupParams;
use crate::jobs::migrate::MigrationParams;
use crate::jobs::restore::RestoreParams;
use crate::params::{AnalysisParams, HotkeysParams};
use crate::registry::{AppKind, Node};
use crate::store::{AppRow, AuditRow, TicketRow, User};
use crate::ticket::{Role, TicketState};
use crate::time::rfc3339;

/// A body as a JSON value: the answers are written from values, so their
/// fields come out in the same (sorted) order as before the typed bodies.
pub(super) fn to_json<T: Serialize>(body: &T) -> Value {
    serde_json::to_value(body).unwrap_or(Value::Null)
}

fn parse_json(text: &Option<String>) -> Value {
    text.as_deref()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

/// The ticket types.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // documentation only: the API takes the type as a string
pub(super) enum TicketType {
    /// Fetch an RDB from a live app (or read a file) and analyze it.
    Analysis,
    /// Sample an app's hottest keys.
    Hotkeys,
    /// Delete or expire keys by pattern.
    Cleanup,
    /// Copy keys from an app or an RDB file to an app.
    Migration,
    /// Put a cleanup's backup back.
    Restore,
}

/// A ticket's parameters: those of its type (unknown fields are refused).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // documentation only: parameters are parsed per type
pub(super) enum TicketParams {
    /// `analysis`.
    Analysis(AnalysisParams),
    /// `hotkeys`.
    Hotkeys(HotkeysParams),
    /// `cleanup`.
    Cleanup(CleanupParams),
    /// `migration`.
    Migration(MigrationParams),
    /// `restore`.
    Restore(RestoreParams),
}

/// How far a ticket's run is.
#[derive(ToSchema)]
#[schema(example = json!({"percent": 42.0, "phase": "fetching", "counters": {"bytes": 123456}}))]
#[allow(dead_code)] // documentation only: the worker writes it as JSON
pub(super) struct Progress {
    /// Percent done, 0 to 100.
    #[schema(minimum = 0, maximum = 100)]
    pub(super) percent: f64,
    /// `waiting`, `fetching`, `analyzing`, `done`, ….
    #[schema(example = "fetching")]
    pub(super) phase: String,
    /// Counters of the run (bytes, keys, …).
    pub(super) counters: BTreeMap<String, f64>,
}

/// `GET /healthz`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "ok", "store": "sqlite"}))]
pub(super) struct Health {
    /// Always `ok`.
    #[schema(value_type = String, example = "ok")]
    pub(super) status: &'static str,
    /// The store in use: `sqlite` or `postgres`.
    #[schema(value_type = String, example = "sqlite")]
    pub(super) store: &'static str,
}

/// The caller.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"name": "alice", "role": "submitter"}))]
pub(super) struct Me {
    /// Their name.
    pub(super) name: String,
    /// Their role.
    #[schema(value_type = Role)]
    pub(super) role: &'static str,
}

impl Me {
    /// The caller `u`.
    pub(super) fn of(u: &User) -> Me {
        Me {
            name: u.name.clone(),
            role: role_name(u.role),
        }
    }
}

/// A user just created, with their token.
#[derive(Serialize, ToSchema)]
pub(super) struct CreatedUser {
    /// Their name.
    pub(super) name: String,
    /// Their role.
    #[schema(value_type = Role)]
    pub(super) role: &'static str,
    /// Shown this once; stored hashed.
    #[schema(pattern = "^rdbs_")]
    pub(super) token: String,
}

/// A user.
#[derive(Serialize, ToSchema)]
#[schema(as = User)]
pub(super) struct UserBody {
    /// Their name.
    pub(super) name: String,
    /// Their role.
    #[schema(value_type = Role)]
    pub(super) role: &'static str,
    /// When created: RFC 3339, UTC (`2026-11-22T07:00:00Z`).
    #[schema(format = DateTime, example = "2026-11-22T07:00:00Z")]
    pub(super) created_at: String,
}

impl UserBody {
    /// The stored user `u`.
    pub(super) fn of(u: &User) -> UserBody {
        UserBody {
            name: u.name.clone(),
            role: role_name(u.role),
            created_at: rfc3339(u.created_at),
        }
    }
}

/// An app as the API shows it (never its password).
#[derive(Serialize, ToSchema)]
#[schema(as = App)]
pub(super) struct AppBody {
    /// Its name.
    pub(super) name: String,
    /// How it is deployed.
    #[schema(value_type = AppKind)]
    pub(super) kind: String,
    /// The address it was registered with (a cluster: the seed).
    pub(super) addr: String,
    /// ACL user for AUTH (null: the default user).
    pub(super) user: Option<String>,
    /// Whether a password is stored.
    pub(super) has_password: bool,
    /// `HH:MM-HH:MM` in UTC (may wrap midnight), or null for any time.
    /// Heavy jobs on the app wait for it.
    #[schema(example = "01:00-05:00")]
    pub(super) maintenance_window: Option<String>,
    /// Its nodes as last discovered.
    #[schema(value_type = Vec<Node>)]
    pub(super) nodes: Value,
    /// When the nodes were last discovered: RFC 3339, UTC.
    #[schema(format = DateTime, example = "2026-11-22T07:00:00Z")]
    pub(super) refreshed_at: Option<String>,
}

/// An app as the API shows it.
pub(super) fn app_json(a: &AppRow) -> Value {
    to_json(&AppBody {
        name: a.name.clone(),
        kind: a.kind.clone(),
        addr: a.addr.clone(),
        user: a.username.clone(),
        has_password: a.password.is_some(),
        maintenance_window: a.maintenance_window.clone(),
        nodes: serde_json::from_str::<Value>(&a.topology).unwrap_or(Value::Null),
        refreshed_at: a.refreshed_at.map(rfc3339),
    })
}

/// A ticket as the API shows it.
#[derive(Serialize, ToSchema)]
#[schema(as = Ticket, example = json!({
    "id": 7, "type": "analysis", "state": "running", "submitter": "alice", "handler": "bob",
    "params": {"app": "shop"},
    "params_hash": "sha256:0000000000000000000000000000000000000000000000000000000000000000",
    "idempotency_key": null,
    "created_at": "2026-11-22T07:00:00Z", "updated_at": "2026-11-22T07:01:00Z", "attempts": 1,
    "progress": {"percent": 42.0, "phase": "fetching", "counters": {"bytes": 123456}},
    "plan": null, "error": null, "result": null
}))]
pub(super) struct TicketBody {
    /// Its id.
    #[schema(minimum = 1)]
    pub(super) id: i64,
    /// Its type.
    #[serde(rename = "type")]
    #[schema(value_type = TicketType)]
    pub(super) kind: String,
    /// Where it is in its life.
    #[schema(value_type = TicketState)]
    pub(super) state: &'static str,
    /// Who filed it.
    pub(super) submitter: String,
    /// The admin who approved or rejected it, or `auto` when the
    /// configuration auto-approves the type.
    pub(super) handler: Option<String>,
    /// The parameters in canonical form (every default filled in); frozen
    /// once approved.
    #[schema(value_type = TicketParams)]
    pub(super) params: Value,
    /// `sha256:` of the canonical parameters.
    #[schema(pattern = "^sha256:[0-9a-f]{64}$")]
    pub(super) params_hash: String,
    /// The idempotency key it was submitted with.
    pub(super) idempotency_key: Option<String>,
    /// When filed: RFC 3339, UTC (`2026-11-22T07:00:00Z`).
    #[schema(format = DateTime, example = "2026-11-22T07:00:00Z")]
    pub(super) created_at: String,
    /// When last changed: RFC 3339, UTC.
    #[schema(format = DateTime, example = "2026-11-22T07:00:00Z")]
    pub(super) updated_at: String,
    /// Runs started.
    pub(super) attempts: u32,
    /// How far its run is.
    #[schema(value_type = Option<Progress>)]
    pub(super) progress: Value,
    /// What the job will do and what it costs, for the approver (e.g. the
    /// node an RDB is read from).
    #[schema(value_type = Option<Object>)]
    pub(super) plan: Value,
    /// The last error.
    pub(super) error: Option<String>,
    /// When succeeded: what the run found or did (for `analysis`, the
    /// keys, bytes, sources and report files).
    #[schema(value_type = Option<Object>)]
    pub(super) result: Value,
    /// The risk computed from the plan (`low`, `medium`, `high`, `critical`).
    #[schema(value_type = Option<crate::approvals::Risk>)]
    pub(super) risk: Option<String>,
    /// Its approval records, every round (in `GET /tickets/{id}` and the
    /// answers of the approval endpoints; absent from lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<super::approval_view::ApprovalBody>>)]
    pub(super) approvals: Option<Value>,
    /// Not to start before this time (its `run_at`, or a retry's backoff):
    /// RFC 3339, UTC; null when it may start at once or has started. The
    /// app's maintenance window may delay it further.
    #[schema(format = DateTime)]
    pub(super) run_at: Option<String>,
}

/// A ticket as the API shows it.
pub fn ticket_json(t: &TicketRow) -> Value {
    to_json(&TicketBody {
        id: t.id,
        kind: t.kind.clone(),
        state: t.state.as_str(),
        submitter: t.submitter.clone(),
        handler: t.handler.clone(),
        params: serde_json::from_str::<Value>(&t.params).unwrap_or(Value::Null),
        params_hash: t.params_hash.clone(),
        idempotency_key: t.idempotency_key.clone(),
        created_at: rfc3339(t.created_at),
        updated_at: rfc3339(t.updated_at),
        attempts: t.attempts,
        progress: serde_json::from_str::<Value>(&t.progress).unwrap_or(Value::Null),
        plan: parse_json(&t.plan),
        error: t.error.clone(),
        result: parse_json(&t.result),
        risk: parse_json(&t.plan)["risk"].as_str().map(str::to_string),
        approvals: None,
        run_at: (t.not_before > crate::store::now_ms()
            && matches!(t.state, TicketState::Pending | TicketState::Approved))
        .then(|| rfc3339(t.not_before)),
    })
}

/// One line of a ticket's audit trail.
#[derive(Serialize, ToSchema)]
pub(super) struct AuditEntry {
    /// When: RFC 3339, UTC.
    #[schema(format = DateTime, example = "2026-11-22T07:00:00Z")]
    pub(super) at: String,
    /// A user, or `scheduler`, `worker`, `auto`.
    pub(super) actor: String,
    /// The state before; null for the submission.
    #[schema(value_type = Option<TicketState>)]
    pub(super) from: Option<&'static str>,
    /// The state after.
    #[schema(value_type = TicketState)]
    pub(super) to: &'static str,
    /// Reason, error, note.
    pub(super) note: Option<String>,
}

impl AuditEntry {
    /// The stored audit line `a`.
    pub(super) fn of(a: &AuditRow) -> AuditEntry {
        AuditEntry {
            at: rfc3339(a.at),
            actor: a.actor.clone(),
            from: a.from.map(|s| s.as_str()),
            to: a.to.as_str(),
            note: a.note.clone(),
        }
    }
}

/// One report file of a ticket.
#[derive(Serialize, ToSchema)]
pub(super) struct ReportFile {
    /// Its name, a relative path.
    #[schema(example = "keys.parquet")]
    pub(super) name: String,
    /// Its size.
    pub(super) bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_types_are_the_parsed_ones() {
        let doc = serde_json::to_value(<TicketType as utoipa::PartialSchema>::schema()).unwrap();
        let names: Vec<&str> = doc["enum"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert_eq!(names, crate::params::TYPES);
    }
}
