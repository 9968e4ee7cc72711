//! The verification after the copy: key counts per db on both sides, and a
//! sample of the written keys compared by value and TTL, read a few hundred
//! keys per round trip on each side.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use rdb_parser::{Chunk, Record, Scratch};
use serde_json::{json, Value};

use super::canon::{canon_from_redis, canon_from_value, canon_many, Canon};
use super::checkpoint::LIST_CAP;
use super::params::MigrationParams;
use super::source::Src;
use super::write::Ctx;
use crate::error::{Error, Result};
use crate::redis::keys::{hex, show, unhex_lossy as unhex};
use crate::redis::timed::{self, NODE_IO, TARGET_IO};
use crate::store::now_ms;

/// TTLs compared in the verification may differ by this much.
pub(super) const TTL_TOLERANCE_MS: i64 = 2_000;

/// Sampled keys read per pipeline on each side.
const SAMPLE_CHUNK: usize = 256;

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
        // A db empty when the ticket began holds only keys that came since.
        let by_dbsize = m.st.empty_at_start(*tdb);
        let n = if by_dbsize {
            m.target.dbsize()
        } else {
            count_target(m, p)
        };
        *actual += n.map_err(|e| e.context("counting the target's keys"))?;
        let ok = *actual + *failed >= *expected;
        if !ok {
            mismatch_count += 1;
            mismatches
                .push(json!({"db": tdb, "kind": "count", "source": expected, "target": actual}));
        }
        counts.push(json!({"target_db": tdb, "source_keys": expected, "target_keys": actual, "failed": failed, "ok": ok,
            "counted_by": if by_dbsize { "dbsize" } else { "scan" }}));
    }
    // The sample.
    let text = std::fs::read_to_string(sample_path).unwrap_or_default();
    let mut seen = HashSet::new();
    let mut sample: Vec<Sampled> = Vec::new();
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
    for (n, part) in sample.chunks(SAMPLE_CHUNK).enumerate() {
        m.ctx.check_cancel()?;
        m.ctx.progress(
            "verifying",
            92.0 + 7.0 * (n * SAMPLE_CHUNK) as f64 / sample.len() as f64,
            json!({"compared": compared, "of": sample.len()}),
            false,
        );
        // Both sides of the part, read many keys per round trip.
        let src_vals = source_values(src, part)?;
        let tgt_vals = target_values(m, part)?;
        for (((db, key, _, is_big), src_val), tgt) in part.iter().zip(src_vals).zip(tgt_vals) {
            let Some((src_canon, src_exp)) = src_val else {
                expired_since += 1; // gone from a live source since
                continue;
            };
            if src_exp.is_some_and(|t| t <= now_ms() + 500) {
                expired_since += 1;
                continue;
            }
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

/// The keys of the target's current db that match the filters, every
/// master scanned at once.
fn count_target(m: &mut Ctx<'_>, p: &MigrationParams) -> Result<u64> {
    let addrs = m.target.addrs.clone();
    for addr in &addrs {
        m.target.conn(addr)?;
    }
    let mut conns: Vec<&mut redis::Connection> = m
        .target
        .conns
        .iter_mut()
        .filter(|(a, _)| addrs.contains(a))
        .map(|(_, (c, _))| c)
        .collect();
    count_all(&mut conns, p, TARGET_IO).inspect_err(|_| m.target.conns.clear())
}

/// A sampled key: source db, key, record offset (file sources), big.
type Sampled = (u32, Vec<u8>, Option<u64>, bool);

/// A value with its absolute expire time, as compared.
type Val = Option<(Canon, Option<i64>)>;

/// The source's values of a part of the sample: from the files, or from the
/// live masters, many keys per round trip (a key a master does not own is
/// asked of the next).
fn source_values(src: &mut Src, part: &[Sampled]) -> Result<Vec<Val>> {
    let mut out: Vec<Val> = vec![None; part.len()];
    match src {
        Src::Files(f) => {
            for (i, (db, key, offset, _)) in part.iter().enumerate() {
                let Some(off) = offset else { continue };
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
                            out[i] = Some((canon_from_value(&e.value)?, e.expire_at_ms));
                            break;
                        }
                    }
                }
            }
        }
        Src::Live(l) => {
            for db in dbs_of(part) {
                let mut left: Vec<usize> = (0..part.len()).filter(|&i| part[i].0 == db).collect();
                for master in l.masters.clone() {
                    if left.is_empty() {
                        break;
                    }
                    let keys: Vec<&[u8]> = left.iter().map(|&i| part[i].1.as_slice()).collect();
                    let reads = canon_many(l.conn(&master, db)?, &keys, NODE_IO).map_err(|e| {
                        l.conn = None;
                        e.context(format!("verifying on {master}"))
                    })?;
                    let mut still = Vec::new();
                    for (i, r) in left.iter().zip(reads) {
                        match r {
                            Ok(Some(v)) => out[*i] = Some(v),
                            _ => still.push(*i),
                        }
                    }
                    left = still;
                }
            }
        }
    }
    Ok(out)
}

