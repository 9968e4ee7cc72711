//! The migration run: open the target and the source, copy batch after
//! batch under checkpoints, verify, and write `migration.json`.

use std::time::Instant;

use serde_json::{json, Value};

use super::ahead::{Ahead, Next};
use super::checkpoint::{Pending, State};
use super::params::{MigrationParams, SourceMethod, WriteMode};
use super::rewrite::Prepared;
use super::source::{fetch_files, live_estimate, FileSource, LiveSource, Src};
use super::target::Target;
use super::verify::verify;
use super::write::Ctx;
use crate::error::{Error, Result};
use crate::files::map_file;
use crate::job::{check_allowed_file, JobCtx};
use crate::redis::keys::{hex, unhex_lossy as unhex};
use crate::redis::nodes::is_cluster;
use crate::redis::Pacer;
use crate::store::AppRow;

/// Runs the ticket.
pub fn run(ctx: &JobCtx, p: &MigrationParams) -> Result<Value> {
    run_from(ctx, p, None)
}

/// Runs a migration whose source file, when given as `trusted`, the
/// service chose itself (a restore ticket's backup): it is read wherever it
/// is, not only inside `allowed_dirs`.
pub fn run_from(
    ctx: &JobCtx,
    p: &MigrationParams,
    trusted: Option<std::path::PathBuf>,
) -> Result<Value> {
    let target_app = ctx.app(&p.target)?;
    let source_app = p.source.app.as_deref().map(|a| ctx.app(a)).transpose()?;
    let mut st: State = ctx
        .resume_checkpoint()?
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let resumed_run = st.total > 0 || st.copied || st.pending.is_some() || !st.per_db.is_empty();
    check_target_dbs(p, &target_app, source_app.as_ref())?;
    let mut target = Target::open(ctx, target_app.clone())?;
    if !resumed_run {
        // Known before the first write (the first checkpoint keeps it).
        st.nonempty_at_start = Some(target.dbs_with_keys()?);
    }
    let work = ctx.work_dir();
    std::fs::create_dir_all(&work)?;
    let sample_path = work.join("migration-sample.jsonl");
    if !resumed_run {
        let _ = std::fs::remove_file(&sample_path);
    }
    let sample = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&sample_path)?;
    let fetch_start = Instant::now();
    let mut src = match (&p.source.file, &source_app) {
        (Some(f), _) => {
            let real = match trusted {
                Some(t) => t,
                None => check_allowed_file(f, &ctx.state().config.allowed_dirs)
                    .map_err(|e| Error::internal(e.message))?,
            };
            Src::Files(FileSource {
                files: vec![(real.clone(), map_file(&real)?)],
            })
        }
        (None, Some(app)) if p.method() == SourceMethod::Rdb => Src::Files(fetch_files(ctx, app)?),
        (None, Some(app)) => Src::Live(Box::new(LiveSource::open(ctx, p, app)?)),
        (None, None) => return Err(Error::internal("no source")),
    };
    // The snapshots' fetch as a replica (this attempt's), outside the copy.
    let fetch_secs = match (&src, &source_app) {
        (Src::Files(_), Some(_)) => fetch_start.elapsed().as_secs_f64(),
        _ => 0.0,
    };
    let source_version = match &src {
        Src::Files(f) => f.rdb(0)?.version(),
        Src::Live(_) => 0,
    };
    if st.total == 0 {
        st.total = match &mut src {
            Src::Files(f) => f.files.iter().map(|(_, m)| m.len() as u64).sum(),
            Src::Live(l) => live_estimate(l)?,
        };
    }
    let mut m = Ctx {
        ctx,
        p,
        target,
        st,
        pacer: Pacer::new(p.rate as f64),
        sample,
        source_version,
    };
    let copy_start = Instant::now();
    let copy_before = m.st.copy_secs;
    // Fresh batches, read one ahead of the writes; the next batch's
    // `EXISTS` rides with this batch's writes when both go to one db.
    let mut ahead: Option<Ahead> = None;
    let mut queued: Option<(Next, Option<Vec<String>>, Option<Prepared>)> = None;
    while !m.st.copied {
        ctx.check_cancel()?;
        if let Some(pend) = m.st.pending.take() {
            // The checkpoint's batch: written again before anything new.
            let (batch, read) = match &mut src {
                Src::Live(l) => {
                    let keys: Vec<Vec<u8>> = pend.keys.iter().map(|k| unhex(k)).collect();
                    (l.read(m.st.a, pend.db, keys.clone())?, keys)
                }
                Src::Files(f) => {
                    let b = f.read_at(p, pend.file, pend.start, pend.start_db)?.0;
                    let keys = b.items.iter().map(|i| i.key.clone()).collect();
                    (b, keys)
                }
            };
            // What the attempt before may have left, before anything is
            // written again.
            if p.write != WriteMode::Restore {
                m.clear_tmp(&read)?;
            }
            m.write(&batch, &pend.existed, true, None, None, &mut || {})?;
            progress(&m);
            // Settle the redone batch before the next is read.
            m.st.copy_secs = copy_before + copy_start.elapsed().as_secs_f64();
            m.checkpoint("copying")?;
            continue;
        }
        let (next, existed, prepared) = match queued.take() {
            Some((n, e, r)) => (Some(n), e, r),
            None => {
                let a = match &mut ahead {
                    Some(a) => a,
                    None => ahead.insert(Ahead::start(&src, p, (m.st.a, m.st.b, m.st.c))?),
                };
                (a.next(&src, p)?, None, None)
            }
        };
        let Some(cur) = next else {
            m.st.copied = true;
            m.st.copy_secs = copy_before + copy_start.elapsed().as_secs_f64();
            m.checkpoint("verifying")?;
            break;
        };
        let existed = match existed {
            Some(e) => e,
            None if m.st.empty_at_start(p.target_db(cur.batch.db)) => Vec::new(),
            None => m.existing(&cur.batch)?,
        };
        (m.st.a, m.st.b, m.st.c) = cur.pos;
        if let Some(d) = cur.done_bytes {
            m.st.done_bytes = d;
        }
        m.st.pending = Some(Pending {
            db: cur.batch.db,
            keys: match &src {
                Src::Live(_) => cur.batch.items.iter().map(|i| hex(&i.key)).collect(),
                Src::Files(_) => Vec::new(),
            },
            file: cur.file,
            start: cur.start,
            start_db: cur.start_db,
            existed: existed.clone(),
        });
        m.st.copy_secs = copy_before + copy_start.elapsed().as_secs_f64();
        m.checkpoint("copying")?;
        m.st.pending = None;
        let after = match &mut ahead {
            Some(a) => a.next(&src, p)?,
            None => None,
        };
        let then = after
            .as_ref()
            .map(|n| &n.batch)
            .filter(|n| p.target_db(n.db) == p.target_db(cur.batch.db))
            .filter(|n| !m.st.empty_at_start(p.target_db(n.db)));
        // While this batch's writes are in flight: the file batch after
        // `after` is read, and `after`'s values are made into commands.
        let rw = m.rewriter();
        let mut prepared_after = None;
        let existed_after = m.write(&cur.batch, &existed, false, then, prepared, &mut || {
            if let Some(a) = &mut ahead {
                a.prefetch(&src, p);
            }
            if let Some(n) = after.as_ref().filter(|_| !rw.none) {
                prepared_after = Some(rw.prepare(&n.batch));
            }
        })?;
        queued = after.map(|n| (n, existed_after, prepared_after));
        progress(&m);
    }
    drop(ahead);
    let totals = m.st.totals();
    ctx.touched(totals.written);
    ctx.progress(
        "verifying",
        92.0,
        serde_json::to_value(&totals).unwrap_or(Value::Null),
        true,
    );
    let verify_start = Instant::now();
    let verification = verify(&mut m, &mut src, &sample_path)?;
    let verify_secs = verify_start.elapsed().as_secs_f64();
    let mismatches = verification["mismatch_count"].as_u64().unwrap_or(0);
    let secs = m.st.copy_secs;
    let report = json!({
        "source": match (&p.source.file, &source_app) {
            (Some(f), _) => json!({"file": f}),
            (None, Some(a)) => json!({"app": a.name, "method": p.method()}),
            _ => Value::Null,
        },
        "target": {"app": target_app.name, "kind": target_app.kind, "version": m.target.version, "dump_rdb_version": m.target.dump_version},
        "write": match (totals.reencoded > 0, totals.rewritten > 0) {
            (false, false) => "restore",
            (true, false) => "reencoded",
            (false, true) => "commands",
            (true, true) => "reencoded and commands",
        },
        "conflict": p.conflict,
        "counts": totals,
        "per_db": m.st.per_db,
        "conflicts": m.st.conflict_keys,
        "failed": m.st.failed_keys,
        "copy_seconds": (secs * 1000.0).round() / 1000.0,
        "verify_seconds": (verify_secs * 1000.0).round() / 1000.0,
        "fetch_seconds": (fetch_secs * 1000.0).round() / 1000.0,
        "keys_per_sec": if secs > 0.0 { ((m.st.paced as f64 / secs) * 10.0).round() / 10.0 } else { 0.0 },
        "redirects": m.target.redirects,
        "waits": m.target.waits,
        "topology_refreshes": m.target.refreshes,
        "verification": verification,
    });
    let out = ctx.report_dir();
    std::fs::create_dir_all(&out)?;
    let mut text = serde_json::to_vec_pretty(&report).unwrap_or_default();
    text.push(b'\n');
    std::fs::write(out.join("migration.json"), text)?;
    // The keys written, kept for the verification across restarts: done.
    let _ = std::fs::remove_file(&sample_path);
    if matches!(src, Src::Files(_)) && source_app.is_some() {
        drop(src);
        let _ = std::fs::remove_dir_all(work.join("fetch"));
    }
    ctx.progress(
        "done",
        100.0,
        serde_json::to_value(&totals).unwrap_or(Value::Null),
        true,
    );
    if mismatches > 0 || totals.failed > 0 {
        return Err(Error::internal(format!(
            "migration finished with {} failed key(s) and {mismatches} verification mismatch(es): see migration.json in the report",
            totals.failed
        )));
    }
    let mut result = report;
    if let Some(o) = result.as_object_mut() {
        o.insert("files".into(), json!(["migration.json"]));
        for k in ["conflicts", "failed"] {
            if let Some(Value::Array(a)) = o.get_mut(k) {
                a.truncate(10);
            }
        }
        if let Some(v) = o.get_mut("verification").and_then(|v| v.as_object_mut()) {
            v.remove("mismatches");
        }
    }
    Ok(result)
}

