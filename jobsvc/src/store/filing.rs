//! Filing a ticket in one transaction: the ticket (idempotent by its key),
//! its audit row, its `submitted` event and, when it needs approval, its
//! first round of approval records with the approvers' `needs_approval`
//! event; one of the API's writes, so it runs in a group (`group.rs`):
//! one INSERT of the ticket (returning it), one of its round's records,
//! and its audit row and events in the group's multi-row INSERTs.

use sqlx::AssertSqlSafe;

use super::approvals::{insert_rounds, NewRound};
use super::group::{GroupWrite, Outcome, Tx, TxFuture};
use super::handle::{now_ms, Store};
use super::rows::{ticket_from_row, NewTicket, TicketRow, TICKET_COLUMNS};
use super::trail::{values, AuditEntry, Trail};
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

/// A filing as its group runs it.
struct Filing {
    new: NewTicket,
    /// The first round and its approvers.
    first: Option<(NewRound, Vec<String>)>,
}

impl GroupWrite for Filing {
    type Out = (TicketRow, bool);

    fn run<'a>(
        &'a self,
        tx: &'a mut Tx,
        trail: &'a mut Trail,
    ) -> TxFuture<'a, Result<Outcome<(TicketRow, bool)>>> {
        Box::pin(async move {
            let new = &self.new;
            let at = now_ms();
            // A key used before by this submitter makes no row (the unique
            // index): the ticket it made is the answer.
            let sql = format!(
                "INSERT INTO tickets (kind, state, submitter, params, params_hash, idempotency_key, created_at, updated_at, attempts, progress, plan) VALUES ($1, 'pending', $2, $3, $4, $5, $6, $6, 0, $7, $8) ON CONFLICT DO NOTHING RETURNING {TICKET_COLUMNS}"
            );
            let row = sqlx::query(AssertSqlSafe(sql))
                .bind(&new.kind)
                .bind(&new.submitter)
                .bind(&new.params)
                .bind(&new.params_hash)
                .bind(new.idempotency_key.clone())
                .bind(at)
                .bind(r#"{"percent":0.0,"phase":"waiting","counters":{}}"#)
                .bind(new.plan.clone())
                .fetch_optional(&mut **tx)
                .await?;
            let Some(row) = row else {
                let sql = format!(
                    "SELECT {TICKET_COLUMNS} FROM tickets WHERE submitter = $1 AND idempotency_key = $2"
                );
                let used = sqlx::query(AssertSqlSafe(sql))
                    .bind(&new.submitter)
                    .bind(new.idempotency_key.clone().unwrap_or_default())
                    .fetch_optional(&mut **tx)
                    .await?;
                return Ok(match used {
                    Some(r) => Outcome::Done((ticket_from_row(&r)?, false)),
                    None => Outcome::Refused(Error::conflict("idempotency key in use")),
                });
            };
            let t = ticket_from_row(&row)?;
            if let Some((round, _)) = &self.first {
                insert_rounds(tx, &[(t.id, 1, round)], at).await?;
            }
            self.trail_of(&t, at, trail);
            Ok(Outcome::Done((t, true)))
        })
    }

    /// Several filings with four statements: one read of the tickets their
    /// keys made before, one INSERT of the new tickets (`RETURNING` them),
    /// one of their rounds' records, and the trail's. A key used twice in
    /// the group makes one ticket, the second write answered with it.
    /// The rare race a key may still lose (another PostgreSQL instance
    /// filing with the same key at once) fails the INSERT: the group is
    /// undone and each runs alone through [`GroupWrite::run`].
    fn run_many<'a>(
        writes: Vec<&'a Self>,
        tx: &'a mut Tx,
        trail: &'a mut Trail,
    ) -> TxFuture<'a, Result<Vec<Outcome<(TicketRow, bool)>>>> {
        Box::pin(async move {
            if writes.len() == 1 {
                return Ok(vec![writes[0].run(tx, trail).await?]);
            }
            let at = now_ms();
            let used = used_keys(tx, &writes).await?;
            // Which write makes each ticket: the first with its key.
            let mut makers: Vec<usize> = Vec::new();
            let mut keys: Vec<(&str, &str)> = Vec::new();
            for (i, w) in writes.iter().enumerate() {
                match key_of(&w.new) {
                    Some(k) if used.contains_key(&k) || keys.contains(&k) => {}
                    Some(k) => {
                        keys.push(k);
                        makers.push(i);
                    }
                    None => makers.push(i),
                }
            }
            let made = insert_tickets(tx, &writes, &makers, at).await?;
            let mut by_key: std::collections::HashMap<(&str, &str), TicketRow> = used;
            let mut out: Vec<Option<Outcome<(TicketRow, bool)>>> =
                (0..writes.len()).map(|_| None).collect();
            let mut rounds: Vec<(i64, i64, &NewRound)> = Vec::new();
            for (&i, t) in makers.iter().zip(made) {
                let w = writes[i];
                if let Some(k) = key_of(&w.new) {
                    by_key.insert(k, t.clone());
                }
                if let Some((round, _)) = &w.first {
                    rounds.push((t.id, 1, round));
                }
                w.trail_of(&t, at, trail);
                out[i] = Some(Outcome::Done((t, true)));
            }
            insert_rounds(tx, &rounds, at).await?;
            for (i, w) in writes.iter().enumerate() {
                if out[i].is_none() {
                    let t = key_of(&w.new).and_then(|k| by_key.get(&k)).cloned();
                    out[i] = Some(match t {
                        Some(t) => Outcome::Done((t, false)),
                        None => Outcome::Refused(Error::conflict("idempotency key in use")),
                    });
                }
            }
            Ok(out.into_iter().flatten().collect())
        })
    }
}

