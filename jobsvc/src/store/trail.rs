//! The trail a change leaves beside it: its audit rows and notification
//! events, written many rows to one statement (a group of the API's writes
//! adds the rows of all its writes at its end, in one INSERT per table).

use crate::error::Result;
use crate::notify::event::EventRecord;
use crate::ticket::TicketState;

type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// Rows per INSERT (7 or 8 parameters each: far below either database's
/// limit on parameters).
const ROWS_PER_INSERT: usize = 100;

/// One audit row: who changed a ticket from which state to which, when.
#[derive(Clone, Debug)]
pub(super) struct AuditEntry {
    pub(super) ticket_id: i64,
    pub(super) at: i64,
    pub(super) actor: String,
    /// None when the ticket was filed.
    pub(super) from: Option<TicketState>,
    pub(super) to: TicketState,
    pub(super) note: Option<String>,
}

/// Audit rows and events to add before a transaction commits.
#[derive(Debug, Default)]
pub(super) struct Trail {
    audit: Vec<AuditEntry>,
    /// Each with the time it happened (ms).
    events: Vec<(EventRecord, i64)>,
}

impl Trail {
    /// Adds an audit row.
    pub(super) fn audit(&mut self, a: AuditEntry) {
        self.audit.push(a);
    }

    /// Adds an event that happened at `at`.
    pub(super) fn event(&mut self, e: EventRecord, at: i64) {
        self.events.push((e, at));
    }

    /// Writes what was added (two statements at most, for up to 100 rows
    /// of each) and empties it.
    pub(super) async fn write(&mut self, tx: &mut Tx) -> Result<()> {
        for chunk in self.audit.chunks(ROWS_PER_INSERT) {
            insert_audit(tx, chunk).await?;
        }
        for chunk in self.events.chunks(ROWS_PER_INSERT) {
            insert_events(tx, chunk).await?;
        }
        self.audit.clear();
        self.events.clear();
        Ok(())
    }
}

/// `($k+1, …, $k+n), ($k+n+1, …)`: the placeholders of `rows` rows of `n`
/// values, with `fixed` appended to each row as written.
pub(super) fn values(rows: usize, n: usize, fixed: &str) -> String {
    (0..rows)
        .map(|r| {
            let cells: Vec<String> = (1..=n).map(|c| format!("${}", r * n + c)).collect();
            format!("({}{fixed})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Inserts audit rows, all in one statement.
pub(super) async fn insert_audit(tx: &mut Tx, rows: &[AuditEntry]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO audit (ticket_id, at, actor, from_state, to_state, note) VALUES {}",
        values(rows.len(), 6, "")
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for a in rows {
        q = q
            .bind(a.ticket_id)
            .bind(a.at)
            .bind(a.actor.clone())
            .bind(a.from.map(|s| s.as_str()))
            .bind(a.to.as_str())
            .bind(a.note.clone());
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// Inserts events, all in one statement; one whose once-key was used
/// before is dropped. Returns how many were recorded.
pub(super) async fn insert_events(tx: &mut Tx, rows: &[(EventRecord, i64)]) -> Result<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let sql = format!(
        "INSERT INTO notify_events (ticket_id, kind, at, actor, note, state, users, once_key, fanned_out) VALUES {} ON CONFLICT DO NOTHING",
        values(rows.len(), 8, ", 0")
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (e, at) in rows {
        let users = e
            .users
            .as_ref()
            .map(|u| serde_json::to_string(u).unwrap_or_else(|_| "[]".into()));
        q = q
            .bind(e.ticket_id)
            .bind(e.kind)
            .bind(*at)
            .bind(e.actor.clone())
            .bind(e.note.clone())
            .bind(e.state.as_str())
            .bind(users)
            .bind(e.once_key.clone());
    }
    Ok(q.execute(&mut **tx).await?.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::values;

    #[test]
    fn values_number_the_placeholders_row_after_row() {
        assert_eq!(values(2, 2, ""), "($1, $2), ($3, $4)");
        assert_eq!(values(1, 3, ", 0"), "($1, $2, $3, 0)");
    }
}
