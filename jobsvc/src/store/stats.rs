//! What the statistics are computed from: one row per ticket filed in a
//! period, with the times its audit trail gives (first approval, start,
//! end of the run).

use sqlx::Row;

use super::handle::Store;
use crate::error::Result;
use crate::ticket::TicketState;

/// One ticket as the statistics see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketFacts {
    /// Id.
    pub id: i64,
    /// Type.
    pub kind: String,
    /// State now.
    pub state: TicketState,
    /// Its parameters (JSON): which app.
    pub params: String,
    /// Its result (JSON): keys deleted, written, bytes analyzed.
    pub result: Option<String>,
    /// Filed (ms).
    pub created_at: i64,
    /// First approval (ms), from the audit trail.
    pub approved_at: Option<i64>,
    /// First rejection (ms).
    pub rejected_at: Option<i64>,
    /// Last time it reached succeeded or failed (ms).
    pub finished_at: Option<i64>,
}

impl Store {
    /// The tickets filed in `[from, to)` (ms), oldest first.
    pub async fn ticket_facts(&self, from: i64, to: i64) -> Result<Vec<TicketFacts>> {
        let rows = sqlx::query(
            "SELECT t.id, t.kind, t.state, t.params, t.result, t.created_at, \
             (SELECT MIN(a.at) FROM audit a WHERE a.ticket_id = t.id AND a.from_state = 'pending' AND a.to_state = 'approved') AS approved_at, \
             (SELECT MIN(a.at) FROM audit a WHERE a.ticket_id = t.id AND a.to_state = 'rejected') AS rejected_at, \
             (SELECT MAX(a.at) FROM audit a WHERE a.ticket_id = t.id AND a.to_state IN ('succeeded', 'failed')) AS finished_at \
             FROM tickets t WHERE t.created_at >= $1 AND t.created_at < $2 ORDER BY t.id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TicketFacts {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    state: super::rows::state_of(&r.try_get::<String, _>("state")?)?,
                    params: r.try_get("params")?,
                    result: r.try_get("result")?,
                    created_at: r.try_get("created_at")?,
                    approved_at: r.try_get("approved_at")?,
                    rejected_at: r.try_get("rejected_at")?,
                    finished_at: r.try_get("finished_at")?,
                })
            })
            .collect()
    }
}