/// The copy's progress after a batch.
fn progress(m: &Ctx<'_>) {
    let t = m.st.totals();
    let pct = match m.st.total {
        0 => 0.0,
        n => (m.st.done_bytes.max(t.selected) as f64 / n as f64 * 90.0).min(90.0),
    };
    m.ctx.progress(
        "copying",
        pct,
        serde_json::to_value(&t).unwrap_or(Value::Null),
        false,
    );
}

pub(super) fn check_target_dbs(
    p: &MigrationParams,
    target: &AppRow,
    source: Option<&AppRow>,
) -> Result<()> {
    let source_cluster = source.is_some_and(is_cluster);
    if source_cluster && p.dbs.as_ref().is_some_and(|d| d != &[0]) {
        return Err(Error::bad_request(
            "migration params: a cluster source has only db 0",
        ));
    }
    if is_cluster(target) {
        let dbs: Vec<u32> = match (&p.dbs, source_cluster) {
            (Some(d), _) => d.clone(),
            (None, true) => vec![0],
            (None, false) => (0..16).collect(),
        };
        let bad: Vec<u32> = dbs
            .iter()
            .map(|d| p.target_db(*d))
            .filter(|d| *d != 0)
            .collect();
        let explicit = p.dbs.is_some() || !p.db_map.is_empty();
        if !bad.is_empty() && explicit {
            return Err(Error::bad_request(format!(
                "migration params: the target is a cluster, which has only db 0: map every source db to 0 (db_map) — {} would not be",
                bad.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    Ok(())
}
