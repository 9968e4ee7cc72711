//! What a fetch needs (the node, credentials, timeouts) and what it
//! returns (the snapshot file, its framing, the sync command used).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Where and how to fetch from. Built by the job from the app's stored
/// address and credentials.
#[derive(Clone)]
pub struct FetchOptions {
    /// The node, `host:port`.
    pub addr: String,
    /// ACL user for `AUTH user password`; `None` means `AUTH password`
    /// (the `default` user).
    pub user: Option<String>,
    /// Password; `None` sends no `AUTH` at all.
    pub password: Option<String>,
    /// How long a TCP connect may take before the attempt is a transient error.
    pub connect_timeout: Duration,
    /// How long the node may send nothing at all (not even a keep-alive
    /// newline while it forks and saves) before we give up with a transient
    /// error. Any byte received resets it.
    pub read_timeout: Duration,
}

impl FetchOptions {
    /// Options for `addr` without credentials, with a 5 s connect timeout
    /// and a 60 s read timeout (the node sends a newline every second while
    /// it prepares the snapshot, so 60 s of silence means it is gone).
    pub fn new(addr: impl Into<String>) -> FetchOptions {
        FetchOptions {
            addr: addr.into(),
            user: None,
            password: None,
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(60),
        }
    }
}

/// Passwords stay out of logs.
impl fmt::Debug for FetchOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FetchOptions")
            .field("addr", &self.addr)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .finish()
    }
}

/// How the node framed the payload: it tells whether the node saved to disk
/// first or streamed straight from its fork (diskless replication).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// `$<len>\r\n` then exactly `len` bytes: a disk-based snapshot.
    Length(u64),
    /// `$EOF:<40-byte mark>\r\n`, then bytes until the same mark: a diskless
    /// snapshot whose size is unknown until its end.
    Eof,
}

/// Which command got the snapshot (recorded in the ticket's result).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncCommand {
    /// `PSYNC ? -1`, answered with `+FULLRESYNC` (Redis 2.8 and later).
    Psync,
    /// The old `SYNC`, used when the node refused `PSYNC`.
    Sync,
}

/// A fetched snapshot, complete on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedRdb {
    /// The destination file (as given): renamed into place only once complete.
    pub path: PathBuf,
    /// Size of the RDB file.
    pub bytes: u64,
    /// How the node framed it.
    pub framing: Framing,
    /// The command that got it.
    pub command: SyncCommand,
    /// The replication id from `+FULLRESYNC` (not known after `SYNC`).
    pub replid: Option<String>,
    /// The replication offset the snapshot corresponds to (after `PSYNC`).
    pub offset: Option<i64>,
    /// Whether the node accepted `REPLCONF rdb-only 1` (Redis 7.0+, Valkey):
    /// then it never saw us as a replica that needs the command stream.
    pub rdb_only: bool,
}
