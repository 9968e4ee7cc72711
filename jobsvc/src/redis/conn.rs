//! A minimal blocking RESP2 connection with its own read buffer, so callers
//! can mix replies with raw payloads and endless streams (shared with the
//! hot-key sampler).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::errors::{is_auth_error, is_timeout, is_transient_error, protocol, server_error, show};
use crate::error::{Error, Result};

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
