//! Restore tickets: put back what a cleanup removed or changed, from the
//! backup it wrote (see [`crate::backup`]), through the same approval flow
//! as any ticket.
//!
//! - The backup of a `delete` cleanup (`backup.rdb`) is copied to the app
//!   as a migration from that file: `RESTORE key abs-expire payload
//!   ABSTTL` routed by slot on a cluster, keys whose expire time has passed
//!   skipped and counted (`expired`), keys that exist again left (`skip`,
//!   the default) or overwritten (`replace`), checkpointed per batch and
//!   resumable, the counts and a sample compared at the end.
//! - The backup of an `expire` cleanup (`ttls.jsonl`) gives each key its
//!   previous expire time back (`PEXPIREAT`, or `PERSIST` when it had
//!   none); a previous time already past is skipped and counted.

pub mod params;
mod plan;
mod run;
mod ttls;

use std::future::Future;

use serde_json::Value;

use crate::error::Result;
use crate::job::{Job, JobCtx, ParseCtx};
use crate::state::ServiceState;
use crate::store::AppRow;

pub use params::{RestoreConflict, RestoreParams};

impl Job for RestoreParams {
    const NAME: &'static str = "restore";

    fn validate(&self, ctx: &ParseCtx<'_>) -> Result<()> {
        RestoreParams::validate(self, ctx)
    }

    fn apps(&self) -> Vec<&str> {
        vec![self.app.as_str()]
    }

    fn plan(
        &self,
        state: &ServiceState,
        apps: &[AppRow],
    ) -> impl Future<Output = Result<Value>> + Send {
        plan::plan(state, self, apps)
    }

    fn run(&self, ctx: &JobCtx) -> Result<Value> {
        run::run(ctx, self)
    }
}
