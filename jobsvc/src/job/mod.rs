//! The contract between the scheduler and the job kinds: the [`Job`] trait
//! each kind implements, and the [`JobCtx`] a running job is given.

pub mod ctx;
pub mod fetch_shards;
pub mod kind;
pub mod parse;

pub use ctx::JobCtx;
pub use fetch_shards::{FetchProgress, Fetched, Shard};
pub use kind::{Job, NodeUse};
pub use parse::{check_allowed_file, ParseCtx};
