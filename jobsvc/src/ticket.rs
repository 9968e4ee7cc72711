//! Tickets and their lifecycle: the one place that decides which state
//! changes are allowed, by whom, and what the audit log records.
//!
//! ```text
//! pending ──approve──▶ approved ──start──▶ running ──succeed──▶ succeeded
//!  ▲ │ ▲                  │                  │ ├──fail──────────▶ failed
//!  │ │ └─impact grew──────┼──────────────────┤ └──retry─────────▶ approved (attempts left)
//!  │ ├──reject──▶ rejected (reason required)  │
//!  │ ├──return──▶ returned ──amend──▶ returned │
//!  │ │               └──resubmit──┐           │
//!  └─┼───────────────────────────-┘           │
//!    └──cancel──▶ cancelled ◀──cancel─────────┴── (running: finishes the batch, then stops)
//! ```
//!
//! A pending ticket holds one approval record per slot its policy asks
//! for ([`Slot`]); [`Event::Decide`] fills one: an approval keeps it pending
//! until every slot is approved, a return sends it back to its submitter, a
//! rejection ends it. Nobody approves their own ticket, and one person
//! (as themselves or as a stand-in) counts once per round.
//!
//! Which service moves a ticket out of each state: submitters and admins
//! through the API (pending, approved), the scheduler (approved → running,
//! retries), the worker (running → a final state), and the rescuer for a
//! running ticket whose lease expired (running → approved for a retry).

use std::fmt;
use std::str::FromStr;

pub use crate::slots::{Decision, Eligible, Impact, Slot, SlotDecision, SlotState};

/// Where a ticket is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum TicketState {
    /// Submitted, waiting for an admin (待审).
    Pending,
    /// Approved, waiting for the scheduler (and its maintenance window).
    Approved,
    /// A worker holds its lease and runs it (处理中).
    Running,
    /// Finished well (通过).
    Succeeded,
    /// Finished with an error that retrying will not fix, or out of attempts.
    Failed,
    /// Stopped by its submitter or an admin.
    Cancelled,
    /// Refused by an admin, with a reason (驳回).
    Rejected,
    /// Sent back to its submitter for changes, with a note (退回): they
    /// amend the parameters and resubmit it.
    Returned,
}

impl TicketState {
    /// Every state.
    pub const ALL: [TicketState; 8] = [
        TicketState::Pending,
        TicketState::Approved,
        TicketState::Running,
        TicketState::Succeeded,
        TicketState::Failed,
        TicketState::Cancelled,
        TicketState::Rejected,
        TicketState::Returned,
    ];

    /// The name used in the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::Pending => "pending",
            TicketState::Approved => "approved",
            TicketState::Running => "running",
            TicketState::Succeeded => "succeeded",
            TicketState::Failed => "failed",
            TicketState::Cancelled => "cancelled",
            TicketState::Rejected => "rejected",
            TicketState::Returned => "returned",
        }
    }

    /// No transition leaves a final state.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TicketState::Succeeded
                | TicketState::Failed
                | TicketState::Cancelled
                | TicketState::Rejected
        )
    }
}

impl fmt::Display for TicketState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TicketState {
    type Err = String;
    fn from_str(s: &str) -> Result<TicketState, String> {
        TicketState::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown ticket state {s:?}"))
    }
}

/// What a user may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Role {
    /// Files tickets, sees and cancels their own.
    Submitter,
    /// Sees all tickets, approves, rejects, manages nodes and users.
    Admin,
}

/// Who asks for a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A user of the API.
    User {
        /// User name.
        name: String,
        /// Their role.
        role: Role,
    },
    /// The service itself (scheduler, worker, rescuer, auto-approval).
    System(&'static str),
}

impl Actor {
    /// A user.
    pub fn user(name: &str, role: Role) -> Actor {
        Actor::User {
            name: name.to_string(),
            role,
        }
    }

    /// Name for the audit log.
    pub fn name(&self) -> &str {
        match self {
            Actor::User { name, .. } => name,
            Actor::System(s) => s,
        }
    }

    fn is_admin(&self) -> bool {
        matches!(
            self,
            Actor::User {
                role: Role::Admin,
                ..
            }
        )
    }
}

