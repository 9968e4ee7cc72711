//! Restoring the expire times an `expire` cleanup changed, from
//! `ttls.jsonl`: batch by batch (`EXISTS`, then `PEXPIREAT` or `PERSIST`,
//! routed by slot), checkpointed by the file offset, then a sample
//! compared with `PTTL`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::params::RestoreParams;
use crate::backup::{TtlRecord, TTL_FILE};
use crate::error::{Error, Result};
use crate::job::JobCtx;
use crate::jobs::migrate::target::Target;
use crate::redis::keys::{show, unhex};
use crate::redis::reply::{int, server_error};
use crate::redis::Pacer;
use crate::store::{now_ms, AppRow};

/// Keys compared at the end, at most.
const SAMPLE: usize = 1000;
/// TTLs compared may differ by this much.
const TOLERANCE_MS: i64 = 2_000;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct TtlState {
    /// Bytes of `ttls.jsonl` done.
    offset: u64,
    /// Keys given their previous expire time back.
    restored: u64,
    /// Keys that had none, made persistent again.
    persisted: u64,
    /// Keys whose previous expire time has passed: left.
    expired: u64,
    /// Keys no longer there (their cleanup TTL ran out).
    missing: u64,
    /// Keys to compare at the end: db, hex key, expire time.
    sample: Vec<(u32, String, Option<u64>)>,
}

/// Gives every key of `ttls.jsonl` in `dir` its previous expire time back.
pub(super) fn restore_ttls(
    ctx: &JobCtx,
    p: &RestoreParams,
    app: AppRow,
    dir: &std::path::Path,
) -> Result<Value> {
    let path = dir.join(TTL_FILE);
    let text = std::fs::read(&path)
        .map_err(|e| Error::internal(format!("backup {}: {e}", path.display())))?;
    let mut st: TtlState = ctx
        .resume_checkpoint()?
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let mut target = Target::open(ctx, app)?;
    let mut pacer = Pacer::new(p.rate as f64);
    let (replicas, timeout) = (
        p.wait_replicas.unwrap_or(ctx.state().config.wait_replicas),
        p.wait_timeout_ms
            .unwrap_or(ctx.state().config.wait_timeout_ms),
    );
    let total = text.len() as u64;
    while (st.offset as usize) < text.len() {
        ctx.check_cancel()?;
        // The next batch: up to `batch` lines of one db.
        let mut recs: Vec<TtlRecord> = Vec::new();
        let mut end = st.offset as usize;
        for line in text[st.offset as usize..].split_inclusive(|b| *b == b'\n') {
            let rec: TtlRecord = serde_json::from_slice(line).map_err(|e| {
                Error::internal(format!("backup {} at byte {end}: {e}", path.display()))
            })?;
            if recs.len() as u64 >= p.batch || recs.first().is_some_and(|r| r.db != rec.db) {
                break;
            }
            end += line.len();
            recs.push(rec);
        }
        let now = now_ms().max(0) as u64;
        let mut todo: Vec<(Vec<u8>, &TtlRecord)> = Vec::new();
        for r in &recs {
            let key = unhex(&r.key).ok_or_else(|| {
                Error::internal(format!("backup {}: bad key {:?}", path.display(), r.key))
            })?;
            if r.expire_at_ms.is_some_and(|t| t <= now) {
                st.expired += 1;
            } else {
                todo.push((key, r));
            }
        }
        pacer.wait(recs.len(), ctx)?;
        target.db = recs.first().map_or(0, |r| r.db);
        let keys: Vec<&[u8]> = todo.iter().map(|(k, _)| k.as_slice()).collect();
        let replies = target.exec(
            ctx,
            &keys,
            &mut |i, _, out| {
                let (k, r) = &todo[i];
                out.cmd(&[b"EXISTS".as_slice(), k]);
                match r.expire_at_ms {
                    Some(t) => out.cmd(&[b"PEXPIREAT".as_slice(), k, t.to_string().as_bytes()]),
                    None => out.cmd(&[b"PERSIST".as_slice(), k]),
                }
            },
            &mut || {},
        )?;
        target.wait(replicas, timeout)?;
        for ((k, r), rep) in todo.iter().zip(&replies) {
            if let Some((code, details)) = rep.iter().find_map(server_error) {
                return Err(Error::internal(format!(
                    "restoring the TTL of {}: {code} {details}",
                    show(k)
                )));
            }
            if rep.first().and_then(int) != Some(1) {
                st.missing += 1;
                continue;
            }
            match r.expire_at_ms {
                Some(_) => st.restored += 1,
                None => st.persisted += 1,
            }
            if st.sample.len() < SAMPLE {
                st.sample.push((r.db, r.key.clone(), r.expire_at_ms));
            }
        }
        st.offset = end as u64;
        let pct = st.offset as f64 / total.max(1) as f64 * 90.0;
        let cp = serde_json::to_value(&st).map_err(|e| Error::internal(e.to_string()))?;
        let counters = json!({"restored": st.restored, "persisted": st.persisted, "expired": st.expired, "missing": st.missing});
        ctx.checkpoint(&cp, "restoring", pct, counters)?;
    }
    // The sample: each key's TTL is the recorded one (or none).
    let now = now_ms();
    let mut mismatches = Vec::new();
    for (db, hexkey, want) in &st.sample {
        let key = unhex(hexkey).unwrap_or_default();
        target.db = *db;
        let r = target.exec(
            ctx,
            &[key.as_slice()],
            &mut |_, _, out| {
                out.cmd(&[b"PTTL".as_slice(), &key]);
            },
            &mut || {},
        )?;
        let pttl = r
            .first()
            .and_then(|r| r.first())
            .and_then(int)
            .unwrap_or(-2);
        let ok = match (want, pttl) {
            (_, -2) => true, // expired since: nothing to compare
            (None, t) => t == -1,
            (Some(w), t) if t >= 0 => (now + t - *w as i64).abs() <= TOLERANCE_MS,
            _ => false,
        };
        if !ok && mismatches.len() < 100 {
            mismatches.push(
                json!({"db": db, "key": show(&key), "expected_expire_at_ms": want, "pttl": pttl}),
            );
        }
    }
    let report = json!({
        "source_ticket": p.ticket,
        "backup": format!("{}/{TTL_FILE}", crate::backup::DIR),
        "restored": st.restored,
        "persisted": st.persisted,
        "skipped_expired": st.expired,
        "missing": st.missing,
        "verification": {"sampled": st.sample.len(), "mismatch_count": mismatches.len(), "mismatches": mismatches},
        "waits": target.waits,
    });
    let out = ctx.report_dir();
    std::fs::create_dir_all(&out)?;
    std::fs::write(
        out.join("restore.json"),
        serde_json::to_vec_pretty(&report).unwrap_or_default(),
    )?;
    if !mismatches.is_empty() {
        return Err(Error::internal(format!(
            "{} key(s) do not have their previous TTL back: see restore.json in the report",
            mismatches.len()
        )));
    }
    let mut result = json!({"restore": report, "files": ["restore.json"]});
    if let Some(v) = result["restore"]["verification"].as_object_mut() {
        v.remove("mismatches");
    }
    Ok(result)
}
