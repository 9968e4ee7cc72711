//! Tickets that run at a set time: a ticket's `run_at`, and recurring
//! analyses (schedules) that file an auto-approved analysis ticket on each
//! cron firing and keep their reports in the fleet layout, each diffed
//! against the run before.
//!
//! - `cron.rs`: cron expressions and which firing is due (missed runs
//!   collapse into one);
//! - `run_at.rs`: a `run_at` time read and checked;
//! - `ticker.rs`: the loop that fires due schedules (one instance wins
//!   each firing, by compare-and-set in the store);
//! - `publish.rs`: a finished run's report moved into the fleet layout,
//!   diffed against the previous run's, older reports pruned to `keep`.

mod cron;
mod publish;
mod run_at;
mod ticker;

pub use cron::Cron;
pub use publish::{after_run, fleet_root};
pub use run_at::parse_run_at;
pub use ticker::{fire_due, ticker, SCHEDULE_ACTOR};
