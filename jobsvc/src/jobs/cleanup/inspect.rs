//! Reading what the filters need about keys: `TYPE`, `PTTL` and
//! `OBJECT IDLETIME`, pipelined.

use crate::error::Result;
use crate::redis::reply::{int as v_int, text as v_text};
use crate::redis::timed::{self, NODE_IO};

/// `TYPE`, `PTTL` and (when asked) `OBJECT IDLETIME` of each key, pipelined;
/// idle time is read first, as the others do not touch it.
pub(super) fn inspect(
    conn: &mut redis::Connection,
    keys: &[Vec<u8>],
    idle: bool,
) -> Result<Vec<(String, i64, Option<u64>)>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for k in keys {
        if idle {
            pipe.cmd("OBJECT").arg("IDLETIME").arg(&k[..]);
        }
        pipe.cmd("TYPE").arg(&k[..]);
        pipe.cmd("PTTL").arg(&k[..]);
    }
    pipe.ignore_errors();
    let vals: Vec<redis::Value> = timed::query(&pipe, conn, NODE_IO)?;
    let per = if idle { 3 } else { 2 };
    Ok(vals
        .chunks(per)
        .map(|c| {
            let (i, rest) = if idle {
                (v_int(&c[0]).map(|x| x.max(0) as u64), &c[1..])
            } else {
                (None, c)
            };
            // A key gone between the commands reads as type "none".
            let kind = v_text(&rest[0]);
            let pttl = v_int(&rest[1]).unwrap_or(-2);
            (if kind.is_empty() { "none".into() } else { kind }, pttl, i)
        })
        .collect())
}
