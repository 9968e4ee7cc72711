//! The ticket service's engine: analysis, cleanup and migration tickets that
//! are approved before they run against live Redis nodes.
//!
//! So far: the ticket lifecycle ([`ticket`]), whose single
//! [`ticket::transition`] function decides every state change and produces
//! the audit record stored with it. The HTTP API, the store, the scheduler
//! and the workers build on it.
//!
//! ```
//! use jobsvc::ticket::{transition, Actor, Event, Policy, Role, TicketState, TicketView};
//!
//! let pending = TicketView { state: TicketState::Pending, submitter: "alice", attempts: 0 };
//! let approve = transition(&pending, &Event::Approve, &Actor::user("bob", Role::Admin), &Policy::default())?;
//! assert_eq!(approve.to, TicketState::Approved);
//! // A submitter can never approve.
//! assert!(transition(&pending, &Event::Approve, &Actor::user("alice", Role::Submitter), &Policy::default()).is_err());
//! # Ok::<(), jobsvc::ticket::TransitionError>(())
//! ```
#![deny(missing_docs)]

pub mod ticket;
