//! Redis plumbing shared by the job kinds that talk to live nodes (cleanup
//! and migration): reading replies, the members of an app, key patterns,
//! pacing, and the pauses for forks and lagging replicas.

pub mod keys;
pub mod nodes;
pub mod pace;
pub mod pattern;
pub mod pressure;
pub mod reply;

pub use pace::{Bucket, Cancel, Pacer};
pub use pattern::{glob_match, Pattern, KEY_TYPES};
pub use pressure::pressure;
