//! A schedule's finished run: its report moved into the schedule's fleet
//! layout (`<fleet_dir>/<schedule>/snapshot_date=…/source=<app>/ticket=<id>/`,
//! the ticket's `report` folder left as a link to it), diffed against the
//! previous run's report (`diff/diff.json`, `diff/diff.html` beside it),
//! and the reports beyond the schedule's `keep` deleted.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::files::report_dir;
use crate::state::{log, Shared};
use crate::store::{RunRow, ScheduleRow, TicketRow};
use crate::time::rfc3339;

/// Where schedule `name` keeps its reports.
pub fn fleet_root(config: &Config, name: &str) -> PathBuf {
    config
        .fleet_dir
        .clone()
        .unwrap_or_else(|| {
            config
                .reports_dir
                .clone()
                .unwrap_or_else(|| config.data_dir.join("tickets"))
                .join("schedules")
        })
        .join(name)
}

/// The partition folder of one run.
fn partition(config: &Config, s: &ScheduleRow, run: &RunRow) -> PathBuf {
    let day = &rfc3339(run.fired_at)[..10];
    fleet_root(config, &s.name)
        .join(format!("snapshot_date={day}"))
        .join(format!("source={}", s.app))
        .join(format!("ticket={}", run.ticket_id))
}

/// Moves `from` to `to` (a copy when they are on different file systems).
fn move_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if to.exists() {
        std::fs::remove_dir_all(to)?;
    }
    if std::fs::rename(from, to).is_ok() {
        return Ok(());
    }
    copy_dir(from, to)?;
    std::fs::remove_dir_all(from)
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let dest = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &dest)?;
        } else {
            std::fs::copy(e.path(), dest)?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn link(target: &Path, at: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, at)
}

#[cfg(not(unix))]
fn link(target: &Path, at: &Path) -> std::io::Result<()> {
    copy_dir(target, at)
}

/// Diffs `old` against `new` into `new/diff/`: what the result says of it.
fn diff_runs(old: &Path, new: &Path) -> std::result::Result<Value, String> {
    let label = |p: &Path| vec![p.display().to_string()];
    let o = analyzer::diff::load_side("OLD", old, label(old)).map_err(|e| e.to_string())?;
    let n = analyzer::diff::load_side("NEW", new, label(new)).map_err(|e| e.to_string())?;
    let d = analyzer::diff::diff(&o, &n).map_err(|e| e.to_string())?;
    let out = analyzer::diff::write_diff(&new.join("diff"), &d).map_err(|e| e.to_string())?;
    let files: Vec<String> = out
        .outputs
        .iter()
        .filter_map(|p| p.strip_prefix(new).ok())
        .map(|p| p.display().to_string())
        .collect();
    Ok(json!({"files": files, "totals": out.json["totals"].clone()}))
}

/// Deletes the reports of `s` beyond its newest `keep`; the tickets pruned.
async fn prune(state: &Shared, s: &ScheduleRow) -> Result<Vec<i64>> {
    let runs = state.store.schedule_runs(&s.name, 10_000).await?;
    let mut pruned = Vec::new();
    let published = runs
        .iter()
        .filter(|r| r.report_dir.is_some() && r.pruned_at.is_none());
    for r in published.skip(s.keep.max(1) as usize) {
        let dir = PathBuf::from(r.report_dir.as_deref().unwrap_or_default());
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| Error::internal(format!("cannot delete {}: {e}", dir.display())))?;
        }
        // Empty partition folders go too.
        for parent in dir.ancestors().skip(1).take(2) {
            let _ = std::fs::remove_dir(parent);
        }
        let link = report_dir(&state.config, r.ticket_id);
        if link.is_symlink() {
            let _ = std::fs::remove_file(&link);
        }
        state.store.set_run_pruned(r.ticket_id).await?;
        pruned.push(r.ticket_id);
    }
    Ok(pruned)
}

/// After ticket `t` succeeded with `result`: when a schedule filed it,
/// publishes its report in the fleet layout, diffs it against the previous
/// run's and prunes old reports; the result then names the previous run,
/// the diff and the pruned tickets. Other tickets' results pass unchanged.
pub async fn after_run(state: &Shared, t: &TicketRow, result: Value) -> Result<Value> {
    let Some(run) = state.store.run_of_ticket(t.id).await? else {
        return Ok(result);
    };
    let Some(s) = state.store.get_schedule(&run.schedule).await? else {
        return Ok(result);
    };
    let src = report_dir(&state.config, t.id);
    let dest = partition(&state.config, &s, &run);
    let previous = state
        .store
        .schedule_runs(&s.name, 10_000)
        .await?
        .into_iter()
        .find(|r| {
            r.ticket_id < t.id
                && r.pruned_at.is_none()
                && r.report_dir
                    .as_deref()
                    .is_some_and(|d| Path::new(d).is_dir())
        });
    let (src2, dest2) = (src.clone(), dest.clone());
    let old = previous
        .as_ref()
        .and_then(|p| p.report_dir.clone())
        .map(PathBuf::from);
    let diff = tokio::task::spawn_blocking(
        move || -> Result<Option<std::result::Result<Value, String>>> {
            if !src2.is_symlink() {
                move_dir(&src2, &dest2).map_err(|e| {
                    Error::internal(format!(
                        "cannot move the report to {}: {e}",
                        dest2.display()
                    ))
                })?;
                link(&dest2, &src2)
                    .map_err(|e| Error::internal(format!("cannot link {}: {e}", src2.display())))?;
            }
            Ok(old.map(|o| diff_runs(&o, &dest2)))
        },
    )
    .await
    .map_err(|e| Error::internal(format!("publishing the report: {e}")))??;
    state
        .store
        .set_run_report(t.id, &dest.display().to_string())
        .await?;
    let pruned = prune(state, &s).await?;
    let mut info = json!({
        "name": s.name,
        "fired_at": rfc3339(run.fired_at),
        "report_dir": dest.display().to_string(),
        "previous": previous.as_ref().map(|p| json!({
            "ticket": p.ticket_id,
            "report_dir": p.report_dir,
        })),
        "pruned": pruned,
    });
    match diff {
        Some(Ok(d)) => info["diff"] = d,
        Some(Err(e)) => {
            log(&format!(
                "ticket {}: diff against the previous run: {e}",
                t.id
            ));
            info["diff_error"] = e.into();
        }
        None => {}
    }
    let mut result = result;
    if let Value::Object(m) = &mut result {
        m.insert("schedule".into(), info);
    }
    Ok(result)
}
