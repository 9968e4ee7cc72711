//! Migration tickets: copy the keys of a source (a live app, or an RDB file
//! on the service host or fetched from the app as a replica) to a target app
//! (a standalone node, a master with replicas, or a cluster), under a rate
//! limit, with a checkpoint after every batch and a verification at the end.
//!
//! How a batch goes:
//!
//! 1. the source gives the next batch of selected keys with their values as
//!    `DUMP` payloads and absolute expire times: from a live app, `SCAN`
//!    then pipelined `PTTL` + `DUMP` on each master; from a file, the
//!    parser's raw value bytes wrapped as a payload (type byte, value, RDB
//!    version, CRC64) without decoding them;
//! 2. pipelined `EXISTS` on the target tells which keys were already there
//!    (sent in the previous batch's pipelines, after its writes on each
//!    node, when both batches go to one db); skipped for a target db that
//!    held no key when the ticket began (`INFO keyspace` of every master,
//!    kept in the checkpoint): no key there predates the ticket, and one
//!    written by someone else since is found by the write itself
//!    (`RESTORE` without `REPLACE` answers `BUSYKEY`, `SET … NX` nil) and
//!    handled by the conflict policy;
//! 3. the checkpoint is written: where the source continues, the batch
//!    (live: its keys; file: its start offset), the keys of the batch that
//!    already existed, and the counters so far;
//! 4. the keys are written, paced by the rate: `RESTORE key abs-expire
//!    payload ABSTTL` when the target's `DUMP` format is at least the
//!    source's, otherwise as commands (`RPUSH`, `HSET`, `XADD`…, in chunks
//!    of at most `max_command_bytes`) into a temporary key of the same
//!    slot that is then `RENAME`d into place; a string that fits one
//!    command is one `SET key value [PXAT t] [NX]` (`PXAT` from Redis 6.2).
//!
//! A live source is read one batch ahead (`SCAN`, `PTTL` + `DUMP`) by a
//! thread with its own connection while the batch before is written, so
//! the source and the target work at the same time; the checkpoint still
//! names the batch about to be written and the position after it. A file
//! source's next batch is read while the targets work on the batch before
//! (between the send of its pipelines and the read of their replies), and
//! each node's pipeline is written as RESP straight into one buffer.
//!
//! A resumed run redoes the batch of its checkpoint: keys that existed
//! before the batch are treated by the conflict policy as the first time,
//! the others may be the killed attempt's own writes and are replaced.
//! `RESTORE` and `RENAME` are atomic per key, so a key is never seen half
//! written and a list is never doubled.
//!
//! Cluster targets: keys are routed by slot (`CLUSTER SLOTS`), `MOVED`
//! refreshes the map and retries, `ASK` retries with `ASKING`, and a
//! connection error (a master failing over) refreshes the map and retries
//! with backoff for up to about half a minute.
//!
//! With `wait_replicas` (the ticket's, else the service's), each batch ends
//! with `WAIT replicas timeout` on every master it wrote to; fewer replicas
//! than asked is a retryable error, and the batch, not yet checkpointed,
//! is written again by the next attempt.
//!
//! Verification: keys matching the filters are counted per db on both
//! sides (on a target db empty when the ticket began, its `DBSIZE`: every
//! key there came since), and a sample (`verify_percent` of the written keys, plus every key
//! whose payload is over `big_key_bytes`) is compared by value and TTL,
//! a few hundred keys per pipeline on each side (`TYPE` + `PTTL`, then the
//! reads of each type).
//! `migration.json` in the report lists the counts, conflicts, failures and
//! mismatches; the ticket fails when a key failed or a mismatch remains.

mod ahead;
mod canon;
mod checkpoint;
pub mod params;
mod plan;
pub(crate) mod resp;
mod rewrite;
mod run;
mod source;
pub(crate) mod target;
mod verify;
mod write;

use std::future::Future;

use serde_json::Value;

use crate::error::Result;
use crate::job::{Job, JobCtx, ParseCtx};
use crate::state::ServiceState;
use crate::store::AppRow;

pub use params::{Conflict, MigrationParams, Source, SourceMethod, WriteMode};
pub use plan::plan;
pub use run::{run, run_from};
pub use target::dump_version;

impl Job for MigrationParams {
    const NAME: &'static str = "migration";

    fn validate(&self, ctx: &ParseCtx<'_>) -> Result<()> {
        MigrationParams::validate(self, ctx)
    }

    fn apps(&self) -> Vec<&str> {
        MigrationParams::apps(self)
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
