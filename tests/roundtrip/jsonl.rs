//! Reading `rdbscope dump --format jsonl` into the same normalised form as a server.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;

use super::model::{Bytes, Consumer, Group, KeyVal, Snapshot, StreamVal, Val};
use super::report::{show, trunc};
use super::server::norm_id;

pub(super) struct Parsed {
    pub(super) snapshot: Snapshot,
    /// The raw line of every key, to check that filtered output repeats it verbatim.
    pub(super) lines: BTreeMap<(u32, Bytes), String>,
    pub(super) problems: Vec<String>,
}

pub(super) fn parse_jsonl(out: &[u8]) -> Parsed {
    let mut p = Parsed {
        snapshot: Snapshot::new(),
        lines: BTreeMap::new(),
        problems: Vec::new(),
    };
    let text = match std::str::from_utf8(out) {
        Ok(t) => t,
        Err(e) => {
            p.problems.push(format!("output is not UTF-8: {e}"));
            return p;
        }
    };
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        if line.trim().is_empty() {
            p.problems.push(format!("line {n}: empty line"));
            continue;
        }
        let j: Json = match serde_json::from_str(line) {
            Ok(j) => j,
            Err(e) => {
                p.problems
                    .push(format!("line {n}: not JSON ({e}): {}", trunc(line)));
                continue;
            }
        };
        let mut warn = Vec::new();
        match json_record(&j, &mut warn) {
            Ok((db, key, kv)) => {
                for w in warn {
                    p.problems
                        .push(format!("line {n} (db{db} {}): {w}", show(&key)));
                }
                if p.snapshot.contains_key(&(db, key.clone())) {
                    p.problems
                        .push(format!("line {n}: db{db} {} appears twice", show(&key)));
                }
                p.lines.insert((db, key.clone()), line.to_string());
                p.snapshot.insert((db, key), kv);
            }
            Err(e) => p.problems.push(format!("line {n}: {e}: {}", trunc(line))),
        }
    }
    p
}

pub(super) fn b64decode(s: &str) -> Result<Bytes, String> {
    let s = s.as_bytes();
    if !s.len().is_multiple_of(4) {
        return Err(format!("base64 length {} is not a multiple of 4", s.len()));
    }
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let nchunks = s.len() / 4;
    let mut out = Vec::with_capacity(nchunks * 3);
    for (ci, chunk) in s.chunks(4).enumerate() {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && ci + 1 != nchunks) {
            return Err("bad base64 padding".into());
        }
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v = if i >= 4 - pad {
                0
            } else {
                val(c).ok_or_else(|| format!("bad base64 byte {:?}", c as char))?
            };
            n = (n << 6) | v;
        }
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8][..3 - pad]);
    }
    Ok(out)
}

/// A byte string: a JSON string, or `{"base64": ...}` for bytes that are not valid UTF-8.
pub(super) fn jbytes(v: &Json, warn: &mut Vec<String>) -> Result<Bytes, String> {
    match v {
        Json::String(s) => Ok(s.as_bytes().to_vec()),
        Json::Object(m) if m.len() == 1 && m.get("base64").is_some_and(Json::is_string) => {
            let b = b64decode(m["base64"].as_str().unwrap_or_default())?;
            if std::str::from_utf8(&b).is_ok() {
                warn.push(format!("valid UTF-8 {} written as base64", show(&b)));
            }
            Ok(b)
        }
        other => Err(format!(
            "expected a string or {{\"base64\":..}}, got {}",
            trunc(&other.to_string())
        )),
    }
}

pub(super) fn jarr<'a>(v: &'a Json, what: &str) -> Result<&'a Vec<Json>, String> {
    v.as_array()
        .ok_or_else(|| format!("{what}: expected an array, got {}", trunc(&v.to_string())))
}

pub(super) fn jint(v: Option<&Json>, what: &str) -> Result<i64, String> {
    v.and_then(Json::as_i64)
        .ok_or_else(|| format!("{what}: expected an integer, got {v:?}"))
}

