//! Redis plumbing shared by everything that talks to live nodes (cleanup,
//! migration, hot keys and the snapshot fetch): a blocking RESP connection
//! and its error kinds, reading the `redis` client's replies, the members of
//! an app, key patterns, pacing, and the pauses for forks and lagging
//! replicas.

pub(crate) mod conn;
pub(crate) mod errors;
pub mod keys;
pub mod nodes;
pub mod pace;
pub mod pattern;
pub mod pressure;
pub mod reply;
pub mod timed;

pub(crate) use conn::{Reply, RespConn};
pub(crate) use errors::{check_cancel, is_auth_error, is_transient_error, server_error};
pub use pace::{Bucket, Cancel, Pacer};
pub use pattern::{glob_match, Pattern, KEY_TYPES};
pub use pressure::pressure;
