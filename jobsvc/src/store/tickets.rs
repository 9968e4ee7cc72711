//! Tickets: reading, listing and counting them, their audit trail, and [`Store::apply`], the one way a ticket changes state
//! (recording the notification event the change makes, in its transaction).

use sqlx::{AssertSqlSafe, Row};

use super::handle::{now_ms, Store};
use super::rows::{
    state_of, ticket_from_row, AuditRow, TicketRow, TransitionExtras, TICKET_COLUMNS,
};
use super::trail::{AuditEntry, Trail};
use crate::error::{Error, Result};
use crate::notify::event::{of_change, EventRecord};
use crate::ticket::{TicketState, Transition};

impl Store {
    /// The ticket `submitter` filed with idempotency key `key`.
    pub(super) async fn ticket_by_key(
        &self,
        submitter: &str,
        key: &str,
    ) -> Result<Option<TicketRow>> {
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE submitter = $1 AND idempotency_key = $2"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(submitter)
            .bind(key)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(ticket_from_row).transpose()
    }

    /// One ticket.
    pub async fn get_ticket(&self, id: i64) -> Result<Option<TicketRow>> {
        let sql = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(ticket_from_row).transpose()
    }

    /// Tickets, newest first, optionally by submitter, state and type.
    pub async fn list_tickets(
        &self,
        submitter: Option<&str>,
        state: Option<TicketState>,
        kind: Option<&str>,
        limit: i64,
    ) -> Result<Vec<TicketRow>> {
        let mut sql = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE 1 = 1");
        let mut n = 0;
        let mut binds: Vec<String> = Vec::new();
        for (col, v) in [
            ("submitter", submitter.map(str::to_string)),
            ("state", state.map(|s| s.as_str().to_string())),
            ("kind", kind.map(str::to_string)),
        ] {
            if let Some(v) = v {
                n += 1;
                sql.push_str(&format!(" AND {col} = ${n}"));
                binds.push(v);
            }
        }
        sql.push_str(&format!(
            " ORDER BY id DESC LIMIT {}",
            limit.clamp(1, 10_000)
        ));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.fetch_all(&self.read).await?;
        rows.iter().map(ticket_from_row).collect()
    }

    /// Counts tickets per state (for metrics).
    pub async fn count_by_state(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM tickets GROUP BY state")
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("state")?, r.try_get("n")?)))
            .collect()
    }

    /// A ticket's audit trail, oldest first.
    pub async fn audit(&self, id: i64) -> Result<Vec<AuditRow>> {
        let rows = sqlx::query(
            "SELECT at, actor, from_state, to_state, note FROM audit WHERE ticket_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditRow {
                    at: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    from: r
                        .try_get::<Option<String>, _>("from_state")?
                        .map(|s| state_of(&s))
                        .transpose()?,
                    to: state_of(&r.try_get::<String, _>("to_state")?)?,
                    note: r.try_get("note")?,
                })
            })
            .collect()
    }

    /// Stores a transition: compare-and-set on the old state (and on the
    /// lease owner when `extras.require_owner` is set) plus the audit row,
    /// in one transaction. A lost race is a conflict.
    pub async fn apply(
        &self,
        id: i64,
        t: &Transition,
        extras: &TransitionExtras,
    ) -> Result<TicketRow> {
        let mut tx = self.pool.begin().await?;
        let applied = apply_in(&mut tx, id, t, extras).await?;
        if !applied {
            return Err(Error::conflict(format!(
                "ticket {id} changed meanwhile (expected it {})",
                t.from
            )));
        }
        tx.commit().await?;
        self.get_ticket(id)
            .await?
            .ok_or_else(|| Error::not_found(format!("no ticket {id}")))
    }
}

/// Applies a transition inside `tx` with its audit row and event: false
/// when the compare-and-set lost.
pub(super) async fn apply_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    id: i64,
    t: &Transition,
    extras: &TransitionExtras,
) -> Result<bool> {
    let now = now_ms();
    if !update_in(tx, id, t, extras, now).await? {
        return Ok(false);
    }
    let mut trail = Trail::default();
    trail_of(&mut trail, id, t, now);
    trail.write(tx).await?;
    Ok(true)
}

/// The audit row of a transition applied at `now` and the event it makes
/// (if any), added to `trail`: a change is never stored without them, and
/// an event never told of a change that did not happen.
pub(super) fn trail_of(trail: &mut Trail, id: i64, t: &Transition, now: i64) {
    trail.audit(AuditEntry {
        ticket_id: id,
        at: now,
        actor: t.actor.clone(),
        from: Some(t.from),
        to: t.to,
        note: t.note.clone(),
    });
    if let Some(event) = of_change(Some(t.from), t.to) {
        let record = EventRecord::new(id, &event, &t.actor, t.to, t.note.clone());
        trail.event(record, now);
    }
}

/// The ticket's side of a transition inside `tx` (its state and
/// `extras`, compare-and-set on the old state): false when it lost. Its
/// caller stores the trail ([`trail_of`]) in the same transaction.
pub(super) async fn update_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    id: i64,
    t: &Transition,
    extras: &TransitionExtras,
    now: i64,
) -> Result<bool> {
    let mut sets = vec![
        "state = $1".to_string(),
        "attempts = $2".to_string(),
        "updated_at = $3".to_string(),
    ];
    let mut binds: Vec<Bind> = vec![
        Bind::S(t.to.as_str().to_string()),
        Bind::I(t.attempts as i64),
        Bind::I(now),
    ];
    let mut push = |col: &str, v: Bind, sets: &mut Vec<String>| {
        binds.push(v);
        sets.push(format!("{col} = ${}", binds.len()));
    };
    if let Some(h) = &extras.handler {
        push("handler", Bind::S(h.clone()), &mut sets);
    }
    if let Some(e) = &extras.error {
        push("error", Bind::S(e.clone()), &mut sets);
    } else if t.to == TicketState::Succeeded {
        // An earlier attempt's error does not describe a success.
        sets.push("error = NULL".into());
    }
    if let Some(r) = &extras.result {
        push("result", Bind::S(r.clone()), &mut sets);
    }
    if let Some(nb) = extras.not_before {
        push("not_before", Bind::I(nb), &mut sets);
    }
    match &extras.lease {
        Some((owner, until, nodes)) => {
            push("lease_owner", Bind::S(owner.clone()), &mut sets);
            push("lease_until", Bind::I(*until), &mut sets);
            push("lease_nodes", Bind::S(nodes.clone()), &mut sets);
        }
        None if t.to != TicketState::Running => {
            sets.push("lease_owner = NULL".into());
            sets.push("lease_until = NULL".into());
            sets.push("lease_nodes = '[]'".into());
        }
        None => {}
    }
    binds.push(Bind::I(id));
    let id_n = binds.len();
    binds.push(Bind::S(t.from.as_str().to_string()));
    let from_n = binds.len();
    let mut sql = format!(
        "UPDATE tickets SET {} WHERE id = ${id_n} AND state = ${from_n}",
        sets.join(", ")
    );
    if let Some(owner) = &extras.require_owner {
        binds.push(Bind::S(owner.clone()));
        sql.push_str(&format!(" AND lease_owner = ${}", binds.len()));
    }
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for b in binds {
        q = match b {
            Bind::S(s) => q.bind(s),
            Bind::I(i) => q.bind(i),
        };
    }
    let r = q.execute(&mut **tx).await?;
    Ok(r.rows_affected() == 1)
}

enum Bind {
    S(String),
    I(i64),
}
