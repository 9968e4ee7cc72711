//! Pipelines whose wait on a node that stops answering is bounded as a
//! whole: the `redis` client waits its read timeout once per reply of a
//! pipeline (it keeps reading after a timed-out reply), so while a pipeline
//! runs the read timeout is shared among its replies.

use std::time::Duration;

use crate::error::{Error, Result};

/// The read timeout of a job's connection to a node (`registry::connect`
/// with its 5 s connect timeout).
pub const NODE_IO: Duration = Duration::from_secs(20);

/// The wait for one reply of a pipeline is never shorter than this.
const MIN_WAIT: Duration = Duration::from_millis(250);

/// Runs `pipe` on `conn`, waiting at most about `max(budget, replies × 0.25 s)`
/// for a node that stops answering; the read timeout is `budget` again
/// afterwards.
pub fn query<T: redis::FromRedisValue>(
    pipe: &redis::Pipeline,
    conn: &mut redis::Connection,
    budget: Duration,
) -> Result<T> {
    let n = pipe.len().max(1) as u32;
    conn.set_read_timeout(Some((budget / n).max(MIN_WAIT)))
        .map_err(Error::from)?;
    let r = pipe.query(conn);
    let restored = conn.set_read_timeout(Some(budget));
    let v = r.map_err(Error::from)?;
    restored.map_err(Error::from)?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_is_shared_among_the_replies() {
        assert_eq!(NODE_IO / 5, Duration::from_secs(4));
        assert_eq!((NODE_IO / 100).max(MIN_WAIT), MIN_WAIT);
    }
}
