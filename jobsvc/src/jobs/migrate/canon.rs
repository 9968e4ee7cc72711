//! Values in comparable form (type, then parts; sets and hashes sorted),
//! read from a live node (many keys per round trip) or decoded from an RDB
//! record.

use ::redis::Value as RV;
use rdb_parser::{Element, Scalar, Scratch, StreamId, StreamVisitor};

use std::time::Duration;

use crate::error::{Error, Result};
use crate::redis::reply::{bytes, int, items, server_error as server_error_reply, text};
use crate::redis::server_error;
use crate::redis::timed;
use crate::store::now_ms;

/// A value in comparable form: its type, then its parts (sets and hashes
/// sorted).
pub(super) type Canon = (String, Vec<Vec<u8>>);

/// A key's value as read from a node: its comparable form and absolute
/// expire time, `None` when the key is not there, or the node's error reply
/// as text (a `MOVED` from a cluster master that does not own the key).
pub(super) type NodeRead = std::result::Result<Option<(Canon, Option<i64>)>, String>;

/// One key's value on `conn` (see [`canon_many`]); an error reply is an
/// error (transient where retrying may help).
pub(super) fn canon_from_redis(
    conn: &mut redis::Connection,
    key: &[u8],
    budget: Duration,
) -> Result<Option<(Canon, Option<i64>)>> {
    match canon_many(conn, &[key], budget)?.pop() {
        Some(Ok(v)) => Ok(v),
        Some(Err(msg)) => Err(server_error(&msg, "reading a key to verify it")),
        None => Ok(None),
    }
}

/// The values of `keys` on `conn` in two pipelined round trips whatever
/// their number: `TYPE` + `PTTL` of each, then the reads each type needs.
/// Each round trip's replies come within one `budget` ([`timed`]); after
/// an error the caller drops the connection.
pub(super) fn canon_many(
    conn: &mut redis::Connection,
    keys: &[&[u8]],
    budget: Duration,
) -> Result<Vec<NodeRead>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for k in keys {
        pipe.cmd("TYPE").arg(*k).cmd("PTTL").arg(*k);
    }
    let head = timed::query(&pipe, conn, budget)?;
    let now = now_ms();
    let mut out: Vec<NodeRead> = Vec::with_capacity(keys.len());
    // Per key still to read: its kind, expire time, and how many replies.
    let mut asked: Vec<(usize, String, Option<i64>, usize)> = Vec::new();
    let mut pipe = redis::pipe();
    for (i, k) in keys.iter().enumerate() {
        let (t, ttl) = (&head[2 * i], &head[2 * i + 1]);
        if let Some((code, details)) = server_error_reply(t).or_else(|| server_error_reply(ttl)) {
            out.push(Err(format!("{code} {details}")));
            continue;
        }
        let kind = text(t);
        let pttl = int(ttl).unwrap_or(-2);
        let expire = (pttl >= 0).then_some(now + pttl);
        let n = match kind.as_str() {
            "none" => {
                out.push(Ok(None));
                continue;
            }
            "string" => {
                pipe.cmd("GET").arg(*k);
                1
            }
            "list" => {
                pipe.cmd("LRANGE").arg(*k).arg(0).arg(-1);
                1
            }
            "set" => {
                pipe.cmd("SMEMBERS").arg(*k);
                1
            }
            "zset" => {
                pipe.cmd("ZRANGE").arg(*k).arg(0).arg(-1).arg("WITHSCORES");
                1
            }
            "hash" => {
                pipe.cmd("HGETALL").arg(*k);
                1
            }
            "stream" => {
                pipe.cmd("XRANGE").arg(*k).arg("-").arg("+");
                pipe.cmd("XINFO").arg("GROUPS").arg(*k);
                2
            }
            // A module's value is compared by type only.
            _ => {
                out.push(Ok(Some(((kind, Vec::new()), None))));
                continue;
            }
        };
        out.push(Ok(None));
        asked.push((i, kind, expire, n));
    }
    let replies = timed::query(&pipe, conn, budget)?;
    let mut at = 0;
    for (i, kind, expire, n) in asked {
        let mine = &replies[at..at + n];
        at += n;
        out[i] = match mine.iter().find_map(server_error_reply) {
            Some((code, details)) => Err(format!("{code} {details}")),
            None => Ok(Some(((kind.clone(), parts_of(&kind, mine)), expire))),
        };
    }
    Ok(out)
}

