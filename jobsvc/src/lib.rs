//! The ticket service's engine: analysis, hot-key, cleanup and migration
//! tickets that are approved before they run against live Redis nodes.
//!
//! A request flows one way: the [`api`] checks it and its [`params`] and
//! records a ticket in the [`store`]; every state change goes through the
//! [`ticket`] state machine; the scheduler in [`service`] claims approved
//! tickets and runs them; [`jobs`] lists the job kinds ([`jobs::analysis`],
//! [`jobs::hotkeys`], [`jobs::cleanup`], [`jobs::migrate`]), each behind the
//! one [`job::Job`] trait; the kinds talk to nodes through [`redis`] and
//! [`replica`].
//!
//! - [`ticket`]: the lifecycle; its single [`ticket::transition`] function
//!   decides every state change and produces the audit record stored with it;
//!   [`slots`]: the vocabulary of approval records it decides on;
//! - [`approvals`]: approval policies per type, risk and app tags, the
//!   risk level computed from a plan, teams' claim on their apps, stand-ins;
//! - [`store`]: users, apps, tickets, audit, leases and checkpoints on SQLite
//!   (default) or PostgreSQL (several instances, `SKIP LOCKED` claims);
//! - [`api`]: the HTTP JSON API (`API.md`, `/openapi.json`); [`console`]:
//!   the web console served with it at `/`;
//! - [`service`]: the scheduler (worker pool, per-node leases, maintenance
//!   windows, retries with backoff, rescue of dead instances' jobs);
//!   [`server`]: `serve` and `init_admin`; [`state`]: what they share;
//! - [`schedule`]: tickets' `run_at` and recurring analyses (cron) whose
//!   reports land in the fleet layout, each diffed against the last;
//!   [`stats`]: ticket statistics for `/stats` and `/metrics`;
//! - [`notify`]: notifications of tickets' events (webhook, WeCom,
//!   DingTalk, Slack, e-mail) through an outbox in the store;
//! - [`jobs`]: the job kinds and what each ticket type does; [`job`]: the
//!   trait a kind implements and the context a running job is given;
//!   [`replica`] fetches an RDB from a live node as a replica;
//!   [`jobs::hotkeys::sample`] samples hot keys; [`registry`] discovers an
//!   app's nodes.
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
//!
//! A ticket's parameters are checked, filled with their defaults and frozen
//! with a hash at submission; what runs is exactly what was approved:
//!
//! ```
//! use jobsvc::params::{ParseCtx, Params};
//!
//! let ctx = ParseCtx { allowed_dirs: &[], max_monitor_secs: 300, is_admin: false };
//! let params = serde_json::json!({"app": "shop", "patterns": [{"prefix": "login:"}]});
//! let cleanup = Params::parse("cleanup", &params, &ctx)?;
//! assert_eq!(cleanup.apps(), ["shop"]);
//! let (canonical, hash) = cleanup.canonical();
//! assert!(canonical.contains(r#""rate":1000"#), "{canonical}");
//! assert!(hash.starts_with("sha256:"));
//! // Unknown fields are refused.
//! let typo = serde_json::json!({"app": "shop", "patterns": [{"prefix": "x"}], "colour": 1});
//! assert!(Params::parse("cleanup", &typo, &ctx).is_err());
//! # Ok::<(), jobsvc::Error>(())
//! ```
#![deny(missing_docs)]

pub mod api;
pub mod approvals;
pub mod auth;
pub mod backup;
pub mod config;
pub mod console;
pub mod error;
pub mod files;
pub mod job;
pub mod jobs;
pub mod notify;
pub mod params;
pub mod redis;
pub mod registry;
pub mod replica;
pub mod schedule;
pub mod server;
pub mod service;
pub mod slots;
pub mod state;
pub mod stats;
pub mod store;
pub mod ticket;
pub mod time;
pub mod topology;

pub use config::Config;
pub use error::{Error, ErrorKind, Result};
pub use server::{init_admin, serve};
