//! Reading a server back: every key of every db with plain commands.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use testkit::{cmd_args, Client, Reply};

use super::model::{Bytes, Consumer, Features, Group, KeyVal, Snapshot, StreamVal, Val};
use super::report::show;

pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub(super) fn db_count(c: &mut Client) -> u32 {
    c.must(&["CONFIG", "GET", "databases"])
        .into_pairs()
        .and_then(|p| p.first().and_then(|(_, v)| v.as_int()))
        .unwrap_or(16) as u32
}

pub(super) fn dbsizes(c: &mut Client) -> BTreeMap<u32, u64> {
    let mut out = BTreeMap::new();
    for db in 0..db_count(c) {
        c.must(&cmd_args!["SELECT", db.to_string()]);
        let n = c.must(&["DBSIZE"]).as_int().unwrap_or(0) as u64;
        if n > 0 {
            out.insert(db, n);
        }
    }
    c.must(&["SELECT", "0"]);
    out
}

pub(super) fn bulk(r: &Reply) -> Bytes {
    r.as_bytes().map(<[u8]>::to_vec).unwrap_or_default()
}

pub(super) fn id_str(r: Option<&Reply>) -> String {
    r.and_then(Reply::as_str).unwrap_or("?").to_string()
}

/// "0-0" (never set) and nil both become `None`.
pub(super) fn norm_id(s: Option<&str>) -> Option<String> {
    s.filter(|s| *s != "0-0").map(str::to_owned)
}

pub(super) fn arr(r: Option<&Reply>) -> Vec<Reply> {
    r.cloned().and_then(Reply::into_array).unwrap_or_default()
}

/// Every key of every db, read back with plain commands. Also returns inconsistencies between the
/// count commands and the values read (a broken test, not a broken rdbscope).
pub(super) fn snapshot_server(c: &mut Client, f: &Features) -> (Snapshot, Vec<String>) {
    let mut snap = Snapshot::new();
    let mut problems = Vec::new();
    for db in 0..db_count(c) {
        c.must(&cmd_args!["SELECT", db.to_string()]);
        let size = c.must(&["DBSIZE"]).as_int().unwrap_or(0);
        if size == 0 {
            continue;
        }
        let mut keys = BTreeSet::new();
        let mut cursor = b"0".to_vec();
        loop {
            let r = c
                .must(&cmd_args!["SCAN", cursor, "COUNT", "1000"])
                .into_array()
                .expect("SCAN reply");
            cursor = bulk(&r[0]);
            for k in r[1].as_array().unwrap_or_default() {
                keys.insert(bulk(k));
            }
            if cursor == b"0" {
                break;
            }
        }
        if keys.len() as i64 != size {
            problems.push(format!(
                "db{db}: SCAN found {} keys, DBSIZE says {size}",
                keys.len()
            ));
        }
        for key in keys {
            let kv = read_key(c, f, &key, &mut problems);
            snap.insert((db, key), kv);
        }
    }
    c.must(&["SELECT", "0"]);
    (snap, problems)
}

