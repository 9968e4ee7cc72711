//! Approval records (one per slot a ticket's policy asks for, in rounds:
//! an amendment, a resubmission or a grown plan voids the records of the
//! old round, approved ones too, and a new round opens), stand-ins, and the approval policies set through
//! the API. Every decision is stored with its ticket transition and audit
//! row in one transaction.

use sqlx::{AssertSqlSafe, Row};

use super::group::{GroupWrite, Outcome, TxFuture};
use super::handle::{now_ms, Store};
use super::rows::TransitionExtras;
use super::tickets::{apply_in, trail_of, update_in};
use super::trail::{values, Trail};
use crate::error::{Error, Result};
use crate::ticket::{Eligible, Impact, SlotState, TicketState, Transition};

/// One approval record as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalRow {
    /// Id.
    pub id: i64,
    /// Its ticket.
    pub ticket_id: i64,
    /// The round (1 at submission, one more per resubmission).
    pub round: i64,
    /// Its place in the round (0-based).
    pub slot: i64,
    /// What the policy asked: `admin`, `team_lead`, `app_approver`, `user:NAME`.
    pub requirement: String,
    /// Who may fill it.
    pub eligible: Eligible,
    /// The policy rule's name.
    pub policy: String,
    /// The ticket's risk when the round opened.
    pub risk: String,
    /// Where it is.
    pub state: SlotState,
    /// Who decided.
    pub actor: Option<String>,
    /// Whom the actor stood in for.
    pub for_user: Option<String>,
    /// When decided (ms).
    pub at: Option<i64>,
    /// The approver's note.
    pub note: Option<String>,
    /// The plan's impact the approval is bound to.
    pub impact: Option<Impact>,
}

/// A round to open: the policy's name, the ticket's risk, the impact the
/// approvals are bound to, and each slot's requirement and approvers.
#[derive(Clone, Debug)]
pub struct NewRound {
    /// The policy rule's name.
    pub policy: String,
    /// The risk.
    pub risk: String,
    /// The plan's impact.
    pub impact: Option<Impact>,
    /// One per record.
    pub slots: Vec<(String, Eligible)>,
}

/// A stand-in: `stand_in` decides for `member` between two times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delegate {
    /// The user who is away.
    pub member: String,
    /// Who approves for them.
    pub stand_in: String,
    /// From (ms).
    pub from_ms: i64,
    /// Until (ms).
    pub until_ms: i64,
}

fn eligible_text(e: &Eligible) -> Option<String> {
    match e {
        Eligible::AnyAdmin => None,
        Eligible::Users(u) => serde_json::to_string(u).ok(),
    }
}

fn eligible_of(t: Option<String>) -> Eligible {
    match t {
        None => Eligible::AnyAdmin,
        Some(t) => Eligible::Users(serde_json::from_str(&t).unwrap_or_default()),
    }
}

const COLUMNS: &str = "id, ticket_id, round, slot, requirement, eligible, policy, risk, state, actor, for_user, at, note, impact_keys, impact_bytes";

fn approval_of(r: &sqlx::any::AnyRow) -> Result<ApprovalRow> {
    let keys: Option<i64> = r.try_get("impact_keys")?;
    let bytes: Option<i64> = r.try_get("impact_bytes")?;
    Ok(ApprovalRow {
        id: r.try_get("id")?,
        ticket_id: r.try_get("ticket_id")?,
        round: r.try_get("round")?,
        slot: r.try_get("slot")?,
        requirement: r.try_get("requirement")?,
        eligible: eligible_of(r.try_get("eligible")?),
        policy: r.try_get("policy")?,
        risk: r.try_get("risk")?,
        state: r
            .try_get::<String, _>("state")?
            .parse()
            .map_err(Error::internal)?,
        actor: r.try_get("actor")?,
        for_user: r.try_get("for_user")?,
        at: r.try_get("at")?,
        note: r.try_get("note")?,
        impact: keys.map(|k| Impact {
            keys: k as u64,
            bytes: bytes.unwrap_or(0) as u64,
        }),
    })
}

type Tx = sqlx::Transaction<'static, sqlx::Any>;

