//! The verification after the copy: key counts per db on both sides, and a
//! sample of the written keys compared by value and TTL.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use rdb_parser::{Chunk, Record, Scratch};
use serde_json::{json, Value};

use super::canon::{canon_from_redis, canon_from_value, Canon};
use super::checkpoint::LIST_CAP;
use super::params::MigrationParams;
use super::source::Src;
use super::write::Ctx;
use crate::error::{Error, Result};
use crate::redis::keys::{hex, show, unhex_lossy as unhex};
use crate::store::now_ms;

/// TTLs compared in the verification may differ by this much.
pub(super) const TTL_TOLERANCE_MS: i64 = 2_000;

/// Counts per db on both sides and compares the sample.
pub(super) fn verify(m: &mut Ctx<'_>, src: &mut Src, sample_path: &Path) -> Result<Value> {
    let p = m.p;
    let now = now_ms();
    // Source counts per source db, now.
    let mut source_counts: BTreeMap<u32, u64> = BTreeMap::new();
    match src {
        Src::Files(f) => {
            for i in 0..f.files.len() {
                let rdb = f.rdb(i)?;
                let mut keybuf = Vec::new();
                for e in rdb.entries() {
                    let e = e.map_err(|e| Error::internal(e.to_string()))?;
                    let key = e
                        .key
                        .bytes(&mut keybuf)
                        .map_err(|e| Error::internal(e.to_string()))?;
                    if p.selects_db(e.db as u32)
                        && p.selects_key(key)
                        && p.selects_type(e.kind().name())
                        && e.expire_at_ms.is_none_or(|t| t > now)
                        && !is_empty_collection(&e.value)
                    {
                        *source_counts.entry(e.db as u32).or_default() += 1;
                    }
                }
            }
        }
        Src::Live(l) => {
            for db in l.dbs.clone() {
                let mut n = 0;
                for master in l.masters.clone() {
                    n += count_matching(l.conn(&master, db)?, p)?;
                }
                source_counts.insert(db, n);
            }
        }
    }
    // Target counts per target db.
    let mut by_target: BTreeMap<u32, (u64, u64, u64)> = BTreeMap::new();
    for (db, n) in &source_counts {
        let failed = m.st.per_db.get(db).map_or(0, |c| c.failed + c.empty);
        let e = by_target.entry(p.target_db(*db)).or_default();
        e.0 += n;
        e.2 += failed;
    }
    let mut mismatches: Vec<Value> = Vec::new();
    let mut mismatch_count = 0u64;
    let mut counts = Vec::new();
    for (tdb, (expected, actual, failed)) in by_target.iter_mut() {
        m.target.db = *tdb;
        for addr in m.target.addrs.clone() {
            *actual += count_matching(m.target.conn(&addr)?, p)?;
        }
        let ok = *actual + *failed >= *expected;
        if !ok {
            mismatch_count += 1;
            mismatches
                .push(json!({"db": tdb, "kind": "count", "source": expected, "target": actual}));
        }
        counts.push(json!({"target_db": tdb, "source_keys": expected, "target_keys": actual, "failed": failed, "ok": ok}));
    }
    // The sample.
    let text = std::fs::read_to_string(sample_path).unwrap_or_default();
    let mut seen = HashSet::new();
    let mut sample: Vec<(u32, Vec<u8>, Option<u64>, bool)> = Vec::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let key = unhex(v["key"].as_str().unwrap_or_default());
        let db = v["db"].as_u64().unwrap_or(0) as u32;
        if seen.insert((db, key.clone())) {
            sample.push((
                db,
                key,
                v["offset"].as_u64(),
                v["big"].as_bool().unwrap_or(false),
            ));
        }
    }
    let (mut compared, mut expired_since, mut big) = (0u64, 0u64, 0u64);
    for (i, (db, key, offset, is_big)) in sample.iter().enumerate() {
        if i % 50 == 0 {
            m.ctx.check_cancel()?;
            m.ctx.progress(
                "verifying",
                92.0 + 7.0 * i as f64 / sample.len() as f64,
                json!({"compared": compared, "of": sample.len()}),
                false,
            );
        }
        let src_val: Option<(Canon, Option<i64>)> = match (&mut *src, offset) {
            (Src::Files(f), Some(off)) => {
                let mut found = None;
                for fi in 0..f.files.len() {
                    let rdb = f.rdb(fi)?;
                    if *off >= rdb.data().len() as u64 {
                        continue;
                    }
                    let chunk = Chunk {
                        index: 0,
                        start: *off,
                        end: rdb.data().len() as u64,
                        db: u64::from(*db),
                        last: false,
                    };
                    if let Some(Ok(Record::Entry(e))) = rdb.chunk_records(&chunk).next() {
                        let mut kb = Vec::new();
                        if e.key.bytes(&mut kb).ok() == Some(key.as_slice()) {
                            found = Some((canon_from_value(&e.value)?, e.expire_at_ms));
                            break;
                        }
                    }
                }
                found
            }
            (Src::Live(l), _) => {
                let mut v = None;
                for master in l.masters.clone() {
                    // A cluster master that does not own the key answers MOVED.
                    if let Ok(Some(x)) = canon_from_redis(l.conn(&master, *db)?, key) {
                        v = Some(x);
                        break;
                    }
                }
                v
            }
            _ => None,
        };
        let Some((src_canon, src_exp)) = src_val else {
            expired_since += 1; // gone from a live source since
            continue;
        };
        if src_exp.is_some_and(|t| t <= now_ms() + 500) {
            expired_since += 1;
            continue;
        }
        m.target.db = p.target_db(*db);
        let node = m.target.node_for(key).unwrap_or_default();
        let tgt = match m.target.conn(&node) {
            Ok(c) => canon_from_redis(c, key),
            Err(e) => Err(e),
        };
        let tgt = match tgt {
            Ok(v) => v,
            Err(e) if e.message.contains("MOVED") || e.is_transient() => {
                m.target.refresh();
                let node = m.target.node_for(key).unwrap_or_default();
                canon_from_redis(m.target.conn(&node)?, key)?
            }
            Err(e) => return Err(e),
        };
        compared += 1;
        if *is_big {
            big += 1;
        }
        let why = match tgt {
            None => Some("missing on the target".to_string()),
            Some((c, _)) if c.0 != src_canon.0 => Some(format!(
                "type {} on the target, {} on the source",
                c.0, src_canon.0
            )),
            Some((c, _)) if c.0 != "module" && c.1 != src_canon.1 => Some(format!(
                "value differs ({} parts on the target, {} on the source)",
                c.1.len(),
                src_canon.1.len()
            )),
            Some((_, t)) => match (t, src_exp) {
                (None, None) => None,
                (Some(a), Some(b)) if (a - b).abs() <= TTL_TOLERANCE_MS => None,
                (a, b) => Some(format!(
                    "expire time {a:?} on the target, {b:?} on the source"
                )),
            },
        };
        if let Some(why) = why {
            mismatch_count += 1;
            if mismatches.len() < LIST_CAP {
                mismatches.push(json!({"db": db, "key": show(key), "key_hex": hex(key), "kind": "value", "why": why}));
            }
        }
    }
    Ok(json!({
        "counts": counts,
        "sample_keys": sample.len(),
        "compared": compared,
        "big_keys_compared": big,
        "expired_since": expired_since,
        "sample_percent": p.verify_percent,
        "mismatch_count": mismatch_count,
        "mismatches": mismatches,
    }))
}

pub(super) fn is_empty_collection(v: &rdb_parser::Value<'_>) -> bool {
    match v.kind() {
        rdb_parser::Kind::String | rdb_parser::Kind::Module | rdb_parser::Kind::Stream => false,
        _ => v
            .element_count(&mut Scratch::new())
            .map(|n| n == 0)
            .unwrap_or(false),
    }
}

/// Keys of the connection's db that match the filters (a `SCAN`).
pub(super) fn count_matching(conn: &mut redis::Connection, p: &MigrationParams) -> Result<u64> {
    let mut cursor = 0u64;
    let mut n = 0;
    loop {
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(cursor);
        if p.patterns.len() == 1 {
            cmd.arg("MATCH").arg(p.patterns[0].glob());
        }
        cmd.arg("COUNT").arg(1000);
        if let Some(t) = &p.key_type {
            cmd.arg("TYPE").arg(t);
        }
        let (next, keys): (u64, Vec<Vec<u8>>) = cmd.query(conn).map_err(Error::from)?;
        n += keys
            .iter()
            .filter(|k| p.selects_key(k) && !k.windows(12).any(|w| w == b"migrate-tmp:"))
            .count() as u64;
        cursor = next;
        if cursor == 0 {
            return Ok(n);
        }
    }
}
