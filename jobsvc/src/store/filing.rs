//! Filing a ticket in one transaction: the ticket (idempotent by its key),
//! its audit row, its `submitted` event and, when it needs approval, its
//! first round of approval records with the approvers' `needs_approval`
//! event; one of the API's writes, so it takes its turn at the gate that
//! keeps the jobs' writes ahead.

use sqlx::{AssertSqlSafe, Row};

use super::approvals::{insert_round, NewRound};
use super::handle::{now_ms, Store};
use super::outbox::record_in;
use super::rows::{ticket_from_row, NewTicket, TicketRow, TICKET_COLUMNS};
use crate::error::{Error, Result};
use crate::notify::event::{EventRecord, NotifyEvent};
use crate::ticket::TicketState;

/// The first round of approvals a filed ticket opens, and who is asked.
pub struct FirstRound<'a> {
    /// The round's slots, policy, risk and impact.
    pub round: &'a NewRound,
    /// The users told that the ticket needs their approval.
    pub approvers: Vec<String>,
}

impl Store {
    /// Files a ticket (state pending) with its audit row. With an
    /// idempotency key already used by this submitter, returns the existing
    /// ticket and `false` (the caller compares the parameters).
    pub async fn insert_ticket(&self, new: &NewTicket) -> Result<(TicketRow, bool)> {
        self.file_ticket(new, None).await
    }

    /// Files a ticket as [`Store::insert_ticket`] does and, with `first`,
    /// opens its first round of approval records and asks its approvers,
    /// all in one transaction (nothing of it when the key was used before).
    pub async fn file_ticket(
        &self,
        new: &NewTicket,
        first: Option<FirstRound<'_>>,
    ) -> Result<(TicketRow, bool)> {
        // A key used before fails the insert (a unique index): the ticket
        // it made is returned. (The API looks it up first, on a reader.)
        let _turn = self.api_write_turn().await?;
        let at = now_ms();
        let mut tx = self.pool.begin().await?;
        let res = sqlx::query(
            "INSERT INTO tickets (kind, state, submitter, params, params_hash, idempotency_key, created_at, updated_at, attempts, progress, plan) VALUES ($1, 'pending', $2, $3, $4, $5, $6, $6, 0, $7, $8) RETURNING id",
        )
        .bind(&new.kind)
        .bind(&new.submitter)
        .bind(&new.params)
        .bind(&new.params_hash)
        .bind(new.idempotency_key.clone())
        .bind(at)
        .bind(r#"{"percent":0.0,"phase":"waiting","counters":{}}"#)
        .bind(new.plan.clone())
        .fetch_one(&mut *tx)
        .await;
        let id: i64 = match res {
            Ok(r) => r.try_get("id")?,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                drop(tx);
                let key = new.idempotency_key.as_deref().unwrap_or_default();
                let t = self
                    .ticket_by_key(&new.submitter, key)
                    .await?
                    .ok_or_else(|| Error::conflict("idempotency key in use"))?;
                return Ok((t, false));
            }
            Err(e) => return Err(e.into()),
        };
        sqlx::query(
            "INSERT INTO audit (ticket_id, at, actor, from_state, to_state, note) VALUES ($1, $2, $3, NULL, 'pending', 'submitted')",
        )
        .bind(id)
        .bind(at)
        .bind(&new.submitter)
        .execute(&mut *tx)
        .await?;
        let submitted = EventRecord::new(
            id,
            &NotifyEvent::Submitted,
            &new.submitter,
            TicketState::Pending,
            None,
        );
        record_in(&mut tx, &submitted).await?;
        if let Some(first) = first {
            insert_round(&mut tx, id, 1, first.round).await?;
            let asked = NotifyEvent::NeedsApproval {
                users: first.approvers,
            };
            let asked = EventRecord::new(id, &asked, &new.submitter, TicketState::Pending, None);
            record_in(&mut tx, &asked).await?;
        }
        let sql = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let t = ticket_from_row(&row)?;
        tx.commit().await?;
        Ok((t, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::TicketQuery;
    use crate::ticket::Eligible;

    fn new_ticket(key: &str) -> NewTicket {
        NewTicket {
            kind: "analysis".into(),
            submitter: "ann".into(),
            params: r#"{"app":"shop"}"#.into(),
            params_hash: "h1".into(),
            idempotency_key: Some(key.into()),
            plan: None,
        }
    }

    /// Files a ticket with its first round, reads it back through the
    /// writer and the readers, and files it again with the same key.
    async fn files_once_with_its_round(store: &Store) {
        let round = NewRound {
            policy: "default".into(),
            risk: "low".into(),
            impact: None,
            slots: vec![("an admin".into(), Eligible::AnyAdmin)],
        };
        let first = FirstRound {
            round: &round,
            approvers: vec!["bob".into()],
        };
        let (t, created) = store
            .file_ticket(&new_ticket("k1"), Some(first))
            .await
            .unwrap();
        assert!(created);
        assert_eq!(t.state, TicketState::Pending);
        let reads = store.read_view();
        // Committed before the reads began: the readers see all of it.
        let seen = reads.get_ticket(t.id).await.unwrap().expect("ticket");
        assert_eq!(seen.id, t.id);
        let records = reads.approvals(t.id).await.unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].round, 1);
        assert_eq!(reads.audit(t.id).await.unwrap().len(), 1);
        // The same key again: the same ticket, nothing filed or opened.
        let (again, created) = store.insert_ticket(&new_ticket("k1")).await.unwrap();
        assert!(!created);
        assert_eq!(again.id, t.id);
        assert_eq!(store.approvals(t.id).await.unwrap().len(), 1);
        let all = reads.page_tickets(&TicketQuery::default()).await.unwrap();
        assert_eq!(all.1, 1, "one ticket in the store");
        // Without a round: filed alone.
        let (other, created) = store.insert_ticket(&new_ticket("k2")).await.unwrap();
        assert!(created && other.id != t.id);
        assert!(reads.approvals(other.id).await.unwrap().is_empty());
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn store_files_a_ticket_with_its_round_once_sqlite() {
        let dir = testkit::temp_dir("filing");
        let url = format!("sqlite://{}", dir.join("jobs.db").display());
        runtime().block_on(async {
            let store = Store::open(&url).await.unwrap();
            files_once_with_its_round(&store).await;
            store.close().await;
        });
    }

    #[test]
    fn store_files_a_ticket_with_its_round_once_postgres() {
        let Some(pg) = testkit::require_postgres() else {
            return;
        };
        let pg = pg.start().expect("start postgres");
        runtime().block_on(async {
            let store = Store::open(&pg.url()).await.unwrap();
            files_once_with_its_round(&store).await;
            store.close().await;
        });
    }
}