/// The comparable parts of a value of type `kind` from its read replies.
fn parts_of(kind: &str, r: &[RV]) -> Vec<Vec<u8>> {
    let flat = |v: &RV| items(v).iter().filter_map(bytes).collect::<Vec<_>>();
    match kind {
        "string" => vec![bytes(&r[0]).unwrap_or_default()],
        "list" => flat(&r[0]),
        "set" => {
            let mut v = flat(&r[0]);
            v.sort();
            v
        }
        "zset" => {
            let v = flat(&r[0]);
            let mut pairs: Vec<Vec<u8>> = v
                .chunks(2)
                .map(|c| {
                    let score: f64 =
                        std::str::from_utf8(c.get(1).map(Vec::as_slice).unwrap_or_default())
                            .ok()
                            .and_then(|s| s.parse().ok())
                            .unwrap_or(f64::NAN);
                    let mut m = c[0].clone();
                    m.push(0);
                    m.extend_from_slice(rdb_parser::restore::format_score(score).as_bytes());
                    m
                })
                .collect();
            pairs.sort();
            pairs
        }
        "hash" => {
            let v = flat(&r[0]);
            let mut pairs: Vec<Vec<u8>> = v
                .chunks(2)
                .map(|c| {
                    [
                        c[0].as_slice(),
                        b"\0",
                        c.get(1).map(Vec::as_slice).unwrap_or_default(),
                    ]
                    .concat()
                })
                .collect();
            pairs.sort();
            pairs
        }
        "stream" => {
            let mut out = Vec::new();
            for e in items(&r[0]) {
                let e = items(&e);
                let mut line = e.first().and_then(bytes).unwrap_or_default();
                for f in e.get(1).map(items).unwrap_or_default() {
                    line.push(0);
                    line.extend(bytes(&f).unwrap_or_default());
                }
                out.push(line);
            }
            let mut groups: Vec<Vec<u8>> = items(&r[1])
                .iter()
                .map(|g| {
                    let kv = items(g);
                    let get = |name: &str| {
                        kv.chunks(2)
                            .find(|c| bytes(&c[0]).as_deref() == Some(name.as_bytes()))
                            .and_then(|c| c.get(1).and_then(bytes))
                            .unwrap_or_default()
                    };
                    [
                        b"group\0".to_vec(),
                        get("name"),
                        b"\0".to_vec(),
                        get("last-delivered-id"),
                        b"\0".to_vec(),
                        get("pending"),
                    ]
                    .concat()
                })
                .collect();
            groups.sort();
            out.extend(groups);
            out
        }
        _ => Vec::new(),
    }
}

#[derive(Default)]
pub(super) struct StreamCanon {
    pub(super) entries: Vec<Vec<u8>>,
    pub(super) groups: Vec<Vec<u8>>,
}

impl StreamVisitor for StreamCanon {
    fn entry(&mut self, id: StreamId, fields: &[(Scalar<'_>, Scalar<'_>)]) {
        let mut line = id.to_string().into_bytes();
        for (f, v) in fields {
            line.push(0);
            f.push_to(&mut line);
            line.push(0);
            v.push_to(&mut line);
        }
        self.entries.push(line);
    }
    fn group(&mut self, name: &[u8], last_id: StreamId, _entries_read: Option<i64>, pending: u64) {
        self.groups.push(
            [
                b"group\0".as_slice(),
                name,
                b"\0",
                last_id.to_string().as_bytes(),
                b"\0",
                pending.to_string().as_bytes(),
            ]
            .concat(),
        );
    }
}

pub(super) fn canon_from_value(v: &rdb_parser::Value<'_>) -> Result<Canon> {
    let bad = |e: rdb_parser::Error| Error::internal(format!("reading the source value: {e}"));
    let kind = v.kind().name().to_string();
    let mut scratch = Scratch::new();
    let mut parts = Vec::new();
    match v.kind() {
        rdb_parser::Kind::String => {
            let mut buf = Vec::new();
            parts.push(
                v.as_string()
                    .map_err(bad)?
                    .bytes(&mut buf)
                    .map_err(bad)?
                    .to_vec(),
            );
        }
        rdb_parser::Kind::Stream => {
            let mut s = StreamCanon::default();
            v.walk_stream(&mut scratch, &mut s).map_err(bad)?;
            s.groups.sort();
            parts = s.entries;
            parts.extend(s.groups);
        }
        rdb_parser::Kind::Module => {}
        rdb_parser::Kind::Array => {
            v.walk_array(&mut scratch, |i, item| {
                let mut b = i.to_string().into_bytes();
                b.push(0);
                item.push_to(&mut b);
                parts.push(b);
            })
            .map_err(bad)?;
        }
        k => {
            v.for_each_element(&mut scratch, |el| match el {
                Element::Member(m) => {
                    let mut b = Vec::new();
                    m.push_to(&mut b);
                    parts.push(b);
                }
                Element::Scored { member, score } => {
                    let mut b = Vec::new();
                    member.push_to(&mut b);
                    b.push(0);
                    b.extend_from_slice(rdb_parser::restore::format_score(score).as_bytes());
                    parts.push(b);
                }
                Element::Field { field, value, .. } => {
                    let mut b = Vec::new();
                    field.push_to(&mut b);
                    b.push(0);
                    value.push_to(&mut b);
                    parts.push(b);
                }
            })
            .map_err(bad)?;
            if k != rdb_parser::Kind::List {
                parts.sort();
            }
        }
    }
    Ok((kind, parts))
}
