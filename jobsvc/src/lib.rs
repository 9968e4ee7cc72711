//! The ticket service's engine: analysis, hot-key, cleanup and migration
//! tickets that are approved before they run against live Redis nodes.
//!
//! - [`ticket`]: the lifecycle; its single [`ticket::transition`] function
//!   decides every state change and produces the audit record stored with it;
//! - [`store`]: users, apps, tickets, audit, leases and checkpoints on SQLite
//!   (default) or PostgreSQL (several instances, `SKIP LOCKED` claims);
//! - [`api`]: the HTTP JSON API (`API.md`, `/openapi.json`);
//! - [`service`]: the scheduler (worker pool, per-node leases, maintenance
//!   windows, retries with backoff, rescue of dead instances' jobs), `serve`
//!   and `init_admin`;
//! - [`jobs`]: what each ticket type does; [`replica`] fetches an RDB from a
//!   live node as a replica; [`hotkeys`] samples hot keys; [`registry`]
//!   discovers an app's nodes.
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

pub mod api;
pub mod auth;
pub mod cleanup;
pub mod config;
pub mod error;
pub mod hotkeys;
pub mod jobs;
pub mod migrate;
pub mod params;
pub mod registry;
pub mod replica;
pub mod service;
pub mod store;
pub mod ticket;

pub use config::Config;
pub use error::{Error, ErrorKind, Result};
pub use service::{init_admin, serve};