pub(super) fn jopt_int(v: Option<&Json>, what: &str) -> Result<Option<i64>, String> {
    match v {
        None => Err(format!("{what}: missing")),
        Some(Json::Null) => Ok(None),
        Some(x) => x
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("{what}: expected an integer or null, got {x}")),
    }
}

pub(super) fn jid(v: Option<&Json>, what: &str) -> Result<String, String> {
    let s = v
        .and_then(Json::as_str)
        .ok_or_else(|| format!("{what}: expected an id string, got {v:?}"))?;
    let ok = s
        .split_once('-')
        .is_some_and(|(a, b)| a.parse::<u64>().is_ok() && b.parse::<u64>().is_ok());
    if !ok {
        return Err(format!("{what}: {s:?} is not ms-seq"));
    }
    Ok(s.to_string())
}

pub(super) fn jopt_id(v: Option<&Json>, what: &str) -> Result<Option<String>, String> {
    match v {
        None => Err(format!("{what}: missing")),
        Some(Json::Null) => Ok(None),
        Some(_) => Ok(norm_id(Some(&jid(v, what)?))),
    }
}

pub(super) fn jscore(v: &Json) -> Result<f64, String> {
    match v {
        Json::Number(n) => n.as_f64().ok_or_else(|| format!("score {n}")),
        Json::String(s) if s == "inf" => Ok(f64::INFINITY),
        Json::String(s) if s == "-inf" => Ok(f64::NEG_INFINITY),
        Json::String(s) if s == "nan" => Ok(f64::NAN),
        other => Err(format!("bad score {other}")),
    }
}

pub(super) fn json_record(
    j: &Json,
    warn: &mut Vec<String>,
) -> Result<(u32, Bytes, KeyVal), String> {
    let o = j.as_object().ok_or("not a JSON object")?;
    for f in ["db", "key", "type", "encoding", "expire_at_ms", "value"] {
        if !o.contains_key(f) {
            return Err(format!("missing field {f:?}"));
        }
    }
    let db = o["db"].as_u64().ok_or("db is not a number")? as u32;
    let key = jbytes(&o["key"], warn)?;
    let ty = o["type"].as_str().ok_or("type is not a string")?;
    let encoding = o["encoding"]
        .as_str()
        .ok_or("encoding is not a string")?
        .to_string();
    if encoding.is_empty() {
        warn.push("empty encoding".into());
    }
    let expire = jopt_int(o.get("expire_at_ms"), "expire_at_ms")?;
    let v = &o["value"];
    let (ty, val) = match ty {
        "string" => ("string".to_string(), Val::Str(jbytes(v, warn)?)),
        "list" => {
            let items = jarr(v, "list")?
                .iter()
                .map(|x| jbytes(x, warn))
                .collect::<Result<_, _>>()?;
            ("list".into(), Val::List(items))
        }
        "set" => {
            let items: Vec<Bytes> = jarr(v, "set")?
                .iter()
                .map(|x| jbytes(x, warn))
                .collect::<Result<_, _>>()?;
            let set: BTreeSet<Bytes> = items.iter().cloned().collect();
            if set.len() != items.len() {
                warn.push(format!(
                    "set has {} elements but {} distinct",
                    items.len(),
                    set.len()
                ));
            }
            ("set".into(), Val::Set(set))
        }
        "zset" => {
            let mut z = BTreeMap::new();
            for pair in jarr(v, "zset")? {
                let pair = jarr(pair, "zset element")?;
                if pair.len() != 2 {
                    return Err(format!("zset element of {} items", pair.len()));
                }
                if z.insert(jbytes(&pair[0], warn)?, jscore(&pair[1])?)
                    .is_some()
                {
                    warn.push("duplicate zset member".into());
                }
            }
            ("zset".into(), Val::ZSet(z))
        }
        "hash" => {
            let mut h = BTreeMap::new();
            for item in jarr(v, "hash")? {
                let item = jarr(item, "hash field")?;
                let ttl = match item.len() {
                    2 => None,
                    3 => Some(jint(item.get(2), "field expire")?),
                    n => return Err(format!("hash field entry of {n} items")),
                };
                if h.insert(jbytes(&item[0], warn)?, (jbytes(&item[1], warn)?, ttl))
                    .is_some()
                {
                    warn.push("duplicate hash field".into());
                }
            }
            ("hash".into(), Val::Hash(h))
        }
        "stream" => (
            "stream".into(),
            Val::Stream(Box::new(json_stream(v, warn)?)),
        ),
        "module" => {
            let m = v.as_object().ok_or("module value is not an object")?;
            let name = m
                .get("module")
                .and_then(Json::as_str)
                .ok_or("module name missing")?
                .to_string();
            if !m.get("encver").is_some_and(Json::is_u64) {
                warn.push(format!(
                    "module encver is not a number: {:?}",
                    m.get("encver")
                ));
            }
            if m.get("rdb_bytes")
                .and_then(Json::as_u64)
                .is_none_or(|n| n == 0)
            {
                warn.push(format!(
                    "module rdb_bytes is not a positive number: {:?}",
                    m.get("rdb_bytes")
                ));
            }
            (name.clone(), Val::Module { name, dump: None })
        }
        other => return Err(format!("unknown type {other:?}")),
    };
    Ok((
        db,
        key,
        KeyVal {
            ty,
            encoding: Some(encoding),
            expire,
            val,
        },
    ))
}

