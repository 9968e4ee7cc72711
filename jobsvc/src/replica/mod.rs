//! Fetching a fresh RDB snapshot from a live node by acting as a replica.
//!
//! This is how an `analysis` ticket on an app gets its data without touching
//! the node's disk or needing shell access: we connect like a replica would
//! (`REPLCONF`, `PSYNC ? -1`, falling back to `SYNC`), let the node fork and
//! stream its snapshot to us, and keep only the RDB payload. On Redis 7.0 and
//! later (and Valkey) we ask for `REPLCONF rdb-only 1`, so the node never
//! treats us as a real replica and closes the link after the snapshot.
//!
//! Blocking std code: the service runs it on a blocking thread.
//!
//! ```no_run
//! use std::sync::atomic::AtomicBool;
//! use jobsvc::replica::{fetch_rdb, FetchOptions};
//!
//! let opts = FetchOptions::new("10.0.0.5:6379");
//! let got = fetch_rdb(&opts, "/tmp/shop.rdb".as_ref(), &mut |_done, _total| {}, &AtomicBool::new(false))?;
//! println!("{} bytes via {:?}", got.bytes, got.command);
//! # Ok::<(), jobsvc::Error>(())
//! ```
//!
//! The module also holds the tiny blocking RESP connection (`RespConn`,
//! crate-internal) that the hot-key sampler shares: both need raw control of
//! the socket (keep-alive newlines, bulk payloads that are not RESP replies,
//! the endless `MONITOR` stream) that a regular client library hides.
//!
//! - `options.rs`: what to fetch from and what a fetch returns;
//! - `fetch.rs`: the sync handshake (`REPLCONF`, `PSYNC`/`SYNC`) and the
//!   payload's framing, copied into the snapshot file;
//! - `waiter.rs`: reading while the node prepares and streams the snapshot
//!   (polls, `REPLCONF ACK`, our own idle timeout);
//! - `temp_file.rs`: the snapshot file, renamed into place only when complete;
//! - `resp.rs`: the blocking RESP2 connection;
//! - `errors.rs`: error replies, timeouts and cancellation as [`Error`](crate::Error)s of the
//!   right kind.

mod fetch;
mod options;
mod temp_file;
mod waiter;

pub use fetch::fetch_rdb;
pub use options::{FetchOptions, FetchedRdb, Framing, SyncCommand};
