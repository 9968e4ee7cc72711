//! Reading after the sync command: short socket polls so that a cancel is
//! seen and `REPLCONF ACK` goes out, with our own idle timeout.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::redis::conn::RespConn;
use crate::redis::errors::{check_cancel, is_timeout};

const ACK_EVERY: Duration = Duration::from_secs(1);

/// Reads after the sync command: short socket polls, so that `cancel` is
/// seen and `REPLCONF ACK` goes out, with our own idle timeout that any
/// received byte (keep-alive newlines included) resets.
pub(super) struct Waiter {
    /// When a byte last arrived.
    pub(super) last_data: Instant,
    /// When `REPLCONF ACK` was last sent.
    pub(super) last_ack: Instant,
    /// How long the node may send nothing at all.
    pub(super) read_timeout: Duration,
    /// Whether to send `REPLCONF ACK` (once the payload flows).
    pub(super) send_acks: bool,
}

impl Waiter {
    /// More bytes into `conn`'s buffer: `false` at end of stream.
    pub(super) fn fill(&mut self, conn: &mut RespConn, cancel: &AtomicBool) -> Result<bool> {
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
    pub(super) fn line(&mut self, conn: &mut RespConn, cancel: &AtomicBool) -> Result<Vec<u8>> {
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