pub(super) fn json_stream(v: &Json, warn: &mut Vec<String>) -> Result<StreamVal, String> {
    let o = v.as_object().ok_or("stream value is not an object")?;
    let mut entries = Vec::new();
    for e in jarr(o.get("entries").unwrap_or(&Json::Null), "entries")? {
        let id = jid(e.get("id"), "entry id")?;
        let mut fields = Vec::new();
        for fv in jarr(e.get("fields").unwrap_or(&Json::Null), "entry fields")? {
            let fv = jarr(fv, "entry field")?;
            if fv.len() != 2 {
                return Err(format!("entry {id}: field pair of {} items", fv.len()));
            }
            fields.push((jbytes(&fv[0], warn)?, jbytes(&fv[1], warn)?));
        }
        entries.push((id, fields));
    }
    let mut groups = BTreeMap::new();
    for g in jarr(o.get("groups").unwrap_or(&Json::Null), "groups")? {
        let name = jbytes(g.get("name").unwrap_or(&Json::Null), warn)?;
        let mut pending = Vec::new();
        for p in jarr(g.get("pending").unwrap_or(&Json::Null), "group pending")? {
            pending.push((
                jid(p.get("id"), "pending id")?,
                jint(p.get("delivery_time_ms"), "delivery_time_ms")?,
                jint(p.get("delivery_count"), "delivery_count")?,
            ));
        }
        let mut consumers = BTreeMap::new();
        for cons in jarr(g.get("consumers").unwrap_or(&Json::Null), "consumers")? {
            let pending = jarr(
                cons.get("pending").unwrap_or(&Json::Null),
                "consumer pending",
            )?
            .iter()
            .map(|x| jid(Some(x), "consumer pending id"))
            .collect::<Result<_, _>>()?;
            consumers.insert(
                jbytes(cons.get("name").unwrap_or(&Json::Null), warn)?,
                Consumer {
                    seen_time: jint(cons.get("seen_time_ms"), "seen_time_ms")?,
                    active_time: Some(
                        jopt_int(cons.get("active_time_ms"), "active_time_ms")?.filter(|&t| t >= 0),
                    ),
                    pending,
                },
            );
        }
        groups.insert(
            name,
            Group {
                last_id: jid(g.get("last_id"), "group last_id")?,
                entries_read: Some(jopt_int(g.get("entries_read"), "entries_read")?),
                pending,
                consumers,
            },
        );
    }
    Ok(StreamVal {
        length: jint(o.get("length"), "length")?,
        last_id: jid(o.get("last_id"), "last_id")?,
        first_id: Some(jopt_id(o.get("first_id"), "first_id")?),
        max_deleted_id: Some(jopt_id(o.get("max_deleted_id"), "max_deleted_id")?),
        entries_added: Some(jopt_int(o.get("entries_added"), "entries_added")?),
        entries,
        groups,
    })
}
