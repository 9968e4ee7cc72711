//! Tickets by filter, a page at a time with the total, and the counts per
//! state and type that the console's summary shows.

use sqlx::{AssertSqlSafe, Row};

use super::backend::Backend;
use super::handle::Store;
use super::rows::{ticket_from_row, TicketRow, TICKET_COLUMNS};
use crate::error::Result;
use crate::ticket::TicketState;

/// Which tickets to list, and which page of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TicketQuery {
    /// Only this submitter's.
    pub submitter: Option<String>,
    /// Only in this state.
    pub state: Option<TicketState>,
    /// Only of this type.
    pub kind: Option<String>,
    /// Only those whose parameters name this app (as `app`, a migration's
    /// source `app` or its `target`).
    pub app: Option<String>,
    /// Only filed at or after this time (ms).
    pub since_ms: Option<i64>,
    /// Only filed before this time (ms).
    pub until_ms: Option<i64>,
    /// At most this many (1 to 10,000).
    pub limit: i64,
    /// Skip this many of the newest first.
    pub offset: i64,
}

/// Tickets counted by state and type.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TicketCounts {
    /// `(state, type, count)` for every pair that has tickets.
    pub by_state_and_type: Vec<(String, String, i64)>,
}

enum Bind {
    S(String),
    I(i64),
}

impl Store {
    /// The `WHERE` clause of `q` and its values (`$1`…).
    fn where_of(&self, q: &TicketQuery) -> (String, Vec<Bind>) {
        let mut sql = String::from(" WHERE 1 = 1");
        let mut binds = Vec::new();
        let mut eq = |col: &str, v: String, sql: &mut String| {
            binds.push(Bind::S(v));
            sql.push_str(&format!(" AND {col} = ${}", binds.len()));
        };
        if let Some(s) = &q.submitter {
            eq("submitter", s.clone(), &mut sql);
        }
        if let Some(s) = q.state {
            eq("state", s.as_str().into(), &mut sql);
        }
        if let Some(k) = &q.kind {
            eq("kind", k.clone(), &mut sql);
        }
        if let Some(app) = &q.app {
            // Parameters are stored as canonical compact JSON: the app is
            // named as `"app":"shop"` (also inside a migration's source) or
            // as a migration's `"target":"shop"`.
            let find = match self.backend {
                Backend::Sqlite => "instr",
                Backend::Postgres => "strpos",
            };
            let name = serde_json::to_string(app).unwrap_or_default();
            binds.push(Bind::S(format!("\"app\":{name}")));
            binds.push(Bind::S(format!("\"target\":{name}")));
            let (a, b) = (binds.len() - 1, binds.len());
            sql.push_str(&format!(
                " AND ({find}(params, ${a}) > 0 OR {find}(params, ${b}) > 0)"
            ));
        }
        if let Some(t) = q.since_ms {
            binds.push(Bind::I(t));
            sql.push_str(&format!(" AND created_at >= ${}", binds.len()));
        }
        if let Some(t) = q.until_ms {
            binds.push(Bind::I(t));
            sql.push_str(&format!(" AND created_at < ${}", binds.len()));
        }
        (sql, binds)
    }

    /// A page of the tickets `q` selects, newest first, and how many it
    /// selects in all.
    pub async fn page_tickets(&self, q: &TicketQuery) -> Result<(Vec<TicketRow>, i64)> {
        let (cond, binds) = self.where_of(q);
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM tickets{cond} ORDER BY id DESC LIMIT {} OFFSET {}",
            q.limit.clamp(1, 10_000),
            q.offset.max(0)
        );
        let mut rows_q = sqlx::query(AssertSqlSafe(sql));
        let count_sql = format!("SELECT COUNT(*) AS n FROM tickets{cond}");
        let mut count_q = sqlx::query(AssertSqlSafe(count_sql));
        for b in &binds {
            match b {
                Bind::S(s) => {
                    rows_q = rows_q.bind(s.clone());
                    count_q = count_q.bind(s.clone());
                }
                Bind::I(i) => {
                    rows_q = rows_q.bind(*i);
                    count_q = count_q.bind(*i);
                }
            }
        }
        // Both at once, on two connections: one wait instead of two.
        let (rows, count) =
            tokio::try_join!(rows_q.fetch_all(&self.read), count_q.fetch_one(&self.read))?;
        let total: i64 = count.try_get("n")?;
        let tickets = rows.iter().map(ticket_from_row).collect::<Result<_>>()?;
        Ok((tickets, total))
    }

    /// Tickets counted by state and type (only `submitter`'s when given).
    pub async fn ticket_counts(&self, submitter: Option<&str>) -> Result<TicketCounts> {
        let q = TicketQuery {
            submitter: submitter.map(str::to_string),
            ..TicketQuery::default()
        };
        let (cond, binds) = self.where_of(&q);
        let sql = format!(
            "SELECT state, kind, COUNT(*) AS n FROM tickets{cond} GROUP BY state, kind ORDER BY state, kind"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for b in binds {
            query = match b {
                Bind::S(s) => query.bind(s),
                Bind::I(i) => query.bind(i),
            };
        }
        let rows = query.fetch_all(&self.read).await?;
        let by_state_and_type = rows
            .iter()
            .map(|r| Ok((r.try_get("state")?, r.try_get("kind")?, r.try_get("n")?)))
            .collect::<Result<_>>()?;
        Ok(TicketCounts { by_state_and_type })
    }

    /// Pending tickets that `admin` may decide: not their own unless
    /// self-approval is allowed.
    pub async fn waiting_for(&self, admin: &str, self_approval: bool) -> Result<i64> {
        let mut sql = String::from("SELECT COUNT(*) AS n FROM tickets WHERE state = 'pending'");
        if !self_approval {
            sql.push_str(" AND submitter <> $1");
        }
        let mut q = sqlx::query(AssertSqlSafe(sql));
        if !self_approval {
            q = q.bind(admin.to_string());
        }
        Ok(q.fetch_one(&self.read).await?.try_get("n")?)
    }
}