async fn void_pending(tx: &mut Tx, ticket: i64) -> Result<()> {
    sqlx::query("UPDATE approvals SET state = 'void' WHERE ticket_id = $1 AND state = 'pending'")
        .bind(ticket)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Voids every record that still counts (pending or approved): the
/// parameters or the plan they judged changed.
async fn void_all(tx: &mut Tx, ticket: i64) -> Result<()> {
    sqlx::query("UPDATE approvals SET state = 'void' WHERE ticket_id = $1 AND state IN ('pending', 'approved')")
        .bind(ticket)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn open_in(tx: &mut Tx, ticket: i64, round: &NewRound) -> Result<()> {
    void_all(tx, ticket).await?;
    let r = sqlx::query("SELECT COALESCE(MAX(round), 0) AS n FROM approvals WHERE ticket_id = $1")
        .bind(ticket)
        .fetch_one(&mut **tx)
        .await?;
    let n: i64 = r.try_get::<i64, _>("n")? + 1;
    insert_rounds(tx, &[(ticket, n, round)], now_ms()).await
}

/// Inserts rounds of approval records, `(ticket, round number, round)`,
/// opened at `at`, in one statement (100 records to a statement at most).
pub(super) async fn insert_rounds(
    tx: &mut Tx,
    rounds: &[(i64, i64, &NewRound)],
    at: i64,
) -> Result<()> {
    let records: Vec<(i64, i64, usize, &NewRound)> = rounds
        .iter()
        .flat_map(|&(ticket, n, round)| (0..round.slots.len()).map(move |i| (ticket, n, i, round)))
        .collect();
    for chunk in records.chunks(100) {
        let sql = format!(
            "INSERT INTO approvals (ticket_id, round, slot, requirement, eligible, policy, risk, impact_keys, impact_bytes, created_at, state) VALUES {}",
            values(chunk.len(), 10, ", 'pending'")
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for &(ticket, n, i, round) in chunk {
            let (req, el) = &round.slots[i];
            q = q
                .bind(ticket)
                .bind(n)
                .bind(i as i64)
                .bind(req.clone())
                .bind(eligible_text(el))
                .bind(round.policy.clone())
                .bind(round.risk.clone())
                .bind(round.impact.map(|i| i.keys as i64))
                .bind(round.impact.map(|i| i.bytes as i64))
                .bind(at);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// A decision as its group runs it.
struct Decision {
    approval: i64,
    ticket: i64,
    t: Transition,
    extras: TransitionExtras,
}

impl GroupWrite for Decision {
    type Out = ();

    /// Three statements: the records (the decided one and, when the ticket
    /// leaves pending, the rest of its round voided) only while the record
    /// is pending and the ticket in the transition's `from` state, so that
    /// a decision that lost writes nothing; then the ticket's
    /// compare-and-set; its audit row and event go in the group's trail.
    fn run<'a>(
        &'a self,
        tx: &'a mut Tx,
        trail: &'a mut Trail,
    ) -> TxFuture<'a, Result<Outcome<()>>> {
        Box::pin(async move {
            let (t, ticket, approval) = (&self.t, self.ticket, self.approval);
            let d = t
                .slot
                .as_ref()
                .ok_or_else(|| Error::internal("a decision without its record"))?;
            let at = now_ms();
            let leaves = i64::from(t.to != TicketState::Pending);
            let rows = sqlx::query("UPDATE approvals SET state = CASE WHEN id = $6 THEN $1 ELSE 'void' END, actor = CASE WHEN id = $6 THEN $2 ELSE actor END, for_user = CASE WHEN id = $6 THEN $3 ELSE for_user END, at = CASE WHEN id = $6 THEN $4 ELSE at END, note = CASE WHEN id = $6 THEN $5 ELSE note END WHERE ticket_id = $7 AND state = 'pending' AND (id = $6 OR $8 = 1) AND EXISTS (SELECT 1 FROM approvals d WHERE d.id = $6 AND d.ticket_id = $7 AND d.state = 'pending') AND EXISTS (SELECT 1 FROM tickets k WHERE k.id = $7 AND k.state = $9) RETURNING id")
                .bind(d.state.as_str())
                .bind(&t.actor)
                .bind(d.for_user.clone())
                .bind(at)
                .bind(t.note.clone())
                .bind(approval)
                .bind(ticket)
                .bind(leaves)
                .bind(t.from.as_str())
                .fetch_all(&mut **tx)
                .await?;
            let decided = rows
                .iter()
                .any(|r| r.try_get::<i64, _>("id").ok() == Some(approval));
            if !decided {
                return Ok(Outcome::Refused(Error::conflict(format!(
                    "approval {approval} was decided meanwhile, or ticket {ticket} is no longer {}",
                    t.from
                ))));
            }
            if !update_in(tx, ticket, t, &self.extras, at).await? {
                // Its records were written: the group is undone.
                return Err(lost(ticket, t));
            }
            trail_of(trail, ticket, t, at);
            Ok(Outcome::Done(()))
        })
    }
}

fn lost(id: i64, t: &Transition) -> Error {
    Error::conflict(format!(
        "ticket {id} changed meanwhile (expected it {})",
        t.from
    ))
}

impl Store {
    /// Opens a new round of approval records for a ticket (voiding what is
    /// pending of the last one).
    pub async fn open_round(&self, ticket: i64, round: &NewRound) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        open_in(&mut tx, ticket, round).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every approval record of a ticket, oldest round first.
    pub async fn approvals(&self, ticket: i64) -> Result<Vec<ApprovalRow>> {
        let sql =
            format!("SELECT {COLUMNS} FROM approvals WHERE ticket_id = $1 ORDER BY round, slot");
        sqlx::query(AssertSqlSafe(sql))
            .bind(ticket)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(approval_of)
            .collect()
    }

    /// The records of a ticket's last round, in slot order.
    pub async fn current_round(&self, ticket: i64) -> Result<Vec<ApprovalRow>> {
        let all = self.approvals(ticket).await?;
        let last = all.iter().map(|a| a.round).max().unwrap_or(0);
        Ok(all.into_iter().filter(|a| a.round == last).collect())
    }

    /// The pending records of pending tickets (for "needs my approval").
    pub async fn pending_approvals(&self) -> Result<Vec<ApprovalRow>> {
        let sql = format!("SELECT {} FROM approvals a JOIN tickets t ON t.id = a.ticket_id WHERE a.state = 'pending' AND t.state = 'pending' ORDER BY a.ticket_id DESC, a.slot",
            COLUMNS.split(", ").map(|c| format!("a.{c}")).collect::<Vec<_>>().join(", "));
        sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(approval_of)
            .collect()
    }

    /// Stores a decision on record `approval` with its ticket transition
    /// and audit row; the rest of the round is void when the ticket left
    /// pending. One of the API's writes: it runs in a group (`group.rs`).
    pub async fn decide(
        &self,
        approval: i64,
        ticket: i64,
        t: &Transition,
        extras: &TransitionExtras,
    ) -> Result<()> {
        if t.slot.is_none() {
            return Err(Error::internal("a decision without its record"));
        }
        let decision = Decision {
            approval,
            ticket,
            t: t.clone(),
            extras: extras.clone(),
        };
        self.groups.write(decision).await
    }

    /// Stores a transition that leaves pending (a legacy reject, a cancel)
    /// or re-enters it (resubmit, a grown plan) with its records: the
    /// pending ones are void, and `round` (if any) opens a new round. With
    /// `plan`, the ticket's plan is replaced too.
    pub async fn apply_with_round(
        &self,
        ticket: i64,
        t: &Transition,
        extras: &TransitionExtras,
        plan: Option<&str>,
        round: Option<&NewRound>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        if !apply_in(&mut tx, ticket, t, extras).await? {
            return Err(lost(ticket, t));
        }
        if let Some(p) = plan {
            sqlx::query("UPDATE tickets SET plan = $1 WHERE id = $2")
                .bind(p)
                .bind(ticket)
                .execute(&mut *tx)
                .await?;
        }
        void_pending(&mut tx, ticket).await?;
        if let Some(r) = round {
            open_in(&mut tx, ticket, r).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Amends a returned ticket: new parameters, hash and plan, with the
    /// transition's audit row.
    pub async fn amend(
        &self,
        ticket: i64,
        params: &str,
        hash: &str,
        plan: &str,
        t: &Transition,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE tickets SET params = $1, params_hash = $2, plan = $3 WHERE id = $4 AND state = 'returned'")
            .bind(params)
            .bind(hash)
            .bind(plan)
            .bind(ticket)
            .execute(&mut *tx)
            .await?;
        if !apply_in(&mut tx, ticket, t, &TransitionExtras::default()).await? {
            return Err(lost(ticket, t));
        }
        void_all(&mut tx, ticket).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Names a stand-in for `member` (replacing any earlier one).
    pub async fn set_delegate(&self, d: &Delegate) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM delegates WHERE member = $1")
            .bind(&d.member)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO delegates (member, stand_in, from_ms, until_ms, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&d.member)
            .bind(&d.stand_in)
            .bind(d.from_ms)
            .bind(d.until_ms)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends `member`'s stand-in; false when there was none.
    pub async fn clear_delegate(&self, member: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM delegates WHERE member = $1")
            .bind(member)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Every stand-in, as named.
    pub async fn delegates(&self) -> Result<Vec<Delegate>> {
        sqlx::query("SELECT member, stand_in, from_ms, until_ms FROM delegates ORDER BY member")
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(|r| {
                Ok(Delegate {
                    member: r.try_get("member")?,
                    stand_in: r.try_get("stand_in")?,
                    from_ms: r.try_get("from_ms")?,
                    until_ms: r.try_get("until_ms")?,
                })
            })
            .collect()
    }

    /// The approval policies set through the API (JSON), who set them and
    /// when; none: the config's apply.
    pub async fn stored_policies(&self) -> Result<Option<(String, String, i64)>> {
        let r =
            sqlx::query("SELECT rules, updated_by, updated_at FROM approval_policies WHERE id = 1")
                .fetch_optional(&self.read)
                .await?;
        r.map(|r| {
            Ok((
                r.try_get("rules")?,
                r.try_get("updated_by")?,
                r.try_get("updated_at")?,
            ))
        })
        .transpose()
    }

    /// Replaces the approval policies (none: back to the config's).
    pub async fn set_policies(&self, rules: Option<&str>, by: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM approval_policies WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        if let Some(rules) = rules {
            sqlx::query("INSERT INTO approval_policies (id, rules, updated_by, updated_at) VALUES (1, $1, $2, $3)")
                .bind(rules)
                .bind(by)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