/// Something that happens to a ticket.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// An admin approves (or the config auto-approves analysis tickets).
    Approve,
    /// An admin rejects, saying why.
    Reject {
        /// Why (required, not blank).
        reason: String,
    },
    /// The scheduler hands it to a worker.
    Start,
    /// The worker finished it.
    Succeed,
    /// The worker failed. `retryable` errors (connection refused, LOADING,
    /// timeouts) go back to approved while attempts remain.
    Fail {
        /// What went wrong.
        error: String,
        /// Whether trying again may help.
        retryable: bool,
    },
    /// The submitter or an admin cancels. A running job stops at its next
    /// batch boundary; its checkpoint stays for the record.
    Cancel,
    /// The rescuer found a running ticket whose worker's lease expired.
    LeaseExpired,
    /// A user decides on one approval record (`slot`, an index into
    /// `slots`, the current round's records in order).
    Decide {
        /// Which record.
        slot: usize,
        /// Approve, return or reject.
        decision: Decision,
        /// The approver's note (required to return or reject).
        note: Option<String>,
        /// The current round's records.
        slots: Vec<Slot>,
        /// The users (with their roles) the actor stands in for now.
        stands_in_for: Vec<(String, Role)>,
    },
    /// The submitter (or an admin) changed a returned ticket's parameters.
    Amend {
        /// `sha256:` of the parameters before.
        old_hash: String,
        /// `sha256:` of the parameters after.
        new_hash: String,
    },
    /// The submitter (or an admin) sends a returned ticket to approval again.
    Resubmit,
    /// The plan made when the job started shows more impact than was
    /// approved, beyond the margin: back to approval instead of running.
    ImpactGrew {
        /// What the approvers saw.
        approved: Impact,
        /// What the plan shows now.
        now: Impact,
        /// The margin (0.2 = 20 %).
        margin: f64,
    },
}

/// Rules that depend on configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// May an admin approve a ticket they submitted themselves?
    pub allow_self_approval: bool,
    /// Attempts before a retryable failure becomes final.
    pub max_attempts: u32,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            allow_self_approval: false,
            max_attempts: 3,
        }
    }
}

/// What the transition function needs to know about a ticket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketView<'a> {
    /// Current state.
    pub state: TicketState,
    /// Who submitted it.
    pub submitter: &'a str,
    /// Attempts started so far.
    pub attempts: u32,
}

/// A refused change, as the API reports it (a 4xx with this message).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransitionError {
    /// The actor may not do this (403).
    Forbidden(String),
    /// Not possible from this state, or a required field is missing (409/400).
    Invalid(String),
}

impl fmt::Display for TransitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransitionError::Forbidden(m) | TransitionError::Invalid(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for TransitionError {}

/// An accepted change: the new state and the audit record to store with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// State before.
    pub from: TicketState,
    /// State after.
    pub to: TicketState,
    /// Who did it.
    pub actor: String,
    /// Reason, error or other note.
    pub note: Option<String>,
    /// Attempts after the change (starting a run counts one).
    pub attempts: u32,
    /// For [`Event::Decide`]: what happens to the approval record.
    pub slot: Option<SlotDecision>,
}

