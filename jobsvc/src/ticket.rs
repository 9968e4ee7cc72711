//! Tickets and their lifecycle: the one place that decides which state
//! changes are allowed, by whom, and what the audit log records.
//!
//! ```text
//! pending ──approve──▶ approved ──start──▶ running ──succeed──▶ succeeded
//!    │                    │                  │ ├──fail──────────▶ failed
//!    │                    │                  │ └──retry─────────▶ approved (attempts left)
//!    ├──reject──▶ rejected (reason required)  │
//!    └──cancel──▶ cancelled ◀──cancel─────────┴── (running: finishes the batch, then stops)
//! ```
//!
//! Which service moves a ticket out of each state: submitters and admins
//! through the API (pending, approved), the scheduler (approved → running,
//! retries), the worker (running → a final state), and the rescuer for a
//! running ticket whose lease expired (running → approved for a retry).

use std::fmt;
use std::str::FromStr;

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
}

impl TicketState {
    /// Every state.
    pub const ALL: [TicketState; 7] = [
        TicketState::Pending,
        TicketState::Approved,
        TicketState::Running,
        TicketState::Succeeded,
        TicketState::Failed,
        TicketState::Cancelled,
        TicketState::Rejected,
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
            if !matches!(from, Pending | Approved | Running) {
                return invalid("cancel");
            }
            ok(Cancelled, None, ticket.attempts)
        }
    }
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
}
