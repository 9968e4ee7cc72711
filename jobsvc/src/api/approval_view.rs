//! Approval records as the API shows them (a ticket's `approvals`).

use serde::Serialize;
use utoipa::ToSchema;

use crate::store::ApprovalRow;
use crate::ticket::{Eligible, SlotState};
use crate::time::rfc3339;

/// One approval record of a ticket.
#[derive(Serialize, ToSchema)]
#[schema(as = Approval, example = json!({
    "id": 3, "round": 1, "slot": 0, "requirement": "team_lead", "approvers": ["carol"],
    "policy": "cleanup-production", "risk": "medium", "state": "approved", "actor": "dave",
    "for_user": "carol", "decided_at": "2026-11-22T07:05:00Z", "note": "approval 1 of 2 by dave for carol",
    "impact_keys": 3000, "impact_bytes": 240000, "current": true
}))]
pub(super) struct ApprovalBody {
    /// Its id (for `/tickets/{id}/approvals/{approval}/…`).
    pub(super) id: i64,
    /// The round: 1 at submission, one more per resubmission or grown plan.
    pub(super) round: i64,
    /// Its place in the round, from 0.
    pub(super) slot: i64,
    /// What the policy asks: `admin`, `team_lead`, `app_approver` or `user:NAME`.
    pub(super) requirement: String,
    /// Who may decide it (or their stand-ins); null: any admin.
    pub(super) approvers: Option<Vec<String>>,
    /// The policy rule that asked for it.
    pub(super) policy: String,
    /// The ticket's risk when the round opened.
    #[schema(value_type = crate::approvals::Risk)]
    pub(super) risk: String,
    /// Where it is.
    #[schema(value_type = SlotState)]
    pub(super) state: &'static str,
    /// Who decided it.
    pub(super) actor: Option<String>,
    /// Whom the actor stood in for ("dave for carol").
    pub(super) for_user: Option<String>,
    /// When decided: RFC 3339, UTC.
    #[schema(format = DateTime)]
    pub(super) decided_at: Option<String>,
    /// The decision's note.
    pub(super) note: Option<String>,
    /// Keys of the plan the approval is bound to.
    pub(super) impact_keys: Option<u64>,
    /// Bytes of the plan the approval is bound to.
    pub(super) impact_bytes: Option<u64>,
    /// Whether it belongs to the last round (earlier rounds are history).
    pub(super) current: bool,
}

impl ApprovalBody {
    /// The stored record `a`; `last` is the ticket's last round.
    pub(super) fn of(a: &ApprovalRow, last: i64) -> ApprovalBody {
        ApprovalBody {
            id: a.id,
            round: a.round,
            slot: a.slot,
            requirement: a.requirement.clone(),
            approvers: match &a.eligible {
                Eligible::AnyAdmin => None,
                Eligible::Users(u) => Some(u.clone()),
            },
            policy: a.policy.clone(),
            risk: a.risk.clone(),
            state: a.state.as_str(),
            actor: a.actor.clone(),
            for_user: a.for_user.clone(),
            decided_at: a.at.map(rfc3339),
            note: a.note.clone(),
            impact_keys: a.impact.map(|i| i.keys),
            impact_bytes: a.impact.map(|i| i.bytes),
            current: a.round == last,
        }
    }
}
