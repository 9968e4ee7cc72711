//! Notification events: their kinds and names, the record stored for each,
//! and the one place that says which stored state change makes which event.

use crate::ticket::TicketState;

/// Something a user may be told about a ticket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotifyEvent {
    /// Filed (state pending).
    Submitted,
    /// These users are asked to approve it.
    NeedsApproval {
        /// Who is asked.
        users: Vec<String>,
    },
    /// Approved (by an admin, or automatically).
    Approved,
    /// Sent back to its submitter for changes, with the approver's note.
    Returned {
        /// What to change.
        note: String,
    },
    /// Rejected, with a reason.
    Rejected,
    /// A worker started it.
    Started,
    /// A running job waits, and why (a fork on the node, a lagging
    /// replica, a closed maintenance window, …).
    Paused {
        /// Why it waits.
        why: String,
    },
    /// Finished well.
    Succeeded,
    /// Failed for good.
    Failed,
    /// Cancelled by its submitter or an admin.
    Cancelled,
    /// Waiting for approval longer than `remind_after_secs`: a reminder to
    /// the approvers.
    ApprovalReminder {
        /// The approvers.
        users: Vec<String>,
    },
    /// Waiting longer than `escalate_after_secs`: to every admin.
    ApprovalEscalation {
        /// Every admin.
        users: Vec<String>,
    },
}

/// Every event kind, as the API, subscriptions and payloads name them.
pub const KINDS: [&str; 12] = [
    "submitted",
    "needs_approval",
    "approved",
    "returned",
    "rejected",
    "started",
    "paused",
    "succeeded",
    "failed",
    "cancelled",
    "approval_reminder",
    "approval_escalation",
];

impl NotifyEvent {
    /// The kind's name (one of [`KINDS`]).
    pub fn kind(&self) -> &'static str {
        match self {
            NotifyEvent::Submitted => "submitted",
            NotifyEvent::NeedsApproval { .. } => "needs_approval",
            NotifyEvent::Approved => "approved",
            NotifyEvent::Returned { .. } => "returned",
            NotifyEvent::Rejected => "rejected",
            NotifyEvent::Started => "started",
            NotifyEvent::Paused { .. } => "paused",
            NotifyEvent::Succeeded => "succeeded",
            NotifyEvent::Failed => "failed",
            NotifyEvent::Cancelled => "cancelled",
            NotifyEvent::ApprovalReminder { .. } => "approval_reminder",
            NotifyEvent::ApprovalEscalation { .. } => "approval_escalation",
        }
    }

    /// The users it is addressed to, when it names them (otherwise it
    /// concerns the ticket's submitter and whoever watches every ticket).
    pub fn users(&self) -> Option<&[String]> {
        match self {
            NotifyEvent::NeedsApproval { users }
            | NotifyEvent::ApprovalReminder { users }
            | NotifyEvent::ApprovalEscalation { users } => Some(users),
            _ => None,
        }
    }

    /// The note the event itself carries (a return's note, a pause's reason).
    pub fn own_note(&self) -> Option<&str> {
        match self {
            NotifyEvent::Returned { note } => (!note.is_empty()).then_some(note.as_str()),
            NotifyEvent::Paused { why } => Some(why),
            _ => None,
        }
    }
}

/// An event as the store keeps it until it is fanned out to deliveries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRecord {
    /// The ticket.
    pub ticket_id: i64,
    /// One of [`KINDS`].
    pub kind: &'static str,
    /// Who caused it (a user, or `scheduler`, `worker`, `notifier`…).
    pub actor: String,
    /// Reason, error, note.
    pub note: Option<String>,
    /// The ticket's state once it happened.
    pub state: TicketState,
    /// Users it is addressed to; none: the submitter's and watchers'.
    pub users: Option<Vec<String>>,
    /// Set for events that must be recorded once only (a reminder per
    /// stage, a pause per attempt and reason): a second one is dropped.
    pub once_key: Option<String>,
}

