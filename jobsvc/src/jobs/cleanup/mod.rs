//! Cleanup tickets: delete (or set a spread-out TTL on) the keys that match
//! prefixes or globs, on every master of an app, under a rate limit, with a
//! pause while a node is under pressure, and a checkpoint before every group
//! so that a killed or restarted service resumes where it stopped without
//! losing or double-counting a key.
//!
//! How a run goes, for each master (in address order), each db and each
//! pattern (a *pass*):
//!
//! 1. `SCAN cursor MATCH glob COUNT batch`, repeated until a *group* is
//!    gathered: a tenth of a second's worth of keys at the rate, one to 16
//!    batches (so one backup sync and one checkpoint serve them all);
//! 2. the returned keys are inspected with pipelined `OBJECT IDLETIME` (only
//!    with an idle filter), `TYPE` and `PTTL`, and filtered (only when a
//!    filter, `expire` mode or a dry run needs it: a plain delete takes
//!    every key returned, and its backup's `DUMP` drops those gone since);
//! 3. not in a dry run, the keys are backed up: `delete` mode appends their
//!    `DUMP` payloads and expire times to `report/backup/backup.rdb`,
//!    `expire` mode their current expire times to `report/backup/ttls.jsonl`
//!    (see [`crate::backup`]), synced to disk; keys gone by then are dropped;
//! 4. the checkpoint is written (with the backup's position): the next cursor, the keys about to be acted
//!    on (*pending*) and the counters so far;
//! 5. the pending keys are deleted in chunks, each chunk waiting for its
//!    tokens: collections (typed by the first byte of the backup's `DUMP`
//!    payload, `TYPE` asked only where it does not tell) with more than
//!    `big_elements` members are first
//!    emptied in chunks of `batch` (`HSCAN`+`HDEL`, `SSCAN`+`SREM`,
//!    `ZSCAN`+`ZREM`, `LTRIM`), then every key gets a pipelined `UNLINK`,
//!    (of up to 100 keys each once the report's sample is full, on a node
//!    that is not a cluster's), and deletions are counted from its replies.
//!
//! With `"backup": false` (a delete, no rollback possible) step 3 is
//! skipped, `SCAN COUNT` is a group's worth (up to 10,000), a group's
//! keys go out in many-key `UNLINK`s in one pipeline, no `TYPE` is asked
//! (untyped collections are unlinked whole: `UNLINK` frees them in the
//! background), and without a filter the next `SCAN` is in flight while
//! the checkpoint is written and the `UNLINK`s run (`fast.rs`).
//!
//! A resumed run first settles the pending keys of the checkpoint: those
//! still there are deleted (and counted from the replies), those already
//! gone were deleted by the killed attempt after its checkpoint, and are
//! counted once, as `recovered`; the backup is cut back to the
//! checkpoint's position (bytes after it were of a batch not yet acted on,
//! which the scan finds again), so that every deleted key is in it once. Then the same SCAN cursor continues: SCAN
//! returns every key present for the whole scan, deleting a key twice is
//! harmless, and counting from the replies never counts one twice.

mod act;
mod back_up;
mod big_keys;
mod checkpoint;
mod estimate;
mod fast;
mod inspect;
pub mod params;
mod plan;
mod run;
mod runner;

use std::future::Future;

use serde_json::Value;

use crate::error::Result;
use crate::job::{Job, JobCtx, ParseCtx};
use crate::state::ServiceState;
use crate::store::AppRow;

pub use crate::redis::{glob_match, pressure, Pattern, KEY_TYPES};
pub use params::{CleanupParams, Mode, TtlFilter};
pub use plan::plan;
pub use run::run;

impl Job for CleanupParams {
    const NAME: &'static str = "cleanup";

    fn validate(&self, ctx: &ParseCtx<'_>) -> Result<()> {
        CleanupParams::validate(self, ctx)
    }

    fn apps(&self) -> Vec<&str> {
        CleanupParams::apps(self)
    }

    fn plan(
        &self,
        state: &ServiceState,
        apps: &[AppRow],
    ) -> impl Future<Output = Result<Value>> + Send {
        plan(state, self, apps)
    }

    fn run(&self, ctx: &JobCtx) -> Result<Value> {
        run(ctx, self)
    }
}