/// The target's values of a part of the sample, each node's keys in one
/// pipeline; a key whose node answered an error (`MOVED`, a failover) is
/// read again alone after the target's map is refreshed.
fn target_values(m: &mut Ctx<'_>, part: &[Sampled]) -> Result<Vec<Val>> {
    let mut out: Vec<Val> = vec![None; part.len()];
    for db in dbs_of(part) {
        m.target.db = m.p.target_db(db);
        let mut by_node: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for i in (0..part.len()).filter(|&i| part[i].0 == db) {
            let node = m.target.node_for(&part[i].1).unwrap_or_default();
            by_node.entry(node).or_default().push(i);
        }
        let mut alone = Vec::new();
        for (node, idx) in by_node {
            let keys: Vec<&[u8]> = idx.iter().map(|&i| part[i].1.as_slice()).collect();
            let reads = match m.target.conn(&node) {
                Ok(c) => canon_many(c, &keys, TARGET_IO),
                Err(e) => Err(e),
            };
            match reads {
                Ok(reads) => {
                    for (i, r) in idx.iter().zip(reads) {
                        match r {
                            Ok(v) => out[*i] = v,
                            Err(_) => alone.push(*i),
                        }
                    }
                }
                Err(_) => {
                    m.target.conns.remove(&node);
                    alone.extend(idx);
                }
            }
        }
        for i in alone {
            out[i] = target_value(m, &part[i].1)?;
        }
    }
    Ok(out)
}

/// One key on the target, the map refreshed once on `MOVED` or a
/// transient error.
fn target_value(m: &mut Ctx<'_>, key: &[u8]) -> Result<Val> {
    let node = m.target.node_for(key).unwrap_or_default();
    let tgt = match m.target.conn(&node) {
        Ok(c) => canon_from_redis(c, key, TARGET_IO),
        Err(e) => Err(e),
    };
    match tgt {
        Ok(v) => Ok(v),
        Err(e) if e.message.contains("MOVED") || e.is_transient() => {
            m.target.conns.remove(&node);
            m.target.refresh();
            let node = m.target.node_for(key).unwrap_or_default();
            canon_from_redis(m.target.conn(&node)?, key, TARGET_IO)
        }
        Err(e) => Err(e),
    }
}

/// The source dbs of a part of the sample, in order.
fn dbs_of(part: &[Sampled]) -> Vec<u32> {
    let mut dbs: Vec<u32> = part.iter().map(|s| s.0).collect();
    dbs.sort_unstable();
    dbs.dedup();
    dbs
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

/// The `SCAN` of a count, from `cursor`.
fn scan_cmd(p: &MigrationParams, cursor: u64) -> redis::Cmd {
    let mut cmd = redis::cmd("SCAN");
    cmd.arg(cursor);
    if p.patterns.len() == 1 {
        cmd.arg("MATCH").arg(p.patterns[0].glob());
    }
    cmd.arg("COUNT").arg(1000);
    if let Some(t) = &p.key_type {
        cmd.arg("TYPE").arg(t);
    }
    cmd
}

/// How many of a `SCAN`'s keys count.
fn counted(p: &MigrationParams, keys: &[Vec<u8>]) -> u64 {
    keys.iter()
        .filter(|k| p.selects_key(k) && !k.windows(12).any(|w| w == b"migrate-tmp:"))
        .count() as u64
}

/// Keys of the connection's db that match the filters (a `SCAN`).
pub(super) fn count_matching(conn: &mut redis::Connection, p: &MigrationParams) -> Result<u64> {
    let mut cursor = 0u64;
    let mut n = 0;
    loop {
        let (next, keys): (u64, Vec<Vec<u8>>) =
            scan_cmd(p, cursor).query(conn).map_err(Error::from)?;
        n += counted(p, &keys);
        cursor = next;
        if cursor == 0 {
            return Ok(n);
        }
    }
}

/// [`count_matching`] on several nodes at once: each round sends every
/// node's next `SCAN`, then reads the replies, all within one `budget`.
/// After an error the caller drops the connections.
fn count_all(
    conns: &mut [&mut redis::Connection],
    p: &MigrationParams,
    budget: Duration,
) -> Result<u64> {
    let mut cursors: Vec<Option<u64>> = vec![Some(0); conns.len()];
    let mut n = 0;
    while cursors.iter().any(Option::is_some) {
        let deadline = Instant::now() + budget;
        for (c, cur) in conns.iter_mut().zip(&cursors) {
            if let Some(cur) = cur {
                let mut pipe = redis::pipe();
                pipe.add_command(scan_cmd(p, *cur));
                timed::send(&pipe, c)?;
            }
        }
        for (c, cur) in conns.iter_mut().zip(cursors.iter_mut()) {
            if cur.is_none() {
                continue;
            }
            let r = timed::replies(c, 1, deadline, budget)?;
            let (next, keys): (u64, Vec<Vec<u8>>) =
                redis::from_redis_value(r.into_iter().next().unwrap_or(redis::Value::Nil))
                    .map_err(|e| Error::internal(format!("a SCAN reply: {e}")))?;
            n += counted(p, &keys);
            *cur = (next != 0).then_some(next);
        }
    }
    Ok(n)
}