impl Filing {
    /// The audit row and events of ticket `t`, filed by this write at `at`.
    fn trail_of(&self, t: &TicketRow, at: i64, trail: &mut Trail) {
        let new = &self.new;
        trail.audit(AuditEntry {
            ticket_id: t.id,
            at,
            actor: new.submitter.clone(),
            from: None,
            to: TicketState::Pending,
            note: Some("submitted".into()),
        });
        let pending = TicketState::Pending;
        let submitted = NotifyEvent::Submitted;
        trail.event(
            EventRecord::new(t.id, &submitted, &new.submitter, pending, None),
            at,
        );
        if let Some((_, approvers)) = &self.first {
            let asked = NotifyEvent::NeedsApproval {
                users: approvers.clone(),
            };
            trail.event(
                EventRecord::new(t.id, &asked, &new.submitter, pending, None),
                at,
            );
        }
    }
}

/// A filing's submitter and idempotency key, if it has one.
fn key_of(new: &NewTicket) -> Option<(&str, &str)> {
    new.idempotency_key
        .as_deref()
        .map(|k| (new.submitter.as_str(), k))
}

/// The tickets the keys of `writes` made before, by submitter and key.
async fn used_keys<'w>(
    tx: &mut Tx,
    writes: &[&'w Filing],
) -> Result<std::collections::HashMap<(&'w str, &'w str), TicketRow>> {
    let keyed: Vec<(&str, &str)> = writes.iter().filter_map(|w| key_of(&w.new)).collect();
    let mut used = std::collections::HashMap::new();
    if keyed.is_empty() {
        return Ok(used);
    }
    let cond: Vec<String> = (0..keyed.len())
        .map(|i| {
            format!(
                "(submitter = ${} AND idempotency_key = ${})",
                2 * i + 1,
                2 * i + 2
            )
        })
        .collect();
    let sql = format!(
        "SELECT {TICKET_COLUMNS} FROM tickets WHERE {}",
        cond.join(" OR ")
    );
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for (s, k) in &keyed {
        q = q.bind(*s).bind(*k);
    }
    for r in q.fetch_all(&mut **tx).await? {
        let t = ticket_from_row(&r)?;
        let key = keyed
            .iter()
            .find(|(s, k)| t.submitter == *s && t.idempotency_key.as_deref() == Some(*k));
        if let Some(&key) = key {
            used.insert(key, t);
        }
    }
    Ok(used)
}

/// Inserts the tickets of `writes[makers]` in one statement; returns them
/// in the order of `makers`. Each returned row is matched to its write by
/// its contents (the order of `RETURNING` is not promised): rows that
/// match two writes are the same ticket either way.
async fn insert_tickets(
    tx: &mut Tx,
    writes: &[&Filing],
    makers: &[usize],
    at: i64,
) -> Result<Vec<TicketRow>> {
    if makers.is_empty() {
        return Ok(Vec::new());
    }
    // The time and the progress, the same for every row, are the two
    // parameters after the rows' own.
    let (t, p) = (makers.len() * 6 + 1, makers.len() * 6 + 2);
    let sql = format!(
        "INSERT INTO tickets (kind, submitter, params, params_hash, idempotency_key, plan, created_at, updated_at, progress, state, attempts) VALUES {} RETURNING {TICKET_COLUMNS}",
        values(makers.len(), 6, &format!(", ${t}, ${t}, ${p}, 'pending', 0"))
    );
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for &i in makers {
        let new = &writes[i].new;
        q = q
            .bind(new.kind.clone())
            .bind(new.submitter.clone())
            .bind(new.params.clone())
            .bind(new.params_hash.clone())
            .bind(new.idempotency_key.clone())
            .bind(new.plan.clone());
    }
    q = q
        .bind(at)
        .bind(r#"{"percent":0.0,"phase":"waiting","counters":{}}"#);
    let mut rows: Vec<Option<TicketRow>> = q
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| ticket_from_row(r).map(Some))
        .collect::<Result<_>>()?;
    let mut made = Vec::with_capacity(makers.len());
    for &i in makers {
        let new = &writes[i].new;
        let found = rows.iter_mut().find(|r| {
            r.as_ref().is_some_and(|t| {
                t.kind == new.kind
                    && t.submitter == new.submitter
                    && t.params == new.params
                    && t.params_hash == new.params_hash
                    && t.idempotency_key == new.idempotency_key
                    && t.plan == new.plan
            })
        });
        match found.and_then(Option::take) {
            Some(t) => made.push(t),
            None => return Err(Error::internal("store: a filed ticket was not returned")),
        }
    }
    Ok(made)
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
    /// all in one transaction (nothing of it when the key was used before),
    /// which it may share with other filings and decisions (`group.rs`).
    pub async fn file_ticket(
        &self,
        new: &NewTicket,
        first: Option<FirstRound<'_>>,
    ) -> Result<(TicketRow, bool)> {
        let filing = Filing {
            new: new.clone(),
            first: first.map(|f| (f.round.clone(), f.approvers)),
        };
        self.groups.write(filing).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_stores::{on_postgres, on_sqlite};
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

    #[test]
    fn store_files_a_ticket_with_its_round_once_sqlite() {
        on_sqlite("filing", |store| async move {
            files_once_with_its_round(&store).await
        });
    }

    #[test]
    fn store_files_a_ticket_with_its_round_once_postgres() {
        on_postgres(|store| async move { files_once_with_its_round(&store).await });
    }
}
