//! Values in comparable form (type, then parts; sets and hashes sorted),
//! read from a live node or decoded from an RDB record.

use ::redis::Value as RV;
use rdb_parser::{Element, Scalar, Scratch, StreamId, StreamVisitor};

use crate::error::{Error, Result};
use crate::redis::reply::{bytes, items};
use crate::store::now_ms;

/// A value in comparable form: its type, then its parts (sets and hashes
/// sorted).
pub(super) type Canon = (String, Vec<Vec<u8>>);

pub(super) fn canon_from_redis(
    conn: &mut redis::Connection,
    key: &[u8],
) -> Result<Option<(Canon, Option<i64>)>> {
    let (kind, pttl): (String, i64) = redis::pipe()
        .cmd("TYPE")
        .arg(key)
        .cmd("PTTL")
        .arg(key)
        .query(conn)
        .map_err(Error::from)?;
    let now = now_ms();
    let q = |c: &mut redis::Connection, cmd: &mut redis::Cmd| -> Result<RV> {
        cmd.query(c).map_err(Error::from)
    };
    let flat = |v: &RV| items(v).iter().filter_map(bytes).collect::<Vec<_>>();
    let parts: Vec<Vec<u8>> = match kind.as_str() {
        "none" => return Ok(None),
        "string" => vec![bytes(&q(conn, redis::cmd("GET").arg(key))?).unwrap_or_default()],
        "list" => flat(&q(conn, redis::cmd("LRANGE").arg(key).arg(0).arg(-1))?),
        "set" => {
            let mut v = flat(&q(conn, redis::cmd("SMEMBERS").arg(key))?);
            v.sort();
            v
        }
        "zset" => {
            let v = flat(&q(
                conn,
                redis::cmd("ZRANGE")
                    .arg(key)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES"),
            )?);
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
            let v = flat(&q(conn, redis::cmd("HGETALL").arg(key))?);
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
            for e in items(&q(conn, redis::cmd("XRANGE").arg(key).arg("-").arg("+"))?) {
                let e = items(&e);
                let mut line = e.first().and_then(bytes).unwrap_or_default();
                for f in e.get(1).map(items).unwrap_or_default() {
                    line.push(0);
                    line.extend(bytes(&f).unwrap_or_default());
                }
                out.push(line);
            }
            let mut groups: Vec<Vec<u8>> =
                items(&q(conn, redis::cmd("XINFO").arg("GROUPS").arg(key))?)
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
        other => return Ok(Some(((other.to_string(), Vec::new()), None))),
    };
    Ok(Some(((kind, parts), (pttl >= 0).then_some(now + pttl))))
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
