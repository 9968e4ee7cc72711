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
//! The module also holds the tiny blocking RESP connection ([`RespConn`],
//! crate-internal) that the hot-key sampler shares: both need raw control of
//! the socket (keep-alive newlines, bulk payloads that are not RESP replies,
//! the endless `MONITOR` stream) that a regular client library hides.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};

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

/// Fetches a fresh RDB from the node at `opts.addr` into `dest`, acting as a
/// replica.
///
/// `progress(bytes_so_far, total)` is called as the payload arrives (at most
/// about ten times a second, and once at the end); `total` is known for a
/// disk-based snapshot only. `cancel` is checked between reads (at least
/// every 200 ms): when set, the fetch stops with an error.
///
/// `dest` is written through a temporary file in the same directory, synced
/// and renamed, so it either does not exist or holds a complete snapshot
/// that starts with the `REDIS` or `VALKEY` magic.
///
/// Errors: connection refused or reset, timeouts, `-LOADING`,
/// `-MASTERDOWN`, `-NOMASTERLINK` and a node that cannot fork are
/// transient; failed authentication, missing permissions and protocol
/// violations are internal; cancellation is a conflict (as in the job
/// runner).
pub fn fetch_rdb(
    opts: &FetchOptions,
    dest: &Path,
    progress: &mut dyn FnMut(u64, Option<u64>),
    cancel: &AtomicBool,
) -> Result<FetchedRdb> {
    check_cancel(cancel)?;
    let ctx = || format!("fetching a snapshot from {}", opts.addr);
    match attempt(opts, dest, progress, cancel, SyncCommand::Psync).map_err(|e| e.context(ctx()))? {
        Attempt::Done(f) => Ok(f),
        Attempt::Fallback(why) => {
            match attempt(opts, dest, progress, cancel, SyncCommand::Sync)
                .map_err(|e| e.context(ctx()))?
            {
                Attempt::Done(f) => Ok(f),
                Attempt::Fallback(again) => Err(Error::internal(format!(
                    "{}: the node refused PSYNC ({why}) and SYNC ({again})",
                    ctx()
                ))),
            }
        }
    }
}

enum Attempt {
    Done(FetchedRdb),
    /// The sync command was refused in a way that `SYNC` may fix.
    Fallback(String),
}

/// Socket poll interval once the sync command is sent: how quickly we
/// notice `cancel` and send `REPLCONF ACK`.
const POLL: Duration = Duration::from_millis(200);
const ACK_EVERY: Duration = Duration::from_secs(1);
const MARK_LEN: usize = 40;

/// Errors out (a conflict) once `cancel` is set.
pub(crate) fn check_cancel(cancel: &AtomicBool) -> Result<()> {
    if cancel.load(Ordering::SeqCst) {
        Err(Error::conflict("stopped: cancelled"))
    } else {
        Ok(())
    }
}