impl EventRecord {
    /// The record of `event` on ticket `ticket_id`.
    pub fn new(
        ticket_id: i64,
        event: &NotifyEvent,
        actor: &str,
        state: TicketState,
        note: Option<String>,
    ) -> EventRecord {
        EventRecord {
            ticket_id,
            kind: event.kind(),
            actor: actor.to_string(),
            note: event.own_note().map(str::to_string).or(note),
            state,
            users: event.users().map(<[String]>::to_vec),
            once_key: None,
        }
    }
}

/// The event a stored state change makes, if any: the one derivation of
/// state-change events (`Store::apply` and the filing call it). A retry
/// (running → approved) makes none; its next start makes `started`.
pub fn of_change(from: Option<TicketState>, to: TicketState) -> Option<NotifyEvent> {
    use TicketState::*;
    Some(match (from, to) {
        (None, Pending) => NotifyEvent::Submitted,
        (Some(Pending), Approved) => NotifyEvent::Approved,
        // Sent back for changes: the approver's note rides on the record.
        (Some(Pending), Returned) => NotifyEvent::Returned {
            note: String::new(),
        },
        // Amended and resubmitted: filed anew (its approvers are asked by
        // `approvals::approval_due`).
        (Some(Returned), Pending) => NotifyEvent::Submitted,
        (_, Rejected) => NotifyEvent::Rejected,
        (Some(Approved), Running) => NotifyEvent::Started,
        (_, Succeeded) => NotifyEvent::Succeeded,
        (_, Failed) => NotifyEvent::Failed,
        (_, Cancelled) => NotifyEvent::Cancelled,
        _ => return None,
    })
}

/// What kind of reason a pause has, so that a job paused again and again
/// for the same cause tells it once per attempt.
pub fn pause_class(why: &str) -> &'static str {
    if why.contains("fork") {
        "fork"
    } else if why.contains("lags") {
        "replica-lag"
    } else if why.contains("window") {
        "window"
    } else {
        "other"
    }
}

/// Checks a list of event kinds (`*`: every kind).
pub fn check_kinds(kinds: &[String]) -> Result<(), String> {
    for k in kinds {
        if k != "*" && !KINDS.contains(&k.as_str()) {
            return Err(format!(
                "unknown event {k:?} (expected * or one of {})",
                KINDS.join(", ")
            ));
        }
    }
    Ok(())
}

/// Whether a list of kinds (`*`: all) takes `kind`.
pub fn takes(kinds: &[String], kind: &str) -> bool {
    kinds.iter().any(|k| k == "*" || k == kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use TicketState::*;

    #[test]
    fn every_change_of_a_ticket_life_makes_its_event() {
        let kind = |f, t| of_change(f, t).map(|e| e.kind());
        assert_eq!(kind(None, Pending), Some("submitted"));
        assert_eq!(kind(Some(Pending), Approved), Some("approved"));
        assert_eq!(kind(Some(Pending), Rejected), Some("rejected"));
        assert_eq!(kind(Some(Approved), Running), Some("started"));
        assert_eq!(kind(Some(Running), Succeeded), Some("succeeded"));
        assert_eq!(kind(Some(Running), Failed), Some("failed"));
        assert_eq!(kind(Some(Approved), Cancelled), Some("cancelled"));
        assert_eq!(kind(Some(Running), Approved), None, "a retry is quiet");
        for k in KINDS {
            assert!(takes(&["*".into()], k));
        }
        assert!(check_kinds(&["approved".into(), "*".into()]).is_ok());
        assert!(check_kinds(&["aproved".into()]).is_err());
        let paused = EventRecord::new(
            3,
            &NotifyEvent::Paused { why: "fork".into() },
            "worker",
            Running,
            None,
        );
        assert_eq!(
            (paused.kind, paused.note.as_deref(), paused.users),
            ("paused", Some("fork"), None)
        );
        let ask = NotifyEvent::NeedsApproval {
            users: vec!["bob".into()],
        };
        assert_eq!(ask.users(), Some(&["bob".to_string()][..]));
    }
}
