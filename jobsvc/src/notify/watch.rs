//! Events no state change makes: a ticket waiting for approval too long (a
//! reminder to its approvers after `remind_after_secs`, then every admin
//! after `escalate_after_secs`, each once per ticket and waiting stage), and
//! an approved ticket held by its app's closed maintenance window.

use super::emit::emit_once;
use super::event::NotifyEvent;
use crate::error::Result;
use crate::jobs::ticket_nodes;
use crate::registry::Window;
use crate::slots::{Eligible, SlotState};
use crate::state::ServiceState;
use crate::store::now_ms;
use crate::ticket::{Role, TicketState};

/// Records the reminders, escalations and window pauses due now.
pub(super) async fn watch(state: &ServiceState) -> Result<()> {
    let cfg = &state.config.notify;
    let now = now_ms();
    if cfg.remind_after_secs > 0 || cfg.escalate_after_secs > 0 {
        let pending = state
            .store
            .list_tickets(None, Some(TicketState::Pending), None, 10_000)
            .await?;
        if !pending.is_empty() {
            let admins: Vec<String> = state
                .store
                .list_users()
                .await?
                .into_iter()
                .filter(|u| u.role == Role::Admin)
                .map(|u| u.name)
                .collect();
            for t in pending {
                // Its approvers: those who may fill the current round's
                // pending approval records (none open: every admin).
                let open: Vec<(String, Eligible)> = state
                    .store
                    .current_round(t.id)
                    .await?
                    .into_iter()
                    .filter(|a| a.state == SlotState::Pending)
                    .map(|a| (a.requirement, a.eligible))
                    .collect();
                let asked = if open.is_empty() {
                    admins
                        .iter()
                        .filter(|a| **a != t.submitter)
                        .cloned()
                        .collect()
                } else {
                    crate::approvals::approvers(state.store.lookup(), &t.submitter, &open).await?
                };
                // The stage: when it last entered pending (a ticket
                // returned and resubmitted waits anew).
                let waited = now - t.updated_at;
                if cfg.remind_after_secs > 0 && waited >= (cfg.remind_after_secs * 1000) as i64 {
                    let e = NotifyEvent::ApprovalReminder { users: asked };
                    let key = format!("remind:{}:{}", t.id, t.updated_at);
                    emit_once(state, t.id, t.state, "notifier", &e, key).await?;
                }
                if cfg.escalate_after_secs > 0 && waited >= (cfg.escalate_after_secs * 1000) as i64
                {
                    let e = NotifyEvent::ApprovalEscalation {
                        users: admins.clone(),
                    };
                    let key = format!("escalate:{}:{}", t.id, t.updated_at);
                    emit_once(state, t.id, t.state, "notifier", &e, key).await?;
                }
            }
        }
    }
    let approved = state
        .store
        .list_tickets(None, Some(TicketState::Approved), None, 10_000)
        .await?;
    if approved.is_empty() {
        return Ok(());
    }
    let apps = state.store.list_apps().await?;
    for t in approved {
        let Some((Some(app), _)) = ticket_nodes(&t, &apps) else {
            continue;
        };
        let Some(w) = app.maintenance_window.as_deref() else {
            continue;
        };
        if Window::parse(w).is_ok_and(|win| !win.is_open(now)) {
            let e = NotifyEvent::Paused {
                why: format!(
                    "waiting for the maintenance window {w} (UTC) of app {}",
                    app.name
                ),
            };
            let key = format!("paused:{}:{}:window", t.id, t.attempts);
            emit_once(state, t.id, t.state, "scheduler", &e, key).await?;
        }
    }
    Ok(())
}