fn attempt(
    opts: &FetchOptions,
    dest: &Path,
    progress: &mut dyn FnMut(u64, Option<u64>),
    cancel: &AtomicBool,
    command: SyncCommand,
) -> Result<Attempt> {
    let mut conn = RespConn::connect(&opts.addr, opts.connect_timeout, opts.read_timeout)?;
    conn.auth(opts.user.as_deref(), opts.password.as_deref())?;
    check_cancel(cancel)?;

    // Like a real replica, an error to these two only means an old server
    // that does not know the option; but no password, a bad ACL or a node
    // still loading are reported as such.
    let port = conn.local_port().to_string();
    for args in [
        &[&b"REPLCONF"[..], b"listening-port", port.as_bytes()][..],
        &[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"],
    ] {
        match conn.command(args)? {
            Reply::Error(e) if is_auth_error(&e) || is_transient_error(&e) => {
                return Err(server_error(&e, "REPLCONF"))
            }
            _ => {}
        }
    }
    // Redis 7.0+: a snapshot only, no command stream afterwards.
    let rdb_only = match conn.command(&[&b"REPLCONF"[..], b"rdb-only", b"1"])? {
        Reply::Status(_) => true,
        Reply::Error(e) if is_auth_error(&e) || is_transient_error(&e) => {
            return Err(server_error(&e, "REPLCONF rdb-only"))
        }
        _ => false,
    };

    conn.set_read_timeout(POLL.min(opts.read_timeout))?;
    let mut wait = Waiter {
        last_data: Instant::now(),
        last_ack: Instant::now(),
        read_timeout: opts.read_timeout,
        send_acks: false,
    };
    let (mut replid, mut offset) = (None, None);
    match command {
        SyncCommand::Psync => {
            conn.send(&[&b"PSYNC"[..], b"?", b"-1"])?;
            let line = wait.line(&mut conn, cancel)?;
            if let Some(rest) = line.strip_prefix(b"+FULLRESYNC") {
                let rest = String::from_utf8_lossy(rest);
                let mut parts = rest.split_whitespace();
                replid = parts.next().map(str::to_string);
                offset = parts.next().and_then(|o| o.parse().ok());
                if replid.is_none() || offset.is_none() {
                    return Err(protocol(format!("bad PSYNC reply `{}`", show(&line))));
                }
            } else if line.starts_with(b"+CONTINUE") {
                // Impossible with `?`, but then the node streams commands, not
                // a snapshot: start over with SYNC.
                return Ok(Attempt::Fallback(format!("it answered `{}`", show(&line))));
            } else if let Some(e) = line.strip_prefix(b"-") {
                let e = String::from_utf8_lossy(e);
                if is_auth_error(&e) || is_transient_error(&e) {
                    return Err(server_error(&e, "PSYNC"));
                }
                return Ok(Attempt::Fallback(e.into_owned()));
            } else {
                return Err(protocol(format!(
                    "unexpected PSYNC reply `{}`",
                    show(&line)
                )));
            }
        }
        SyncCommand::Sync => conn.send(&[&b"SYNC"[..]])?,
    }

    // Keep-alive newlines until the payload header.
    let header = wait.line(&mut conn, cancel)?;
    let framing = if let Some(mark) = header.strip_prefix(b"$EOF:") {
        if mark.len() != MARK_LEN {
            return Err(protocol(format!("bad EOF mark in `{}`", show(&header))));
        }
        (Framing::Eof, mark.to_vec())
    } else if let Some(len) = header.strip_prefix(b"$") {
        let len = std::str::from_utf8(len)
            .ok()
            .and_then(|l| l.parse::<u64>().ok())
            .ok_or_else(|| protocol(format!("bad payload header `{}`", show(&header))))?;
        (Framing::Length(len), Vec::new())
    } else if let Some(e) = header.strip_prefix(b"-") {
        let e = String::from_utf8_lossy(e);
        if command == SyncCommand::Sync && !is_auth_error(&e) && !is_transient_error(&e) {
            return Ok(Attempt::Fallback(e.into_owned()));
        }
        return Err(server_error(&e, "the snapshot"));
    } else {
        return Err(protocol(format!(
            "expected the snapshot header, got `{}`",
            show(&header)
        )));
    };
    let (framing, mark) = framing;

    let mut out = TempFile::create(dest)?;
    wait.send_acks = true;
    let total = match framing {
        Framing::Length(n) => Some(n),
        Framing::Eof => None,
    };
    let mut last_report = Instant::now();
    progress(0, total);
    let mut report = |out: &TempFile, force: bool| {
        if force || last_report.elapsed() >= Duration::from_millis(100) {
            last_report = Instant::now();
            progress(out.written, total);
        }
    };
    match framing {
        Framing::Length(len) => {
            let mut left = len;
            while left > 0 {
                if conn.buffered().is_empty() && !wait.fill(&mut conn, cancel)? {
                    return Err(Error::transient(format!(
                        "the node closed the connection after {} of {len} bytes",
                        len - left
                    )));
                }
                let data = conn.buffered();
                let n = data.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                out.write(&data[..n])?;
                conn.consume(n);
                left -= n as u64;
                report(&out, false);
            }
        }
        Framing::Eof => {
            // The mark may straddle reads: hold back the last MARK_LEN - 1
            // bytes until more arrive.
            let mut work: Vec<u8> = Vec::new();
            loop {
                if conn.buffered().is_empty() && !wait.fill(&mut conn, cancel)? {
                    return Err(Error::transient(format!(
                        "the node closed the connection after {} bytes, before the end mark",
                        out.written + work.len() as u64
                    )));
                }
                work.extend_from_slice(conn.buffered());
                let n = conn.buffered().len();
                conn.consume(n);
                if let Some(at) = find(&work, &mark) {
                    // Anything after the mark is the command stream: not ours.
                    out.write(&work[..at])?;
                    break;
                }
                let keep = work.len().min(MARK_LEN - 1);
                out.write(&work[..work.len() - keep])?;
                work.drain(..work.len() - keep);
                report(&out, false);
            }
        }
    }
    check_cancel(cancel)?;
    conn.close();
    let bytes = out.commit(dest)?;
    report(&out, true);
    Ok(Attempt::Done(FetchedRdb {
        path: dest.to_path_buf(),
        bytes,
        framing,
        command,
        replid,
        offset,
        rdb_only,
    }))
}

/// Reads after the sync command: short socket polls, so that `cancel` is
/// seen and `REPLCONF ACK` goes out, with our own idle timeout that any
/// received byte (keep-alive newlines included) resets.
struct Waiter {
    last_data: Instant,
    last_ack: Instant,
    read_timeout: Duration,
    send_acks: bool,
}

impl Waiter {
    /// More bytes into `conn`'s buffer: `false` at end of stream.
    fn fill(&mut self, conn: &mut RespConn, cancel: &AtomicBool) -> Result<bool> {
        loop {
            check_cancel(cancel)?;
            if self.send_acks && self.last_ack.elapsed() >= ACK_EVERY {
                // Tells the node we are alive during a long transfer; it
                // sends no reply.
                conn.write_raw(b"*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$1\r\n0\r\n")?;
                self.last_ack = Instant::now();
            }
            match conn.fill() {
                Ok(0) => return Ok(false),
                Ok(_) => {
                    self.last_data = Instant::now();
                    return Ok(true);
                }
                Err(e) if is_timeout(&e) => {
                    if self.last_data.elapsed() >= self.read_timeout {
                        return Err(Error::transient(format!(
                            "{} sent nothing for {:?}",
                            conn.addr, self.read_timeout
                        )));
                    }
                }
                Err(e) => return Err(conn.io_error(e)),
            }
        }
    }

    /// The next non-empty line, skipping keep-alive newlines.
    fn line(&mut self, conn: &mut RespConn, cancel: &AtomicBool) -> Result<Vec<u8>> {
        loop {
            match conn.take_line() {
                Some(l) if l.is_empty() => continue,
                Some(l) => return Ok(l),
                None => {
                    if !self.fill(conn, cancel)? {
                        return Err(Error::transient(format!(
                            "{} closed the connection during the sync handshake",
                            conn.addr
                        )));
                    }
                }
            }
        }
    }
}

/// First position of `needle` (non-empty) in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = needle[0];
    let last_start = hay.len().checked_sub(needle.len())?;
    let mut i = 0;
    while i <= last_start {
        let o = hay[i..=last_start].iter().position(|&b| b == first)?;
        i += o;
        if &hay[i..i + needle.len()] == needle {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// The temporary file a snapshot is written to; removed on drop unless
/// committed (so an error or a cancel leaves nothing behind).
struct TempFile {
    path: PathBuf,
    file: Option<BufWriter<File>>,
    written: u64,
    head: Vec<u8>,
}

impl TempFile {
    fn create(dest: &Path) -> Result<TempFile> {
        let dir = match dest.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = dest
            .file_name()
            .ok_or_else(|| Error::internal(format!("bad destination {}", dest.display())))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = dir.join(format!(
            ".{}.part-{}-{nanos}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file = File::create(&path)
            .map_err(|e| Error::internal(format!("creating {}: {e}", path.display())))?;
        Ok(TempFile {
            path,
            file: Some(BufWriter::with_capacity(1 << 20, file)),
            written: 0,
            head: Vec::new(),
        })
    }

    fn write(&mut self, data: &[u8]) -> Result<()> {
        if self.head.len() < 9 {
            let take = (9 - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..take]);
            if !magic_possible(&self.head) {
                return Err(protocol(format!(
                    "the payload is not an RDB file (starts with `{}`)",
                    show(&self.head)
                )));
            }
        }
        if let Some(f) = self.file.as_mut() {
            f.write_all(data).map_err(|e| self.disk_error(e))?;
        }
        self.written += data.len() as u64;
        Ok(())
    }

    fn disk_error(&self, e: io::Error) -> Error {
        // A full or broken disk is not the node's fault, and retrying the
        // same write soon will not help: internal.
        Error::internal(format!("writing {}: {e}", self.path.display()))
    }

    /// Flushes, syncs and renames into `dest`; returns the size.
    fn commit(&mut self, dest: &Path) -> Result<u64> {
        if !(self.head.starts_with(b"REDIS") || self.head.starts_with(b"VALKEY"))
            || self.head.len() < 9
        {
            return Err(protocol(format!(
                "the payload ({} bytes) is not an RDB file",
                self.written
            )));
        }
        let f = self.file.take().expect("commit once");
        let file = f
            .into_inner()
            .map_err(|e| self.disk_error(e.into_error()))?;
        file.sync_all().map_err(|e| self.disk_error(e))?;
        drop(file);
        fs::rename(&self.path, dest).map_err(|e| {
            Error::internal(format!(
                "renaming {} to {}: {e}",
                self.path.display(),
                dest.display()
            ))
        })?;
        // Make the rename itself durable.
        if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        self.path = PathBuf::new();
        Ok(self.written)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            self.file = None;
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Whether `head` (the first bytes) can still be the start of an RDB file.
fn magic_possible(head: &[u8]) -> bool {
    [&b"REDIS"[..], b"VALKEY"].iter().any(|m| {
        let n = m.len().min(head.len());
        head[..n] == m[..n]
    })
}

fn protocol(msg: String) -> Error {
    Error::internal(format!("protocol violation: {msg}"))
}

/// A short printable form of a reply line for messages.
fn show(bytes: &[u8]) -> String {
    let mut s: String = bytes
        .iter()
        .take(80)
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect();
    if bytes.len() > 80 {
        s.push('…');
    }
    s
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Error replies that mean "try again later": the node is loading, its own
/// master link is down, it is busy, or it could not fork.
pub(crate) fn is_transient_error(msg: &str) -> bool {
    let code = msg.split_whitespace().next().unwrap_or("");
    if matches!(
        code,
        "LOADING" | "BUSY" | "TRYAGAIN" | "MASTERDOWN" | "NOMASTERLINK" | "CLUSTERDOWN"
    ) {
        return true;
    }
    let lower = msg.to_ascii_lowercase();
    [
        "fork",
        "bgsave failed",
        "busy",
        "try again",
        "loading",
        "not connected with my master",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

/// Error replies that mean bad or missing credentials or permissions.
pub(crate) fn is_auth_error(msg: &str) -> bool {
    let code = msg.split_whitespace().next().unwrap_or("");
    if matches!(code, "NOAUTH" | "WRONGPASS" | "NOPERM") {
        return true;
    }
    let lower = msg.to_ascii_lowercase();
    lower.contains("invalid password")
        || lower.contains("invalid username-password")
        || lower.contains("no password is set")
        || lower.contains("without any password configured")
        || lower.contains("authentication required")
}

/// An error reply from the node as an [`Error`] of the right kind.
pub(crate) fn server_error(msg: &str, what: &str) -> Error {
    let kind = if is_transient_error(msg) {
        ErrorKind::Transient
    } else {
        ErrorKind::Internal
    };
    let hint = if msg.starts_with("NOAUTH") {
        " (the node needs a password: set the app's password)"
    } else if msg.starts_with("WRONGPASS") || is_auth_error(msg) && !msg.starts_with("NOPERM") {
        " (check the app's user and password)"
    } else if msg.starts_with("NOPERM") {
        " (the app's user lacks a permission this needs)"
    } else {
        ""
    };
    Error::new(kind, format!("{what}: the node replied `{msg}`{hint}"))
}

/// A RESP2 reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    /// `+...`
    Status(String),
    /// `-...` (without the dash).
    Error(String),
    /// `:n`
    Int(i64),
    /// `$n` (`None` for the nil bulk).
    Bulk(Option<Vec<u8>>),
    /// `*n` (`None` for the nil array).
    Array(Option<Vec<Reply>>),
}

/// A minimal blocking RESP2 connection with its own read buffer, so callers
/// can mix replies with raw payloads and endless streams.
pub(crate) struct RespConn {
    stream: TcpStream,
    buf: Vec<u8>,
    pos: usize,
    /// Bytes after `pos` already known to hold no `\n`.
    scanned: usize,
    /// The node's `host:port`, for messages.
    pub(crate) addr: String,
}

impl RespConn {
    /// Connects to `addr` (`host:port`); reads and writes time out after
    /// `io_timeout`.
    pub(crate) fn connect(
        addr: &str,
        connect_timeout: Duration,
        io_timeout: Duration,
    ) -> Result<RespConn> {
        let addrs: Vec<_> = addr
            .to_socket_addrs()
            .map_err(|e| Error::transient(format!("cannot resolve {addr}: {e}")))?
            .collect();
        let mut last = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, connect_timeout.max(Duration::from_millis(1))) {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    let conn = RespConn {
                        stream,
                        buf: Vec::new(),
                        pos: 0,
                        scanned: 0,
                        addr: addr.to_string(),
                    };
                    conn.set_read_timeout(io_timeout)?;
                    conn.stream
                        .set_write_timeout(Some(io_timeout.max(Duration::from_millis(1))))?;
                    return Ok(conn);
                }
                Err(e) => last = Some(e),
            }
        }
        let e = last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"));
        Err(Error::from(e).context(format!("connecting to {addr}")))
    }

    /// Sets the socket read timeout.
    pub(crate) fn set_read_timeout(&self, t: Duration) -> Result<()> {
        self.stream
            .set_read_timeout(Some(t.max(Duration::from_millis(1))))
            .map_err(Error::from)
    }

    /// Our side's port.
    pub(crate) fn local_port(&self) -> u16 {
        self.stream.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Appends `args` as a RESP command to `out`.
    pub(crate) fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
        out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
    }

    /// Sends one command (no reply read).
    pub(crate) fn send(&mut self, args: &[&[u8]]) -> Result<()> {
        let mut out = Vec::new();
        RespConn::encode(&mut out, args);
        self.write_raw(&out)
    }

    /// Writes bytes as they are.
    pub(crate) fn write_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_all(bytes).map_err(|e| self.io_error(e))
    }

    /// Sends a command and reads its reply (error replies are `Ok(Reply::Error)`).
    pub(crate) fn command(&mut self, args: &[&[u8]]) -> Result<Reply> {
        self.send(args)?;
        self.read_reply()
    }

    /// `AUTH [user] password` when a password is given; a refusal is an
    /// internal error that says so.
    pub(crate) fn auth(&mut self, user: Option<&str>, password: Option<&str>) -> Result<()> {
        let Some(password) = password else {
            return Ok(());
        };
        let reply = match user {
            Some(u) => self.command(&[b"AUTH", u.as_bytes(), password.as_bytes()])?,
            None => self.command(&[b"AUTH", password.as_bytes()])?,
        };
        match reply {
            Reply::Status(_) => Ok(()),
            Reply::Error(e) if is_transient_error(&e) && !is_auth_error(&e) => {
                Err(server_error(&e, "AUTH"))
            }
            Reply::Error(e) => Err(Error::internal(format!(
                "authentication to {} as {} failed: {e}",
                self.addr,
                user.unwrap_or("the default user")
            ))),
            other => Err(protocol(format!("unexpected AUTH reply {other:?}"))),
        }
    }

    /// An I/O error with the node's address, transient where retrying may help.
    pub(crate) fn io_error(&self, e: io::Error) -> Error {
        if is_timeout(&e) {
            Error::transient(format!("{}: no reply in time ({e})", self.addr))
        } else {
            Error::from(e).context(&self.addr)
        }
    }

    /// Reads more bytes into the buffer; `Ok(0)` at end of stream.
    pub(crate) fn fill(&mut self) -> io::Result<usize> {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos >= 1 << 20 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let old = self.buf.len();
        self.buf.resize(old + 64 * 1024, 0);
        loop {
            match self.stream.read(&mut self.buf[old..]) {
                Ok(n) => {
                    self.buf.truncate(old + n);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.buf.truncate(old);
                    return Err(e);
                }
            }
        }
    }

    /// The bytes read but not consumed yet.
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Marks `n` buffered bytes as consumed.
    pub(crate) fn consume(&mut self, n: usize) {
        self.pos += n;
        self.scanned = 0;
    }

    /// A complete buffered line (ended by `\n`, a `\r` before it removed),
    /// or `None` when none is buffered yet.
    pub(crate) fn take_line(&mut self) -> Option<Vec<u8>> {
        let data = &self.buf[self.pos..];
        match data[self.scanned..].iter().position(|&b| b == b'\n') {
            Some(i) => {
                let end = self.scanned + i;
                let mut line = data[..end].to_vec();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.consume(end + 1);
                Some(line)
            }
            None => {
                self.scanned = data.len();
                None
            }
        }
    }

    /// Reads more into the buffer; the peer closing the connection is a
    /// transient error.
    fn fill_more(&mut self) -> Result<()> {
        match self.fill() {
            Ok(0) => Err(Error::transient(format!(
                "{} closed the connection",
                self.addr
            ))),
            Ok(_) => Ok(()),
            Err(e) => Err(self.io_error(e)),
        }
    }

    /// A line, reading as needed (the socket timeout applies to each read).
    pub(crate) fn read_line(&mut self) -> Result<Vec<u8>> {
        loop {
            if let Some(l) = self.take_line() {
                return Ok(l);
            }
            self.fill_more()?;
        }
    }

    /// Exactly `n` bytes, reading as needed.
    fn read_exact_buffered(&mut self, n: usize) -> Result<Vec<u8>> {
        while self.buffered().len() < n {
            self.fill_more()?;
        }
        let out = self.buffered()[..n].to_vec();
        self.consume(n);
        Ok(out)
    }

    /// One RESP2 reply.
    pub(crate) fn read_reply(&mut self) -> Result<Reply> {
        let line = self.read_line()?;
        let (&kind, rest) = line
            .split_first()
            .ok_or_else(|| protocol(format!("empty reply line from {}", self.addr)))?;
        let text = || String::from_utf8_lossy(rest).into_owned();
        let number = || -> Result<i64> {
            std::str::from_utf8(rest)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| protocol(format!("bad number in `{}`", show(&line))))
        };
        Ok(match kind {
            b'+' => Reply::Status(text()),
            b'-' => Reply::Error(text()),
            b':' => Reply::Int(number()?),
            b'$' => {
                let n = number()?;
                if n < 0 {
                    Reply::Bulk(None)
                } else {
                    let mut data = self.read_exact_buffered(n as usize + 2)?;
                    data.truncate(n as usize);
                    Reply::Bulk(Some(data))
                }
            }
            b'*' => {
                let n = number()?;
                if n < 0 {
                    Reply::Array(None)
                } else {
                    let mut items = Vec::with_capacity((n as usize).min(1 << 16));
                    for _ in 0..n {
                        items.push(self.read_reply()?);
                    }
                    Reply::Array(Some(items))
                }
            }
            _ => return Err(protocol(format!("unexpected reply `{}`", show(&line)))),
        })
    }

    /// Closes both directions now.
    pub(crate) fn close(&self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_mark() {
        assert_eq!(find(b"abcdef", b"cd"), Some(2));
        assert_eq!(find(b"abcdef", b"ef"), Some(4));
        assert_eq!(find(b"abcdef", b"eg"), None);
        assert_eq!(find(b"ab", b"abc"), None);
        assert_eq!(find(b"aab", b"ab"), Some(1));
    }

    #[test]
    fn magic_prefixes() {
        assert!(magic_possible(b""));
        assert!(magic_possible(b"RED"));
        assert!(magic_possible(b"VALKEY080"));
        assert!(magic_possible(b"REDIS0011"));
        assert!(!magic_possible(b"+OK"));
    }

    #[test]
    fn error_kinds() {
        assert!(is_transient_error(
            "LOADING Redis is loading the dataset in memory"
        ));
        assert!(is_transient_error(
            "NOMASTERLINK Can't SYNC while not connected with my master"
        ));
        assert!(is_transient_error(
            "ERR BGSAVE failed, replication can't continue"
        ));
        assert!(!is_transient_error("ERR unknown command 'PSYNC'"));
        assert!(is_auth_error(
            "WRONGPASS invalid username-password pair or user is disabled."
        ));
        assert!(is_auth_error("NOAUTH Authentication required."));
        assert!(is_auth_error("ERR invalid password"));
        assert_eq!(
            server_error("NOAUTH Authentication required.", "x").kind,
            ErrorKind::Internal
        );
    }
}
