//! Recurring analyses: the schedules an admin defines, the firing of one
//! (a compare-and-set on its last fired time, the ticket it files and that
//! ticket's approval, in one transaction), and the runs each one made.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::handle::{now_ms, Store};
use super::rows::{NewTicket, TicketRow, TransitionExtras};
use super::tickets::apply_in;
use crate::error::{Error, Result};
use crate::ticket::Transition;

/// A schedule as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleRow {
    /// Unique name.
    pub name: String,
    /// The app it analyzes.
    pub app: String,
    /// Cron expression (UTC).
    pub cron: String,
    /// The analysis parameters of each ticket, canonical JSON.
    pub params: String,
    /// Reports kept; older runs' reports are deleted.
    pub keep: i64,
    /// Whether it fires.
    pub enabled: bool,
    /// The admin who made it.
    pub created_by: String,
    /// Created (ms).
    pub created_at: i64,
    /// Last changed (ms).
    pub updated_at: i64,
    /// The time of the last firing (ms); its creation time before the first.
    pub last_fired: i64,
}

/// One firing of a schedule: the ticket it filed and where its report went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunRow {
    /// The ticket filed.
    pub ticket_id: i64,
    /// The schedule's name.
    pub schedule: String,
    /// The cron time it stands for (ms).
    pub fired_at: i64,
    /// The report's folder in the fleet layout, once published.
    pub report_dir: Option<String>,
    /// When its report was deleted to keep the last N (ms).
    pub pruned_at: Option<i64>,
}

const SCHEDULE_COLUMNS: &str =
    "name, app, cron, params, keep, enabled, created_by, created_at, updated_at, last_fired";
const RUN_COLUMNS: &str = "ticket_id, schedule, fired_at, report_dir, pruned_at";

fn schedule_from_row(r: &AnyRow) -> Result<ScheduleRow> {
    Ok(ScheduleRow {
        name: r.try_get("name")?,
        app: r.try_get("app")?,
        cron: r.try_get("cron")?,
        params: r.try_get("params")?,
        keep: r.try_get("keep")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        last_fired: r.try_get("last_fired")?,
    })
}

fn run_from_row(r: &AnyRow) -> Result<RunRow> {
    Ok(RunRow {
        ticket_id: r.try_get("ticket_id")?,
        schedule: r.try_get("schedule")?,
        fired_at: r.try_get("fired_at")?,
        report_dir: r.try_get("report_dir")?,
        pruned_at: r.try_get("pruned_at")?,
    })
}

