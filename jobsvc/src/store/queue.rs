//! The queue of running work: claiming an approved ticket (with node
//! admission and, on PostgreSQL, `SKIP LOCKED`), leases, rescue of orphaned
//! runs, progress and checkpoints.

use sqlx::AssertSqlSafe;

use super::backend::Backend;
use super::handle::{now_ms, Store};
use super::rows::{ticket_from_row, TicketRow, TransitionExtras, TICKET_COLUMNS};
use super::tickets::apply_in;
use crate::error::Result;
use crate::ticket::Transition;

/// What a claim needs to decide whether a ticket may start now.
pub trait ClaimPolicy: Send + Sync {
    /// The nodes the ticket would hold, or `None` when it must wait (its
    /// window is closed, or a node is busy given the `running` leases).
    fn admit(&self, ticket: &TicketRow, running: &[TicketRow]) -> Option<Vec<String>>;
}

/// The tickets `sql` selects in `tx`, with `$1` bound to `now`.
async fn tickets_at(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    sql: String,
    now: i64,
) -> Result<Vec<TicketRow>> {
    sqlx::query(AssertSqlSafe(sql))
        .bind(now)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(ticket_from_row)
        .collect()
}

impl Store {
    /// Claims one approved ticket for `owner`: the oldest whose backoff is
    /// over and that `policy` admits, moving it to running with a lease.
    /// On PostgreSQL candidates are locked with `FOR UPDATE SKIP LOCKED`, so
    /// instances never wait for or double-claim each other's work; node
    /// admission is serialized with a transaction-scoped advisory lock.
    pub async fn claim(
        &self,
        owner: &str,
        lease_ms: i64,
        start: impl Fn(&TicketRow) -> Result<Transition> + Send + Sync,
        policy: &dyn ClaimPolicy,
    ) -> Result<Option<TicketRow>> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(77802)")
                .execute(&mut *tx)
                .await?;
        }
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE state = 'approved' AND not_before <= $1 ORDER BY id LIMIT 32{lock}"
        );
        let candidates = tickets_at(&mut tx, sql, now).await?;
        if candidates.is_empty() {
            return Ok(None);
        }
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE state = 'running' AND lease_until > $1"
        );
        let running = tickets_at(&mut tx, sql, now).await?;
        for t in candidates {
            let Some(nodes) = policy.admit(&t, &running) else {
                continue;
            };
            let transition = start(&t)?;
            // The lease names the instance and the attempt, so that a run
            // rescued and restarted never shares its lease with a stale one.
            let extras = TransitionExtras {
                lease: Some((
                    format!("{owner}#{}", transition.attempts),
                    now + lease_ms,
                    serde_json::to_string(&nodes).unwrap_or_else(|_| "[]".into()),
                )),
                ..TransitionExtras::default()
            };
            if apply_in(&mut tx, t.id, &transition, &extras).await? {
                tx.commit().await?;
                return self.get_ticket(t.id).await;
            }
        }
        Ok(None)
    }

    /// Extends the lease of a ticket this instance runs. False when it no
    /// longer holds it (cancelled, or rescued by another instance): the
    /// worker must stop at its next batch boundary.
    pub async fn renew_lease(&self, id: i64, owner: &str, lease_ms: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE tickets SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 AND state = 'running'",
        )
        .bind(now_ms() + lease_ms)
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Running tickets whose lease has expired (their instance died), or
    /// that instance `owner`'s previous incarnation held.
    pub async fn orphaned(&self, owner: &str) -> Result<Vec<TicketRow>> {
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE state = 'running' AND (lease_until < $1 OR lease_owner LIKE $2) ORDER BY id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(now_ms())
            .bind(if owner.is_empty() {
                String::new()
            } else {
                format!("{owner}#%")
            })
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(ticket_from_row).collect()
    }

    /// Saves progress of a run this instance holds.
    pub async fn set_progress(&self, id: i64, owner: &str, progress: &str) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE tickets SET progress = $1, updated_at = $2 WHERE id = $3 AND lease_owner = $4 AND state = 'running'",
        )
        .bind(progress)
        .bind(now_ms())
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Saves the checkpoint (and progress) of a run this instance holds,
    /// after a batch. False when the run is no longer ours.
    pub async fn set_checkpoint(
        &self,
        id: i64,
        owner: &str,
        checkpoint: &str,
        progress: &str,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE tickets SET checkpoint = $1, progress = $2, updated_at = $3 WHERE id = $4 AND lease_owner = $5 AND state = 'running'",
        )
        .bind(checkpoint)
        .bind(progress)
        .bind(now_ms())
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }
}
