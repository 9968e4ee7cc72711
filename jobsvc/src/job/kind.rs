//! The one interface every job kind implements: its name, how its
//! parameters are checked, the apps and nodes it occupies, the plan shown
//! to the approver, and the run.

use std::future::Future;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::ctx::JobCtx;
use super::parse::ParseCtx;
use crate::error::Result;
use crate::state::ServiceState;
use crate::store::AppRow;

/// Which members of its apps a running job occupies (its per-node leases).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeUse {
    /// The node each shard is read from (a replica when there is one).
    Sources,
    /// Every master.
    Masters,
}

/// A job kind: its parameters (stored in canonical JSON with the ticket)
/// and what is done with them. The executor knows kinds only through this.
pub trait Job: Serialize + DeserializeOwned + Send + Sync {
    /// The ticket type (`"analysis"`, `"cleanup"`…).
    const NAME: &'static str;
    /// Which nodes a running job of this kind holds.
    const NODES: NodeUse = NodeUse::Masters;

    /// Checks the parameters at submission (and again before a run, with
    /// the configuration of the time).
    fn validate(&self, ctx: &ParseCtx<'_>) -> Result<()>;

    /// The apps the ticket reads or changes (each must be registered).
    fn apps(&self) -> Vec<&str>;

    /// The plan stored with the ticket at submission: what it will touch
    /// and how; `apps` are the registered apps of [`Job::apps`], in order.
    fn plan(
        &self,
        state: &ServiceState,
        apps: &[AppRow],
    ) -> impl Future<Output = Result<Value>> + Send;

    /// Runs the job (blocking, on a worker thread) to its result JSON.
    fn run(&self, ctx: &JobCtx) -> Result<Value>;
}
