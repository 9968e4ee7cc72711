//! Fetching a snapshot as a replica: the sync handshake (`REPLCONF`,
//! `PSYNC ? -1` falling back to `SYNC`), the payload's framing, and the
//! copy of the payload into the snapshot file.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use super::options::{FetchOptions, FetchedRdb, Framing, SyncCommand};
use super::temp_file::TempFile;
use super::waiter::Waiter;
use crate::error::{Error, Result};
use crate::redis::conn::{Reply, RespConn};
use crate::redis::errors::{
    check_cancel, is_auth_error, is_transient_error, protocol, server_error, show,
};

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
const MARK_LEN: usize = 40;

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
    // An rdb-only node closes the link as soon as it has written the
    // snapshot into the socket, without waiting for an ACK; an ACK that
    // reaches it after that is answered with a reset, which throws away
    // what a slow link still carries. So ACKs go only to older nodes.
    wait.send_acks = !rdb_only;
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
}
