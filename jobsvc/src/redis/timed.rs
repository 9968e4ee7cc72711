//! Pipelines whose wait on a node that stops answering is bounded as a
//! whole: one deadline for all the replies of a batch. The `redis` client
//! alone keeps reading after a timed-out reply and waits its read timeout
//! again for each of the others, so a stalled batch of n commands would
//! cost n timeouts; here it costs one, and the connection is given up.

use std::time::{Duration, Instant};

use super::errors::server_error;
use crate::error::{Error, Result, TIMED_OUT};

/// The read timeout of a job's connection to a node (`registry::connect`
/// with its 5 s connect timeout): a cleanup's, a migration's source, a
/// backup's reads.
pub const NODE_IO: Duration = Duration::from_secs(20);

/// The read timeout of a migration's (and a restore's) connections to its
/// target, and of a plan's live count (`registry::connect` with 3 s).
pub const TARGET_IO: Duration = Duration::from_secs(12);

/// Sends `pipe` on `conn` and reads its replies, all of them within
/// `budget` of the send: a node that stops answering mid-batch fails it
/// after one `budget` (a transient error saying `timed out waiting for the
/// node`). Error replies come back as values (`Value::ServerError`), as
/// with `ignore_errors()`. The pipeline must not be `atomic()` nor have
/// `ignore()`d commands: there is one reply per command.
///
/// After an error the connection's replies are out of step with its
/// commands: the caller drops it. After success its read timeout is
/// `budget` again.
pub fn query(
    pipe: &redis::Pipeline,
    conn: &mut redis::Connection,
    budget: Duration,
) -> Result<Vec<redis::Value>> {
    let n = pipe.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let deadline = Instant::now() + budget;
    send(pipe, conn)?;
    replies(conn, n, deadline, budget)
}

/// Sends `pipe` on `conn` without reading its replies (bounded by the
/// connection's write timeout): for several nodes written at once, each
/// node's replies then read by [`replies`] against the deadline taken
/// before its send.
pub fn send(pipe: &redis::Pipeline, conn: &mut redis::Connection) -> Result<()> {
    conn.send_packed_command(&pipe.get_packed_pipeline())
        .map_err(Error::from)
}

/// [`send`] of a pipeline already written as RESP (its replies then read
/// by [`replies`]).
pub fn send_packed(packed: &[u8], conn: &mut redis::Connection) -> Result<()> {
    conn.send_packed_command(packed).map_err(Error::from)
}

/// Reads `n` replies of a batch sent on `conn`, all of them by `deadline`
/// (give or take a fiftieth of `budget`: the socket's timeout is not set
/// again for every reply) (a transient `timed out waiting for the node` error otherwise; the
/// caller drops the connection after any error); `budget` names the wait
/// in the message and is the connection's read timeout again after.
pub fn replies(
    conn: &mut redis::Connection,
    n: usize,
    deadline: Instant,
    budget: Duration,
) -> Result<Vec<redis::Value>> {
    let mut out = Vec::with_capacity(n);
    // The socket's read timeout is moved to the deadline again only once
    // `slack` has passed since it was last set (a system call per many
    // replies, not per reply): a read ends by the deadline plus `slack`.
    let slack = budget / 50;
    let mut set_at: Option<Instant> = None;
    while out.len() < n {
        let now = Instant::now();
        let left = deadline.saturating_duration_since(now);
        if left.is_zero() {
            return Err(Error::transient(format!(
                "{TIMED_OUT}: {} of {n} replies within {:.1} s",
                out.len(),
                budget.as_secs_f64()
            )));
        }
        if set_at.is_none_or(|t| now.duration_since(t) >= slack) {
            conn.set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .map_err(Error::from)?;
            set_at = Some(now);
        }
        match conn.recv_response() {
            // RESP3 push data is not a reply (the service speaks RESP2).
            Ok(redis::Value::Push { .. }) => {}
            Ok(v) => out.push(v),
            Err(e) => {
                let e = Error::from(e);
                return Err(if e.is_timeout() {
                    Error::transient(format!(
                        "{TIMED_OUT}: {} of {n} replies within {:.1} s",
                        out.len(),
                        budget.as_secs_f64()
                    ))
                } else {
                    e
                });
            }
        }
    }
    conn.set_read_timeout(Some(budget)).map_err(Error::from)?;
    Ok(out)
}

/// [`query`], where an error reply fails the batch (as a pipeline without
/// `ignore_errors()` does): transient for `LOADING`, `BUSY` and the like.
pub fn query_ok(
    pipe: &redis::Pipeline,
    conn: &mut redis::Connection,
    budget: Duration,
) -> Result<Vec<redis::Value>> {
    let replies = query(pipe, conn, budget)?;
    if let Some(msg) = replies.iter().find_map(|v| match v {
        redis::Value::ServerError(e) => {
            Some(format!("{} {}", e.code(), e.details().unwrap_or_default()))
        }
        _ => None,
    }) {
        return Err(server_error(msg.trim_end(), "a command of the batch"));
    }
    Ok(replies)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// A node that answers the first two commands and then stalls (holds
    /// the connection, says nothing) until the test ends.
    fn stalling_node() -> (u16, std::sync::mpsc::Sender<()>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            s.write_all(b"+PONG\r\n-LOADING not yet\r\n").unwrap();
            let _ = rx.recv();
        });
        (port, tx)
    }

    #[test]
    fn a_stalled_batch_costs_one_budget_not_one_per_reply() {
        let (port, stop) = stalling_node();
        let creds = crate::registry::Credentials::default();
        let mut c =
            crate::registry::connect(&format!("127.0.0.1:{port}"), &creds, Duration::from_secs(2))
                .unwrap();
        let mut pipe = redis::pipe();
        for _ in 0..40 {
            pipe.cmd("PING");
        }
        let budget = Duration::from_millis(300);
        let t = Instant::now();
        let e = query(&pipe, &mut c, budget).unwrap_err();
        let took = t.elapsed();
        assert!(e.is_transient() && e.is_timeout(), "{e:?}");
        assert!(e.message.contains("2 of 40 replies"), "{e:?}");
        // Reading reply after reply, each with the budget, takes 38 budgets
        // (11 s); one budget with a generous margin for a busy machine.
        assert!(took < budget * 10, "{took:?}");
        drop(stop);
    }

    #[test]
    fn error_replies_are_values_or_fail_the_batch() {
        let (port, stop) = stalling_node();
        let creds = crate::registry::Credentials::default();
        let mut c =
            crate::registry::connect(&format!("127.0.0.1:{port}"), &creds, Duration::from_secs(2))
                .unwrap();
        let mut pipe = redis::pipe();
        pipe.cmd("PING").cmd("PING");
        let v = query(&pipe, &mut c, Duration::from_secs(2)).unwrap();
        assert!(matches!(v[1], redis::Value::ServerError(_)), "{v:?}");
        drop(stop);
        let (port, stop) = stalling_node();
        let mut c =
            crate::registry::connect(&format!("127.0.0.1:{port}"), &creds, Duration::from_secs(2))
                .unwrap();
        let e = query_ok(&pipe, &mut c, Duration::from_secs(2)).unwrap_err();
        assert!(e.is_transient(), "{e:?}");
        assert!(e.message.contains("`LOADING not yet`"), "{e:?}");
        drop(stop);
    }
}
