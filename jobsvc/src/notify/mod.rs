//! Notifications: events of a ticket's life (submitted, needs approval,
//! approved, returned, rejected, started, paused and why, succeeded,
//! failed, cancelled, waiting too long for approval) sent to webhooks,
//! WeCom, DingTalk and Slack robots and e-mail, per user and team
//! subscription, through an outbox in the store.
//!
//! An event is recorded in the transaction of the state change that makes
//! it (`Store::apply`, filing), or by [`emit`] for the rest; the background
//! [`sender`] fans it out into deliveries, claims them under a lease
//! (several instances may share the store), sends each with a time limit and
//! retries failures with exponential backoff. A failing channel is counted
//! and shown; it never blocks a job or an API call, nor changes a ticket.
//!
//! - `event.rs`: the event kinds and which state change makes which;
//! - `channel.rs`: a channel's spec; `channels.rs`: the channels in force;
//! - `config.rs`: the `[notify]` config section;
//! - `emit.rs`: recording an event that is not a state change;
//! - `audience.rs`: who is told, through which channel (subscriptions);
//! - `fanout.rs`, `watch.rs`, `sender.rs`: the background work;
//! - `message.rs`: payloads, bodies and signatures; `deliver.rs`: HTTP and SMTP.

pub mod audience;
pub mod channel;
pub mod channels;
pub mod config;
mod deliver;
pub mod emit;
pub mod event;
mod fanout;
pub mod message;
mod sender;
mod watch;

pub use emit::{emit, emit_once};
pub use event::NotifyEvent;
pub use sender::sender;