pub(super) fn read_key(
    c: &mut Client,
    f: &Features,
    key: &[u8],
    problems: &mut Vec<String>,
) -> KeyVal {
    let ty = c
        .must(&cmd_args!["TYPE", key])
        .as_str()
        .unwrap_or("?")
        .to_string();
    let encoding = c
        .must(&cmd_args!["OBJECT", "ENCODING", key])
        .as_str()
        .map(str::to_owned);
    let expire = if f.v7 {
        Some(
            c.must(&cmd_args!["PEXPIRETIME", key])
                .as_int()
                .unwrap_or(-3),
        )
        .filter(|&t| t >= 0)
    } else {
        let t = c.must(&cmd_args!["PTTL", key]).as_int().unwrap_or(-3);
        (t >= 0).then(|| now_ms() + t)
    };
    let count_cmd = |name: &str| cmd_args![name, key];
    let (val, count) = match ty.as_str() {
        "string" => (
            Val::Str(bulk(&c.must(&cmd_args!["GET", key]))),
            c.must(&count_cmd("STRLEN")),
        ),
        "list" => {
            let v = c
                .must(&cmd_args!["LRANGE", key, "0", "-1"])
                .into_array()
                .unwrap_or_default();
            (
                Val::List(v.iter().map(bulk).collect()),
                c.must(&count_cmd("LLEN")),
            )
        }
        "set" => {
            let v = c
                .must(&cmd_args!["SMEMBERS", key])
                .into_array()
                .unwrap_or_default();
            (
                Val::Set(v.iter().map(bulk).collect()),
                c.must(&count_cmd("SCARD")),
            )
        }
        "zset" => {
            let v = c
                .must(&cmd_args!["ZRANGE", key, "0", "-1", "WITHSCORES"])
                .into_pairs()
                .unwrap_or_default();
            let z = v
                .iter()
                .map(|(m, s)| (bulk(m), s.as_f64().unwrap_or(f64::NAN)))
                .collect();
            (Val::ZSet(z), c.must(&count_cmd("ZCARD")))
        }
        "hash" => {
            let pairs = c
                .must(&cmd_args!["HGETALL", key])
                .into_pairs()
                .unwrap_or_default();
            let mut h: BTreeMap<Bytes, (Bytes, Option<i64>)> = pairs
                .iter()
                .map(|(k, v)| (bulk(k), (bulk(v), None)))
                .collect();
            if f.hfe && !h.is_empty() {
                let fields: Vec<Bytes> = h.keys().cloned().collect();
                let mut cmd = cmd_args!["HPEXPIRETIME", key, "FIELDS", fields.len().to_string()];
                cmd.extend(fields.iter().cloned());
                let ttls = c.must(&cmd).into_array().unwrap_or_default();
                for (field, t) in fields.iter().zip(ttls) {
                    if let Some(t) = t.as_int().filter(|&t| t >= 0) {
                        h.get_mut(field).expect("field").1 = Some(t);
                    }
                }
            }
            (Val::Hash(h), c.must(&count_cmd("HLEN")))
        }
        "stream" => (
            Val::Stream(Box::new(read_stream(c, f, key))),
            c.must(&count_cmd("XLEN")),
        ),
        other => {
            let dump = c.must(&cmd_args!["DUMP", key]);
            (
                Val::Module {
                    name: other.to_string(),
                    dump: Some(bulk(&dump)),
                },
                Reply::Int(0),
            )
        }
    };
    if count.as_int() != Some(val.count() as i64) {
        problems.push(format!(
            "{}: count command says {count:?}, read {} elements",
            show(key),
            val.count()
        ));
    }
    if let Val::Stream(s) = &val {
        if s.length != s.entries.len() as i64 {
            problems.push(format!(
                "{}: XINFO length {} but XRANGE {} entries",
                show(key),
                s.length,
                s.entries.len()
            ));
        }
    }
    KeyVal {
        ty,
        encoding,
        expire,
        val,
    }
}

pub(super) fn read_stream(c: &mut Client, f: &Features, key: &[u8]) -> StreamVal {
    let entries = c
        .must(&cmd_args!["XRANGE", key, "-", "+"])
        .into_array()
        .unwrap_or_default()
        .into_iter()
        .map(|e| {
            let e = e.into_array().unwrap_or_default();
            let id = id_str(e.first());
            let fields = e
                .get(1)
                .cloned()
                .and_then(Reply::into_pairs)
                .unwrap_or_default()
                .iter()
                .map(|(k, v)| (bulk(k), bulk(v)))
                .collect();
            (id, fields)
        })
        .collect();
    let info = c.must(&cmd_args!["XINFO", "STREAM", key, "FULL", "COUNT", "0"]);
    let mut groups = BTreeMap::new();
    for g in arr(info.get_field("groups")) {
        let pending = arr(g.get_field("pending"))
            .iter()
            .map(|p| {
                let p = p.as_array().unwrap_or_default();
                let int = |i: usize| p.get(i).and_then(Reply::as_int).unwrap_or(-1);
                (id_str(p.first()), int(2), int(3))
            })
            .collect();
        let mut consumers = BTreeMap::new();
        for cons in arr(g.get_field("consumers")) {
            let pending = arr(cons.get_field("pending"))
                .iter()
                .map(|p| id_str(p.as_array().and_then(|a| a.first())))
                .collect();
            consumers.insert(
                cons.get_field("name").map(bulk).unwrap_or_default(),
                Consumer {
                    seen_time: cons
                        .get_field("seen-time")
                        .and_then(Reply::as_int)
                        .unwrap_or(-1),
                    active_time: if f.v72 {
                        Some(
                            cons.get_field("active-time")
                                .and_then(Reply::as_int)
                                .filter(|&t| t >= 0),
                        )
                    } else {
                        None
                    },
                    pending,
                },
            );
        }
        groups.insert(
            g.get_field("name").map(bulk).unwrap_or_default(),
            Group {
                last_id: id_str(g.get_field("last-delivered-id")),
                entries_read: g.get_field("entries-read").map(Reply::as_int),
                pending,
                consumers,
            },
        );
    }
    StreamVal {
        length: info
            .get_field("length")
            .and_then(Reply::as_int)
            .unwrap_or(-1),
        last_id: id_str(info.get_field("last-generated-id")),
        first_id: info
            .get_field("recorded-first-entry-id")
            .map(|r| norm_id(r.as_str())),
        max_deleted_id: info
            .get_field("max-deleted-entry-id")
            .map(|r| norm_id(r.as_str())),
        entries_added: info.get_field("entries-added").map(Reply::as_int),
        entries,
        groups,
    }
}