impl Store {
    /// Adds a schedule; a name in use is a conflict.
    pub async fn insert_schedule(&self, s: &ScheduleRow) -> Result<()> {
        let r = sqlx::query(
            "INSERT INTO schedules (name, app, cron, params, keep, enabled, created_by, created_at, updated_at, last_fired) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&s.name)
        .bind(&s.app)
        .bind(&s.cron)
        .bind(&s.params)
        .bind(s.keep)
        .bind(i64::from(s.enabled))
        .bind(&s.created_by)
        .bind(s.created_at)
        .bind(s.updated_at)
        .bind(s.last_fired)
        .execute(&self.pool)
        .await;
        match r {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(Error::conflict(
                format!("a schedule named {:?} exists", s.name),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Every schedule, by name.
    pub async fn list_schedules(&self) -> Result<Vec<ScheduleRow>> {
        let sql = format!("SELECT {SCHEDULE_COLUMNS} FROM schedules ORDER BY name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(schedule_from_row).collect()
    }

    /// One schedule.
    pub async fn get_schedule(&self, name: &str) -> Result<Option<ScheduleRow>> {
        let sql = format!("SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE name = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(schedule_from_row).transpose()
    }

    /// Stores a schedule's settings (not its last fired time, which only a
    /// firing moves, unless `reset` sets it: a new cron or a resumed
    /// schedule counts from then). False when it no longer exists.
    pub async fn update_schedule(&self, s: &ScheduleRow, reset: Option<i64>) -> Result<bool> {
        let sql = if reset.is_some() {
            "UPDATE schedules SET cron = $1, params = $2, keep = $3, enabled = $4, updated_at = $5, last_fired = $7 WHERE name = $6"
        } else {
            "UPDATE schedules SET cron = $1, params = $2, keep = $3, enabled = $4, updated_at = $5 WHERE name = $6"
        };
        let mut q = sqlx::query(sql)
            .bind(&s.cron)
            .bind(&s.params)
            .bind(s.keep)
            .bind(i64::from(s.enabled))
            .bind(now_ms())
            .bind(&s.name);
        if let Some(at) = reset {
            q = q.bind(at);
        }
        let r = q.execute(&self.pool).await?;
        Ok(r.rows_affected() == 1)
    }

    /// Removes a schedule and its list of runs (the tickets and their
    /// reports stay). False when there was none.
    pub async fn delete_schedule(&self, name: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query("DELETE FROM schedules WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM schedule_runs WHERE schedule = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    /// Fires schedule `name` for the cron time `fired_at`: moves its last
    /// fired time from `expected_last` (compare-and-set: of two instances
    /// sharing the store only one wins), files `new` as a pending ticket,
    /// applies `approve` to it and records the run, all in one
    /// transaction. `None` when another instance fired it first.
    pub async fn fire_schedule(
        &self,
        name: &str,
        expected_last: i64,
        fired_at: i64,
        new: &NewTicket,
        approve: &Transition,
    ) -> Result<Option<TicketRow>> {
        let at = now_ms();
        let mut tx = self.pool.begin().await?;
        let won = sqlx::query(
            "UPDATE schedules SET last_fired = $1 WHERE name = $2 AND last_fired = $3 AND enabled = 1",
        )
        .bind(fired_at)
        .bind(name)
        .bind(expected_last)
        .execute(&mut *tx)
        .await?;
        if won.rows_affected() != 1 {
            return Ok(None);
        }
        let id: i64 = sqlx::query(
            "INSERT INTO tickets (kind, state, submitter, params, params_hash, idempotency_key, created_at, updated_at, attempts, progress, plan) VALUES ($1, 'pending', $2, $3, $4, NULL, $5, $5, 0, $6, $7) RETURNING id",
        )
        .bind(&new.kind)
        .bind(&new.submitter)
        .bind(&new.params)
        .bind(&new.params_hash)
        .bind(at)
        .bind(r#"{"percent":0.0,"phase":"waiting","counters":{}}"#)
        .bind(new.plan.clone())
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        sqlx::query(
            "INSERT INTO audit (ticket_id, at, actor, from_state, to_state, note) VALUES ($1, $2, $3, NULL, 'pending', $4)",
        )
        .bind(id)
        .bind(at)
        .bind(&new.submitter)
        .bind(format!("submitted by schedule {name}"))
        .execute(&mut *tx)
        .await?;
        let extras = TransitionExtras {
            handler: Some(approve.actor.clone()),
            ..TransitionExtras::default()
        };
        if !apply_in(&mut tx, id, approve, &extras).await? {
            return Err(Error::internal("a ticket just filed could not be approved"));
        }
        sqlx::query(
            "INSERT INTO schedule_runs (ticket_id, schedule, fired_at) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(name)
        .bind(fired_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.get_ticket(id).await
    }

    /// The run that filed ticket `id`, if a schedule did.
    pub async fn run_of_ticket(&self, id: i64) -> Result<Option<RunRow>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM schedule_runs WHERE ticket_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(run_from_row).transpose()
    }

    /// A schedule's runs, newest first.
    pub async fn schedule_runs(&self, name: &str, limit: i64) -> Result<Vec<RunRow>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM schedule_runs WHERE schedule = $1 ORDER BY ticket_id DESC LIMIT {}",
            limit.clamp(1, 10_000)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(run_from_row).collect()
    }

    /// Records where a run's report was published.
    pub async fn set_run_report(&self, ticket_id: i64, dir: &str) -> Result<()> {
        sqlx::query(
            "UPDATE schedule_runs SET report_dir = $1, pruned_at = NULL WHERE ticket_id = $2",
        )
        .bind(dir)
        .bind(ticket_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records that a run's report was deleted to keep the last N.
    pub async fn set_run_pruned(&self, ticket_id: i64) -> Result<()> {
        sqlx::query("UPDATE schedule_runs SET pruned_at = $1 WHERE ticket_id = $2")
            .bind(now_ms())
            .bind(ticket_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Moves when a ticket that has not started may run (its `run_at`),
    /// with an audit line; false when it is no longer pending or approved.
    pub async fn set_run_at(&self, id: i64, at: i64, actor: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let state: Option<String> = sqlx::query(
            "SELECT state FROM tickets WHERE id = $1 AND state IN ('pending', 'approved')",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get("state"))
        .transpose()?;
        let Some(state) = state else {
            return Ok(false);
        };
        let r = sqlx::query(
            "UPDATE tickets SET not_before = $1, updated_at = $2 WHERE id = $3 AND state = $4",
        )
        .bind(at)
        .bind(now_ms())
        .bind(id)
        .bind(&state)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO audit (ticket_id, at, actor, from_state, to_state, note) VALUES ($1, $2, $3, $4, $4, $5)",
        )
        .bind(id)
        .bind(now_ms())
        .bind(actor)
        .bind(&state)
        .bind(format!("run_at set to {}", crate::time::rfc3339(at)))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