/// The one function that owns the rules. It changes nothing: the caller
/// stores the new state and the audit record in one transaction (and with
/// a compare-and-set on `from`, so two instances cannot both apply a change).
pub fn transition(
    ticket: &TicketView<'_>,
    event: &Event,
    actor: &Actor,
    policy: &Policy,
) -> Result<Transition, TransitionError> {
    use TicketState::*;
    let from = ticket.state;
    let invalid = |what: &str| {
        Err(TransitionError::Invalid(format!(
            "cannot {what} a ticket that is {from}"
        )))
    };
    let ok = |to: TicketState, note: Option<String>, attempts: u32| {
        Ok(Transition {
            from,
            to,
            actor: actor.name().to_string(),
            note,
            attempts,
            slot: None,
        })
    };
    let system_only = |what: &str| -> Result<(), TransitionError> {
        match actor {
            Actor::System(_) => Ok(()),
            Actor::User { .. } => Err(TransitionError::Forbidden(format!(
                "only the service can {what} a ticket"
            ))),
        }
    };
    match event {
        Event::Approve => {
            if from != Pending {
                return invalid("approve");
            }
            match actor {
                Actor::System(_) => ok(
                    Approved,
                    Some("auto-approved by configuration".into()),
                    ticket.attempts,
                ),
                Actor::User {
                    role: Role::Submitter,
                    ..
                } => Err(TransitionError::Forbidden(
                    "a submitter cannot approve tickets".into(),
                )),
                Actor::User {
                    name,
                    role: Role::Admin,
                } => {
                    if name == ticket.submitter && !policy.allow_self_approval {
                        return Err(TransitionError::Forbidden(
                            "an admin cannot approve their own ticket (allow_self_approval is off)"
                                .into(),
                        ));
                    }
                    ok(Approved, None, ticket.attempts)
                }
            }
        }
        Event::Reject { reason } => {
            if !actor.is_admin() {
                return Err(TransitionError::Forbidden(
                    "only an admin can reject tickets".into(),
                ));
            }
            if from != Pending {
                return invalid("reject");
            }
            if reason.trim().is_empty() {
                return Err(TransitionError::Invalid(
                    "a rejection needs a reason".into(),
                ));
            }
            ok(Rejected, Some(reason.clone()), ticket.attempts)
        }
        Event::Start => {
            system_only("start")?;
            if from != Approved {
                return invalid("start");
            }
            ok(Running, None, ticket.attempts + 1)
        }
        Event::Succeed => {
            system_only("complete")?;
            if from != Running {
                return invalid("complete");
            }
            ok(Succeeded, None, ticket.attempts)
        }
        Event::Fail { error, retryable } => {
            system_only("fail")?;
            if from != Running {
                return invalid("fail");
            }
            if *retryable && ticket.attempts < policy.max_attempts {
                ok(
                    Approved,
                    Some(format!("retrying after: {error}")),
                    ticket.attempts,
                )
            } else {
                ok(Failed, Some(error.clone()), ticket.attempts)
            }
        }
        Event::LeaseExpired => {
            system_only("rescue")?;
            if from != Running {
                return invalid("rescue");
            }
            if ticket.attempts < policy.max_attempts {
                ok(
                    Approved,
                    Some("worker lease expired; will resume from its checkpoint".into()),
                    ticket.attempts,
                )
            } else {
                ok(
                    Failed,
                    Some("worker lease expired and no attempts are left".into()),
                    ticket.attempts,
                )
            }
        }
        Event::Cancel => {
            let allowed = match actor {
                Actor::System(_) => true,
                Actor::User { name, role } => *role == Role::Admin || name == ticket.submitter,
            };
            if !allowed {
                return Err(TransitionError::Forbidden(
                    "only the submitter or an admin can cancel a ticket".into(),
                ));
            }
            if !matches!(from, Pending | Approved | Running | Returned) {
                return invalid("cancel");
            }
            ok(Cancelled, None, ticket.attempts)
        }
        Event::Decide {
            slot,
            decision,
            note,
            slots,
            stands_in_for,
        } => decide(
            ticket,
            *slot,
            *decision,
            note,
            slots,
            stands_in_for,
            actor,
            policy,
        ),
        Event::Amend { old_hash, new_hash } => {
            owner_or_admin(ticket, actor, "amend")?;
            if from != Returned {
                return invalid("amend");
            }
            ok(
                Returned,
                Some(format!(
                    "amended: parameters {old_hash} -> {new_hash}; earlier approvals are void"
                )),
                ticket.attempts,
            )
        }
        Event::Resubmit => {
            owner_or_admin(ticket, actor, "resubmit")?;
            if from != Returned {
                return invalid("resubmit");
            }
            ok(
                Pending,
                Some("resubmitted for approval".into()),
                ticket.attempts,
            )
        }
        Event::ImpactGrew {
            approved,
            now,
            margin,
        } => {
            system_only("send back")?;
            if !matches!(from, Approved | Running) {
                return invalid("send back");
            }
            if !approved.grew_beyond(now, *margin) {
                return Err(TransitionError::Invalid(format!(
                    "the impact ({now}) is within {:.0} % of the approved {approved}",
                    margin * 100.0
                )));
            }
            ok(
                Pending,
                Some(format!(
                    "plan impact grew beyond the approval margin of {:.0} %: approved {approved}, now {now}; back to approval",
                    margin * 100.0
                )),
                // The start that found it did not run it.
                if from == Running {
                    ticket.attempts.saturating_sub(1)
                } else {
                    ticket.attempts
                },
            )
        }
    }
}

fn owner_or_admin(
    ticket: &TicketView<'_>,
    actor: &Actor,
    what: &str,
) -> Result<(), TransitionError> {
    match actor {
        Actor::User { name, role } if *role == Role::Admin || name == ticket.submitter => Ok(()),
        _ => Err(TransitionError::Forbidden(format!(
            "only the submitter or an admin can {what} a ticket"
        ))),
    }
}

/// The rules of one decision on one approval record.
#[allow(clippy::too_many_arguments)]
fn decide(
    ticket: &TicketView<'_>,
    index: usize,
    decision: Decision,
    note: &Option<String>,
    slots: &[Slot],
    stands_in_for: &[(String, Role)],
    actor: &Actor,
    policy: &Policy,
) -> Result<Transition, TransitionError> {
    use TicketState::*;
    let forbidden = |m: String| Err(TransitionError::Forbidden(m));
    let Actor::User { name, role } = actor else {
        return forbidden("only a user decides on an approval".into());
    };
    if ticket.state != Pending {
        return Err(TransitionError::Invalid(format!(
            "cannot decide on an approval of a ticket that is {}",
            ticket.state
        )));
    }
    let Some(slot) = slots.get(index) else {
        return Err(TransitionError::Invalid(format!(
            "the ticket has no approval {}",
            index + 1
        )));
    };
    if slot.state != SlotState::Pending {
        return Err(TransitionError::Invalid(format!(
            "approval {} is already {}",
            index + 1,
            slot.state
        )));
    }
    let self_ok = policy.allow_self_approval && *role == Role::Admin;
    if name == ticket.submitter && !self_ok {
        return forbidden(format!(
            "{name} is the ticket's submitter: nobody decides on an approval of their own ticket"
        ));
    }
    let direct = slot.eligible.admits(name, *role == Role::Admin);
    let for_user = if direct {
        None
    } else {
        match stands_in_for
            .iter()
            .find(|(u, r)| slot.eligible.admits(u, *r == Role::Admin))
        {
            Some((u, _)) => Some(u.clone()),
            None => {
                return forbidden(format!(
                    "{name} may not decide on approval {} (it needs {})",
                    index + 1,
                    slot.eligible
                ))
            }
        }
    };
    if for_user.as_deref() == Some(ticket.submitter) {
        return forbidden(format!(
            "{name} stands in for the ticket's submitter: nobody decides on an approval of their own ticket"
        ));
    }
    let who = match &for_user {
        Some(y) => format!("{name} for {y}"),
        None => name.clone(),
    };
    let text = note.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let (to, state, what) = match decision {
        Decision::Approve => {
            let counted: Vec<&str> = slots
                .iter()
                .filter(|o| o.state == SlotState::Approved)
                .flat_map(|o| [o.actor.as_deref(), o.for_user.as_deref()])
                .flatten()
                .collect();
            for person in std::iter::once(name.as_str()).chain(for_user.as_deref()) {
                if counted.contains(&person) {
                    return forbidden(format!(
                        "{person} already counts for an approval of this ticket (one person counts once)"
                    ));
                }
            }
            let done = slots
                .iter()
                .filter(|o| o.state == SlotState::Approved)
                .count()
                + 1;
            let to = if done == slots.len() {
                Approved
            } else {
                Pending
            };
            (
                to,
                SlotState::Approved,
                format!("approval {done} of {} by {who}", slots.len()),
            )
        }
        Decision::Return | Decision::Reject => {
            let Some(text) = text else {
                return Err(TransitionError::Invalid(format!(
                    "{} needs a note saying why",
                    if decision == Decision::Return {
                        "returning a ticket"
                    } else {
                        "a rejection"
                    }
                )));
            };
            if decision == Decision::Return {
                (
                    Returned,
                    SlotState::Returned,
                    format!("returned by {who}: {text}"),
                )
            } else {
                (
                    Rejected,
                    SlotState::Rejected,
                    format!("rejected by {who}: {text}"),
                )
            }
        }
    };
    let note = match (decision, text) {
        // One approval by the approver themselves: the release-1 record,
        // the approver's note as it was written.
        (Decision::Approve, t) if slots.len() == 1 && for_user.is_none() => t.map(str::to_string),
        (Decision::Approve, Some(t)) => Some(format!("{what}: {t}")),
        _ => Some(what),
    };
    Ok(Transition {
        from: Pending,
        to,
        actor: name.clone(),
        note,
        attempts: ticket.attempts,
        slot: Some(SlotDecision {
            index,
            state,
            for_user,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use TicketState::*;

    fn view(state: TicketState) -> TicketView<'static> {
        TicketView {
            state,
            submitter: "alice",
            attempts: 0,
        }
    }

    fn admin(name: &str) -> Actor {
        Actor::user(name, Role::Admin)
    }

    fn sys() -> Actor {
        Actor::System("scheduler")
    }

    #[test]
    fn the_happy_path() {
        let p = Policy::default();
        let t = transition(&view(Pending), &Event::Approve, &admin("bob"), &p).unwrap();
        assert_eq!((t.from, t.to, t.actor.as_str()), (Pending, Approved, "bob"));
        let t = transition(&view(Approved), &Event::Start, &sys(), &p).unwrap();
        assert_eq!((t.to, t.attempts), (Running, 1));
        let t = transition(
            &TicketView {
                attempts: 1,
                ..view(Running)
            },
            &Event::Succeed,
            &sys(),
            &p,
        )
        .unwrap();
        assert_eq!(t.to, Succeeded);
    }

    #[test]
    fn submitters_never_approve_and_admins_not_their_own() {
        let p = Policy::default();
        let e = transition(
            &view(Pending),
            &Event::Approve,
            &Actor::user("alice", Role::Submitter),
            &p,
        );
        assert!(matches!(e, Err(TransitionError::Forbidden(_))));
        let e = transition(
            &view(Pending),
            &Event::Approve,
            &Actor::user("carol", Role::Submitter),
            &p,
        );
        assert!(matches!(e, Err(TransitionError::Forbidden(_))));
        let e = transition(&view(Pending), &Event::Approve, &admin("alice"), &p);
        assert!(matches!(e, Err(TransitionError::Forbidden(_))));
        let lax = Policy {
            allow_self_approval: true,
            ..p
        };
        assert_eq!(
            transition(&view(Pending), &Event::Approve, &admin("alice"), &lax)
                .unwrap()
                .to,
            Approved
        );
    }

    #[test]
    fn rejection_needs_an_admin_and_a_reason() {
        let p = Policy::default();
        let blank = Event::Reject {
            reason: "  ".into(),
        };
        assert!(matches!(
            transition(&view(Pending), &blank, &admin("bob"), &p),
            Err(TransitionError::Invalid(_))
        ));
        let why = Event::Reject {
            reason: "pattern too broad".into(),
        };
        assert!(matches!(
            transition(
                &view(Pending),
                &why,
                &Actor::user("alice", Role::Submitter),
                &p
            ),
            Err(TransitionError::Forbidden(_))
        ));
        let t = transition(&view(Pending), &why, &admin("bob"), &p).unwrap();
        assert_eq!(
            (t.to, t.note.as_deref()),
            (Rejected, Some("pattern too broad"))
        );
        assert!(transition(&view(Approved), &why, &admin("bob"), &p).is_err());
    }

    #[test]
    fn retries_until_attempts_run_out() {
        let p = Policy {
            max_attempts: 2,
            ..Policy::default()
        };
        let fail = Event::Fail {
            error: "connection refused".into(),
            retryable: true,
        };
        let t = transition(
            &TicketView {
                attempts: 1,
                ..view(Running)
            },
            &fail,
            &sys(),
            &p,
        )
        .unwrap();
        assert_eq!(t.to, Approved);
        let t = transition(
            &TicketView {
                attempts: 2,
                ..view(Running)
            },
            &fail,
            &sys(),
            &p,
        )
        .unwrap();
        assert_eq!(t.to, Failed);
        let permanent = Event::Fail {
            error: "WRONGTYPE".into(),
            retryable: false,
        };
        assert_eq!(
            transition(
                &TicketView {
                    attempts: 1,
                    ..view(Running)
                },
                &permanent,
                &sys(),
                &p
            )
            .unwrap()
            .to,
            Failed
        );
        let t = transition(
            &TicketView {
                attempts: 1,
                ..view(Running)
            },
            &Event::LeaseExpired,
            &sys(),
            &p,
        )
        .unwrap();
        assert_eq!(t.to, Approved);
    }

    #[test]
    fn cancel_by_owner_or_admin_before_the_end() {
        let p = Policy::default();
        for s in [Pending, Approved, Running] {
            assert_eq!(
                transition(
                    &view(s),
                    &Event::Cancel,
                    &Actor::user("alice", Role::Submitter),
                    &p
                )
                .unwrap()
                .to,
                Cancelled
            );
            assert_eq!(
                transition(&view(s), &Event::Cancel, &admin("bob"), &p)
                    .unwrap()
                    .to,
                Cancelled
            );
            assert!(matches!(
                transition(
                    &view(s),
                    &Event::Cancel,
                    &Actor::user("mallory", Role::Submitter),
                    &p
                ),
                Err(TransitionError::Forbidden(_))
            ));
        }
    }

    #[test]
    fn final_states_are_final_and_users_cannot_drive_workers() {
        let p = Policy::default();
        let events = [
            Event::Approve,
            Event::Reject { reason: "x".into() },
            Event::Start,
            Event::Succeed,
            Event::Fail {
                error: "x".into(),
                retryable: true,
            },
            Event::Cancel,
            Event::LeaseExpired,
        ];
        for s in TicketState::ALL.into_iter().filter(|s| s.is_final()) {
            for e in &events {
                for a in [admin("bob"), sys()] {
                    assert!(
                        transition(&view(s), e, &a, &p).is_err(),
                        "{s} accepted {e:?}"
                    );
                }
            }
        }
        for e in [Event::Start, Event::Succeed, Event::LeaseExpired] {
            assert!(matches!(
                transition(&view(Running), &e, &admin("bob"), &p),
                Err(TransitionError::Forbidden(_))
            ));
        }
        for s in TicketState::ALL {
            assert_eq!(s.as_str().parse::<TicketState>().unwrap(), s);
        }
    }

    fn slot(eligible: Eligible) -> Slot {
        Slot {
            eligible,
            state: SlotState::Pending,
            actor: None,
            for_user: None,
        }
    }

    fn two_slots() -> Vec<Slot> {
        vec![
            slot(Eligible::Users(vec!["lead".into()])),
            slot(Eligible::AnyAdmin),
        ]
    }

    fn decide_as(
        slots: &[Slot],
        index: usize,
        decision: Decision,
        note: Option<&str>,
        actor: &Actor,
        stands_in_for: &[(&str, Role)],
    ) -> Result<Transition, TransitionError> {
        transition(
            &view(Pending),
            &Event::Decide {
                slot: index,
                decision,
                note: note.map(str::to_string),
                slots: slots.to_vec(),
                stands_in_for: stands_in_for
                    .iter()
                    .map(|(u, r)| (u.to_string(), *r))
                    .collect(),
            },
            actor,
            &Policy::default(),
        )
    }

    fn approved(mut s: Slot, actor: &str, for_user: Option<&str>) -> Slot {
        s.state = SlotState::Approved;
        s.actor = Some(actor.into());
        s.for_user = for_user.map(str::to_string);
        s
    }

    #[test]
    fn a_ticket_is_approved_when_every_slot_is() {
        let lead = Actor::user("lead", Role::Submitter);
        let slots = two_slots();
        let t = decide_as(&slots, 0, Decision::Approve, Some("ok"), &lead, &[]).unwrap();
        assert_eq!((t.from, t.to), (Pending, Pending));
        assert_eq!(t.note.as_deref(), Some("approval 1 of 2 by lead: ok"));
        assert_eq!(t.slot.as_ref().unwrap().state, SlotState::Approved);
        let slots = vec![approved(slots[0].clone(), "lead", None), slots[1].clone()];
        let t = decide_as(&slots, 1, Decision::Approve, None, &admin("bob"), &[]).unwrap();
        assert_eq!(t.to, Approved);
        // A decided record is not decided again; a wrong index is refused.
        assert!(decide_as(&slots, 0, Decision::Approve, None, &admin("bob"), &[]).is_err());
        assert!(decide_as(&slots, 5, Decision::Approve, None, &admin("bob"), &[]).is_err());
        // Only while pending.
        let e = transition(
            &view(Returned),
            &Event::Decide {
                slot: 1,
                decision: Decision::Approve,
                note: None,
                slots: slots.clone(),
                stands_in_for: vec![],
            },
            &admin("bob"),
            &Policy::default(),
        );
        assert!(matches!(e, Err(TransitionError::Invalid(_))));
    }

    #[test]
    fn only_eligible_users_or_their_stand_ins_decide() {
        let slots = two_slots();
        // A submitter who is not the lead; an admin on the lead's slot.
        let carol = Actor::user("carol", Role::Submitter);
        assert!(matches!(
            decide_as(&slots, 0, Decision::Approve, None, &carol, &[]),
            Err(TransitionError::Forbidden(_))
        ));
        assert!(matches!(
            decide_as(&slots, 0, Decision::Approve, None, &admin("bob"), &[]),
            Err(TransitionError::Forbidden(_))
        ));
        assert!(matches!(
            decide_as(&slots, 1, Decision::Approve, None, &carol, &[]),
            Err(TransitionError::Forbidden(_))
        ));
        // carol stands in for the lead: recorded as "carol for lead".
        let t = decide_as(
            &slots,
            0,
            Decision::Approve,
            None,
            &carol,
            &[("lead", Role::Submitter)],
        )
        .unwrap();
        assert_eq!(t.slot.unwrap().for_user.as_deref(), Some("lead"));
        assert_eq!(t.note.as_deref(), Some("approval 1 of 2 by carol for lead"));
        // Standing in for an admin fills an admin slot.
        let t = decide_as(
            &slots,
            1,
            Decision::Approve,
            None,
            &carol,
            &[("bob", Role::Admin)],
        )
        .unwrap();
        assert_eq!(t.slot.unwrap().for_user.as_deref(), Some("bob"));
        // The service itself never decides.
        assert!(decide_as(&slots, 1, Decision::Approve, None, &sys(), &[]).is_err());
    }

    #[test]
    fn nobody_decides_on_their_own_ticket() {
        let slots = vec![
            slot(Eligible::Users(vec!["alice".into()])),
            slot(Eligible::AnyAdmin),
        ];
        let alice = Actor::user("alice", Role::Submitter);
        for d in [Decision::Approve, Decision::Return, Decision::Reject] {
            assert!(matches!(
                decide_as(&slots, 0, d, Some("x"), &alice, &[]),
                Err(TransitionError::Forbidden(_))
            ));
        }
        // Nor as a stand-in for the submitter.
        assert!(matches!(
            decide_as(
                &slots,
                0,
                Decision::Approve,
                None,
                &Actor::user("dave", Role::Submitter),
                &[("alice", Role::Submitter)]
            ),
            Err(TransitionError::Forbidden(_))
        ));
        // An admin submitter only with allow_self_approval.
        let adm = Actor::user("alice", Role::Admin);
        assert!(decide_as(&slots, 1, Decision::Approve, None, &adm, &[]).is_err());
        let lax = Policy {
            allow_self_approval: true,
            ..Policy::default()
        };
        let t = transition(
            &view(Pending),
            &Event::Decide {
                slot: 1,
                decision: Decision::Approve,
                note: None,
                slots: slots.clone(),
                stands_in_for: vec![],
            },
            &adm,
            &lax,
        )
        .unwrap();
        assert_eq!(t.slot.unwrap().state, SlotState::Approved);
    }

    #[test]
    fn one_person_counts_once() {
        let slots = [slot(Eligible::AnyAdmin), slot(Eligible::AnyAdmin)];
        let first = vec![approved(slots[0].clone(), "bob", None), slots[1].clone()];
        let e = decide_as(&first, 1, Decision::Approve, None, &admin("bob"), &[]);
        assert!(
            matches!(e, Err(TransitionError::Forbidden(m)) if m.contains("bob already counts"))
        );
        // Not as a stand-in for another approver either...
        let carol = Actor::user("carol", Role::Submitter);
        let by_carol_for_dan = vec![
            approved(slots[0].clone(), "carol", Some("dan")),
            slots[1].clone(),
        ];
        assert!(decide_as(
            &by_carol_for_dan,
            1,
            Decision::Approve,
            None,
            &carol,
            &[("erin", Role::Admin)]
        )
        .is_err());
        // ...nor for someone who already counts.
        assert!(matches!(
            decide_as(
                &by_carol_for_dan,
                1,
                Decision::Approve,
                None,
                &admin("dan"),
                &[]
            ),
            Err(TransitionError::Forbidden(_))
        ));
        assert!(decide_as(
            &first,
            1,
            Decision::Approve,
            None,
            &carol,
            &[("bob", Role::Admin)]
        )
        .is_err());
        assert_eq!(
            decide_as(&first, 1, Decision::Approve, None, &admin("erin"), &[])
                .unwrap()
                .to,
            Approved
        );
    }

    #[test]
    fn return_and_reject_need_a_note() {
        let slots = two_slots();
        let bob = admin("bob");
        for (d, to) in [(Decision::Return, Returned), (Decision::Reject, Rejected)] {
            assert!(matches!(
                decide_as(&slots, 1, d, None, &bob, &[]),
                Err(TransitionError::Invalid(_))
            ));
            assert!(decide_as(&slots, 1, d, Some("  "), &bob, &[]).is_err());
            let t = decide_as(&slots, 1, d, Some("too broad"), &bob, &[]).unwrap();
            assert_eq!(t.to, to);
            assert!(t.note.unwrap().contains("too broad"));
        }
    }

    #[test]
    fn amend_and_resubmit_a_returned_ticket() {
        let p = Policy::default();
        let amend = Event::Amend {
            old_hash: "sha256:a".into(),
            new_hash: "sha256:b".into(),
        };
        let alice = Actor::user("alice", Role::Submitter);
        let t = transition(&view(Returned), &amend, &alice, &p).unwrap();
        assert_eq!((t.from, t.to), (Returned, Returned));
        assert!(t.note.unwrap().contains("sha256:a -> sha256:b"));
        assert!(transition(&view(Pending), &amend, &alice, &p).is_err());
        let mallory = Actor::user("mallory", Role::Submitter);
        assert!(matches!(
            transition(&view(Returned), &amend, &mallory, &p),
            Err(TransitionError::Forbidden(_))
        ));
        let t = transition(&view(Returned), &Event::Resubmit, &alice, &p).unwrap();
        assert_eq!(t.to, Pending);
        assert!(transition(&view(Returned), &Event::Resubmit, &mallory, &p).is_err());
        assert!(transition(&view(Approved), &Event::Resubmit, &alice, &p).is_err());
        // A returned ticket can still be cancelled.
        assert_eq!(
            transition(&view(Returned), &Event::Cancel, &alice, &p)
                .unwrap()
                .to,
            Cancelled
        );
    }

    #[test]
    fn grown_impact_goes_back_to_approval() {
        let p = Policy::default();
        let approved = Impact {
            keys: 1000,
            bytes: 10_000,
        };
        assert!(!approved.grew_beyond(
            &Impact {
                keys: 1200,
                bytes: 12_000
            },
            0.2
        ));
        assert!(approved.grew_beyond(
            &Impact {
                keys: 1201,
                bytes: 0
            },
            0.2
        ));
        assert!(approved.grew_beyond(
            &Impact {
                keys: 10,
                bytes: 12_001
            },
            0.2
        ));
        let grew = Event::ImpactGrew {
            approved,
            now: Impact {
                keys: 5000,
                bytes: 50_000,
            },
            margin: 0.2,
        };
        let running = TicketView {
            attempts: 1,
            ..view(Running)
        };
        let t = transition(&running, &grew, &sys(), &p).unwrap();
        assert_eq!((t.to, t.attempts), (Pending, 0));
        let note = t.note.unwrap();
        assert!(
            note.contains("1000 keys") && note.contains("5000 keys"),
            "{note}"
        );
        assert!(transition(&running, &grew, &admin("bob"), &p).is_err());
        assert!(transition(&view(Succeeded), &grew, &sys(), &p).is_err());
        let within = Event::ImpactGrew {
            approved,
            now: approved,
            margin: 0.2,
        };
        assert!(transition(&running, &within, &sys(), &p).is_err());
        for s in SlotState::ALL {
            assert_eq!(s.as_str().parse::<SlotState>().unwrap(), s);
        }
    }
}
