//! Group commit of the API's writes (filing a ticket, an approval
//! decision): the writes that wait for a turn at the same moment run in one
//! transaction, one commit for all, each still answered with its own
//! result or its own error.
//!
//! A write queues itself, then waits for a turn (one at a time on SQLite,
//! a few on PostgreSQL: see `Backend::api_writers`) or for its answer,
//! whichever comes first. Whoever gets a turn takes what is queued (up to
//! [`MAX_GROUP`] writes, oldest first), runs it in one transaction on a
//! task of its own (a caller that goes away cancels nothing), and keeps
//! taking turns until its own write is answered.
//!
//! One write failing must not fail the others, and a write may fail in
//! two ways:
//! - refused before it wrote anything ([`Outcome::Refused`]: an approval
//!   decided meanwhile, an idempotency key in use): it gets its error and
//!   the group goes on;
//! - failed after writing ([`Err`]: a compare-and-set lost after its first
//!   statement, a database error, which on PostgreSQL also aborts the
//!   transaction): the whole group is rolled back and each of its writes
//!   runs again alone, in a transaction of its own, so the failing one
//!   fails alone and the others commit.
//!
//! Each write's audit rows and events go into a [`Trail`] written at the
//! group's end, in one multi-row INSERT per table. A commit that fails
//! answers every write of the group with its error (its outcome unknown,
//! as a lone transaction's would be).

use std::any::{Any, TypeId};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sqlx::AnyPool;
use tokio::sync::{oneshot, Semaphore};

use super::trail::Trail;
use crate::error::{Error, Result};

/// A transaction on the store.
pub(super) type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// A future that borrows the transaction it runs in.
pub(super) type TxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Writes in one group at most.
const MAX_GROUP: usize = 64;

/// What a write did in its group.
pub(super) enum Outcome<O> {
    /// Done (its trail added to the group's).
    Done(O),
    /// Refused before it wrote anything: the group goes on without it.
    Refused(Error),
}

/// One of the API's writes, run in a group's transaction. It may run more
/// than once (again alone when its group failed), so it only reads itself.
pub(super) trait GroupWrite: Send + Sync + Sized + 'static {
    /// What it answers.
    type Out: Send + 'static;
    /// Runs it inside `tx`, adding its audit rows and events to `trail`.
    fn run<'a>(
        &'a self,
        tx: &'a mut Tx,
        trail: &'a mut Trail,
    ) -> TxFuture<'a, Result<Outcome<Self::Out>>>;

    /// Runs the group's writes of this kind (in the order they came), one
    /// outcome each: by default one after the other; a kind may write them
    /// with fewer statements.
    fn run_many<'a>(
        writes: Vec<&'a Self>,
        tx: &'a mut Tx,
        trail: &'a mut Trail,
    ) -> TxFuture<'a, Result<Vec<Outcome<Self::Out>>>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(writes.len());
            for w in writes {
                out.push(w.run(tx, trail).await?);
            }
            Ok(out)
        })
    }
}

/// Runs queued writes that are all of one kind.
type Runner = for<'a> fn(
    &'a mut [&mut Box<dyn Queued>],
    &'a mut Tx,
    &'a mut Trail,
) -> TxFuture<'a, Result<()>>;

/// A queued write with the channel its answer goes back on.
trait Queued: Send {
    /// Its kind (the type of its write).
    fn kind(&self) -> TypeId;
    /// What runs the writes of its kind together.
    fn runner(&self) -> Runner;
    /// Itself, to be downcast by its runner.
    fn as_any(&mut self) -> &mut dyn Any;
    /// Sends its answer: what its last run gave when `committed` is Ok,
    /// else that error.
    fn answer(self: Box<Self>, committed: Result<()>);
}

struct Waiting<W: GroupWrite> {
    write: W,
    out: Option<Result<W::Out>>,
    reply: oneshot::Sender<Result<W::Out>>,
}

/// The [`Runner`] of writes of type `W`.
fn run_kind<'a, W: GroupWrite>(
    items: &'a mut [&mut Box<dyn Queued>],
    tx: &'a mut Tx,
    trail: &'a mut Trail,
) -> TxFuture<'a, Result<()>> {
    Box::pin(async move {
        let mut waiting = Vec::with_capacity(items.len());
        for q in items.iter_mut() {
            let w = q.as_any().downcast_mut::<Waiting<W>>();
            waiting.push(w.ok_or_else(|| Error::internal("store: writes of two kinds"))?);
        }
        let writes: Vec<&W> = waiting.iter().map(|w| &w.write).collect();
        let outs = W::run_many(writes, tx, trail).await?;
        if outs.len() != waiting.len() {
            return Err(Error::internal("store: a write without its outcome"));
        }
        for (w, o) in waiting.iter_mut().zip(outs) {
            w.out = Some(match o {
                Outcome::Done(o) => Ok(o),
                Outcome::Refused(e) => Err(e),
            });
        }
        Ok(())
    })
}

impl<W: GroupWrite> Queued for Waiting<W> {
    fn kind(&self) -> TypeId {
        TypeId::of::<W>()
    }

    fn runner(&self) -> Runner {
        run_kind::<W>
    }

    fn as_any(&mut self) -> &mut dyn Any {
        self
    }

    fn answer(self: Box<Self>, committed: Result<()>) {
        let out = match committed {
            Ok(()) => self
                .out
                .unwrap_or_else(|| Err(Error::internal("store: a write was not run"))),
            Err(e) => Err(e),
        };
        // Its caller may have gone away: nobody to tell.
        let _ = self.reply.send(out);
    }
}

/// The API's writes waiting for a turn, and the turns.
pub(super) struct WriteGroups {
    pool: AnyPool,
    turns: Arc<Semaphore>,
    queue: Mutex<Vec<Box<dyn Queued>>>,
    /// Transactions committed (for tests: how the writes were grouped).
    commits: Arc<AtomicU64>,
}

impl std::fmt::Debug for WriteGroups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteGroups")
            .field("free_turns", &self.turns.available_permits())
            .field("queued", &self.lock().len())
            .finish()
    }
}

impl WriteGroups {
    /// Groups run on `pool`, `turns` of them at once.
    pub(super) fn new(pool: AnyPool, turns: usize) -> WriteGroups {
        WriteGroups {
            pool,
            turns: Arc::new(Semaphore::new(turns)),
            queue: Mutex::new(Vec::new()),
            commits: Arc::default(),
        }
    }

    /// Runs `write` in the next group and returns its answer.
    pub(super) async fn write<W: GroupWrite>(&self, write: W) -> Result<W::Out> {
        let (reply, mut answer) = oneshot::channel();
        self.lock().push(Box::new(Waiting {
            write,
            out: None,
            reply,
        }));
        loop {
            let turn = tokio::select! {
                biased;
                out = &mut answer => return out.map_err(|_| lost_answer())?,
                turn = self.turns.clone().acquire_owned() => {
                    turn.map_err(|_| Error::transient("store: closing"))?
                }
            };
            let group: Vec<Box<dyn Queued>> = {
                let mut queue = self.lock();
                let n = queue.len().min(MAX_GROUP);
                queue.drain(..n).collect()
            };
            if group.is_empty() {
                // Answered by the group before this turn.
                continue;
            }
            let (pool, commits) = (self.pool.clone(), self.commits.clone());
            // On a task of its own: the group's other writes are not lost
            // when this caller goes away.
            let run = tokio::spawn(async move {
                run_group(&pool, group, &commits).await;
                drop(turn);
            });
            if run.await.is_err() {
                return Err(Error::internal("store: a group of writes failed"));
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Box<dyn Queued>>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn lost_answer() -> Error {
    Error::internal("store: a write's group ended without its answer")
}

/// Why a group's transaction did not commit.
enum Failed {
    /// A write failed after writing: the group is undone, and each write
    /// runs again alone.
    Write(Error),
    /// The transaction could not begin or commit: every write gets it.
    All(Error),
}

/// Runs `group` in one transaction and answers each of its writes.
async fn run_group(pool: &AnyPool, mut group: Vec<Box<dyn Queued>>, commits: &AtomicU64) {
    match attempt(pool, &mut group, commits).await {
        Ok(()) => group.into_iter().for_each(|w| w.answer(Ok(()))),
        Err(Failed::All(e)) => group.into_iter().for_each(|w| w.answer(Err(e.clone()))),
        Err(Failed::Write(e)) if group.len() == 1 => {
            group.into_iter().for_each(|w| w.answer(Err(e.clone())))
        }
        Err(Failed::Write(_)) => {
            // Nothing of the group was kept: each alone now.
            for mut w in group {
                match attempt(pool, std::slice::from_mut(&mut w), commits).await {
                    Ok(()) => w.answer(Ok(())),
                    Err(Failed::All(e) | Failed::Write(e)) => w.answer(Err(e)),
                }
            }
        }
    }
}

/// One transaction for `group`: each write, then their trail, one commit.
async fn attempt(
    pool: &AnyPool,
    group: &mut [Box<dyn Queued>],
    commits: &AtomicU64,
) -> std::result::Result<(), Failed> {
    let mut tx = pool.begin().await.map_err(|e| Failed::All(e.into()))?;
    let mut trail = Trail::default();
    // Kind by kind, in the order each kind first came; each kind's writes
    // in the order they came.
    let mut kinds: Vec<TypeId> = Vec::new();
    for w in group.iter() {
        if !kinds.contains(&w.kind()) {
            kinds.push(w.kind());
        }
    }
    for kind in kinds {
        let mut items: Vec<&mut Box<dyn Queued>> =
            group.iter_mut().filter(|w| w.kind() == kind).collect();
        let runner = items[0].runner();
        runner(&mut items, &mut tx, &mut trail)
            .await
            .map_err(Failed::Write)?;
    }
    trail.write(&mut tx).await.map_err(Failed::Write)?;
    tx.commit().await.map_err(|e| Failed::All(e.into()))?;
    commits.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::store::test_stores::{on_postgres, on_sqlite};
    use crate::store::{NewRound, NewTicket, Store, TransitionExtras};
    use crate::ticket::{Eligible, SlotDecision, SlotState, TicketState, Transition};

    fn new_ticket(key: &str) -> NewTicket {
        NewTicket {
            kind: "analysis".into(),
            submitter: "ann".into(),
            params: format!(r#"{{"app":"{key}"}}"#),
            params_hash: key.into(),
            idempotency_key: Some(key.into()),
            plan: None,
        }
    }

    /// Files a ticket, then runs a statement that fails: a write that
    /// fails after writing.
    struct Faulty(NewTicket);

    impl GroupWrite for Faulty {
        type Out = ();
        fn run<'a>(
            &'a self,
            tx: &'a mut Tx,
            _: &'a mut Trail,
        ) -> TxFuture<'a, Result<Outcome<()>>> {
            Box::pin(async move {
                sqlx::query("INSERT INTO tickets (kind, state, submitter, params, params_hash, idempotency_key, created_at, updated_at, attempts, progress) VALUES ('analysis', 'pending', $1, '{}', 'x', $2, 0, 0, 0, '{}')")
                    .bind(&self.0.submitter)
                    .bind(self.0.idempotency_key.clone())
                    .execute(&mut **tx)
                    .await?;
                sqlx::query("UPDATE no_such_table SET x = 1")
                    .execute(&mut **tx)
                    .await?;
                Ok(Outcome::Done(()))
            })
        }
    }

    fn commits(store: &Store) -> u64 {
        store.groups.commits.load(Ordering::Relaxed)
    }

    /// Holds the only turn until `n` writes are queued, then lets them go:
    /// they run as one group.
    async fn release_when_queued(store: &Store, turn: tokio::sync::OwnedSemaphorePermit, n: usize) {
        while store.groups.lock().len() < n {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        drop(turn);
    }

    async fn take_turns(store: &Store) -> Vec<tokio::sync::OwnedSemaphorePermit> {
        let n = store.groups.turns.available_permits();
        let mut turns = Vec::new();
        for _ in 0..n {
            turns.push(store.groups.turns.clone().acquire_owned().await.unwrap());
        }
        turns
    }

    /// Gathers writes while every turn is held, then frees one turn.
    async fn one_group<T: Send + 'static>(
        store: &Store,
        mut turns: Vec<tokio::sync::OwnedSemaphorePermit>,
        writes: Vec<tokio::task::JoinHandle<T>>,
    ) -> Vec<T> {
        let last = turns.pop().unwrap();
        let n = writes.len();
        release_when_queued(store, last, n).await;
        let mut out = Vec::new();
        for w in writes {
            out.push(w.await.unwrap());
        }
        drop(turns);
        out
    }

    fn round() -> NewRound {
        NewRound {
            policy: "default".into(),
            risk: "low".into(),
            impact: None,
            slots: vec![("an admin".into(), Eligible::AnyAdmin)],
        }
    }

    fn approve(actor: &str) -> Transition {
        Transition {
            from: TicketState::Pending,
            to: TicketState::Approved,
            actor: actor.into(),
            note: None,
            attempts: 0,
            slot: Some(SlotDecision {
                index: 0,
                state: SlotState::Approved,
                for_user: None,
            }),
        }
    }

    /// Filings of one group written together: keys used before or twice
    /// in the group, twin filings with no key, rounds on some.
    async fn filings_together(store: &Store) {
        let (old, _) = store.insert_ticket(&new_ticket("f-old")).await.unwrap();
        let before = commits(store);
        let turns = take_turns(store).await;
        let mut specs: Vec<(Option<&str>, bool)> = vec![
            (Some("f-old"), false),
            (Some("f1"), true),
            (Some("f1"), true),
            (None, false),
            (None, false),
            (None, true),
            (Some("f2"), false),
            (Some("f3"), true),
        ];
        let mut writes = Vec::new();
        for (key, with_round) in specs.drain(..) {
            let s = store.clone();
            let mut t = new_ticket(key.unwrap_or("nokey"));
            t.idempotency_key = key.map(str::to_string);
            writes.push(tokio::spawn(async move {
                let r = round();
                let first = with_round.then(|| crate::store::FirstRound {
                    round: &r,
                    approvers: vec!["bob".into()],
                });
                let (t, created) = s.file_ticket(&t, first).await.unwrap();
                (t, created, with_round)
            }));
        }
        let out = one_group(store, turns, writes).await;
        assert_eq!(commits(store) - before, 1, "one group, one commit");
        assert_eq!(
            (out[0].0.id, out[0].1),
            (old.id, false),
            "a key used before"
        );
        assert_eq!(out[1].0.id, out[2].0.id, "a key used twice: one ticket");
        assert_eq!(usize::from(out[1].1) + usize::from(out[2].1), 1);
        let ids: std::collections::BTreeSet<i64> = out.iter().map(|o| o.0.id).collect();
        assert_eq!(ids.len(), 7, "f-old, f1, three without a key, f2, f3");
        for (t, created, with_round) in &out {
            assert_eq!(
                t.idempotency_key.as_deref().unwrap_or("nokey"),
                &t.params[8..t.params.len() - 2]
            );
            let records = store.approvals(t.id).await.unwrap();
            let audit = store.audit(t.id).await.unwrap();
            assert_eq!(audit.len(), 1, "ticket {}", t.id);
            if *created || t.id == out[1].0.id {
                assert_eq!(records.len(), usize::from(*with_round), "ticket {}", t.id);
            }
        }
        // Back to an empty store for the next steps.
        store.execute_raw("DELETE FROM approvals").await.unwrap();
        store.execute_raw("DELETE FROM audit").await.unwrap();
        store
            .execute_raw("DELETE FROM notify_events")
            .await
            .unwrap();
        store.execute_raw("DELETE FROM tickets").await.unwrap();
    }

    async fn groups_commit_each_write_once(store: &Store) {
        // 1. Filings in one group: two share a key (one ticket for both),
        // and a write that fails after writing is among them.
        let before = commits(store);
        let turns = take_turns(store).await;
        let mut writes = Vec::new();
        for i in 0..12 {
            let (s, t) = (store.clone(), new_ticket(&format!("k{i}")));
            let r = round();
            writes.push(tokio::spawn(async move {
                let first = (i % 2 == 0).then(|| crate::store::FirstRound {
                    round: &r,
                    approvers: vec!["bob".into()],
                });
                s.file_ticket(&t, first)
                    .await
                    .map(|(t, created)| (t.id, created))
            }));
        }
        let s = store.clone();
        writes.push(tokio::spawn(async move {
            // With a round too: whichever of the two makes the ticket, it
            // has one.
            let r = round();
            let first = crate::store::FirstRound {
                round: &r,
                approvers: vec!["bob".into()],
            };
            s.file_ticket(&new_ticket("k0"), Some(first))
                .await
                .map(|(t, c)| (t.id, c))
        }));
        let s = store.clone();
        writes.push(tokio::spawn(async move {
            s.groups
                .write(Faulty(new_ticket("bad")))
                .await
                .map(|()| (0, false))
        }));
        let out = one_group(store, turns, writes).await;
        let faulty = out.last().unwrap();
        assert!(faulty.is_err(), "the faulty write fails: {faulty:?}");
        let filed: Vec<(i64, bool)> = out[..13].iter().map(|r| r.clone().unwrap()).collect();
        let created: Vec<i64> = filed.iter().filter(|f| f.1).map(|f| f.0).collect();
        assert_eq!(created.len(), 12, "one ticket per key: {filed:?}");
        assert_eq!(filed[0].0, filed[12].0, "the key used twice: one ticket");
        // Undone as a group, then each alone: 13 commits, the faulty none.
        assert_eq!(commits(store) - before, 13);
        let (all, n) = store
            .read_view()
            .page_tickets(&crate::store::TicketQuery {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(n, 12, "12 tickets, nothing of the faulty write");
        for t in &all {
            let audit = store.audit(t.id).await.unwrap();
            assert_eq!(audit.len(), 1, "ticket {}: {audit:?}", t.id);
            assert_eq!(audit[0].to, TicketState::Pending);
        }

        // 2. Decisions in one group, with one refused (its record decided
        // by the first): the others commit, in one transaction.
        let pending: Vec<(i64, i64)> = {
            let mut v = Vec::new();
            for t in &all {
                if let Some(a) = store.approvals(t.id).await.unwrap().first() {
                    v.push((t.id, a.id));
                }
            }
            v
        };
        assert_eq!(pending.len(), 6);
        let before = commits(store);
        let turns = take_turns(store).await;
        let mut writes = Vec::new();
        for (i, &(ticket, record)) in pending.iter().chain(&pending[..1]).enumerate() {
            let s = store.clone();
            writes.push(tokio::spawn(async move {
                let t = approve(&format!("admin{i}"));
                s.decide(record, ticket, &t, &TransitionExtras::default())
                    .await
            }));
        }
        let out = one_group(store, turns, writes).await;
        let refused: Vec<&Result<()>> = out.iter().filter(|r| r.is_err()).collect();
        assert_eq!(refused.len(), 1, "{out:?}");
        assert_eq!(refused[0].as_ref().unwrap_err().kind, ErrorKind::Conflict);
        assert_eq!(commits(store) - before, 1, "one group, one commit");
        for &(ticket, _) in &pending {
            let t = store.get_ticket(ticket).await.unwrap().unwrap();
            assert_eq!(t.state, TicketState::Approved);
            let audit = store.audit(ticket).await.unwrap();
            let to: Vec<TicketState> = audit.iter().map(|a| a.to).collect();
            assert_eq!(to, [TicketState::Pending, TicketState::Approved]);
            let records = store.approvals(ticket).await.unwrap();
            assert_eq!(records[0].state, SlotState::Approved);
        }
        // Every change told once: a `submitted` event per ticket, an
        // `approved` one per decision.
        let events = store.events_of_kinds().await;
        assert_eq!(events.get("submitted"), Some(&12));
        assert_eq!(events.get("approved"), Some(&6));
        assert_eq!(events.get("needs_approval"), Some(&6));
    }

    impl Store {
        /// Events per kind.
        async fn events_of_kinds(&self) -> std::collections::BTreeMap<String, i64> {
            use sqlx::Row;
            sqlx::query("SELECT kind, COUNT(*) AS n FROM notify_events GROUP BY kind")
                .fetch_all(&self.pool)
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get::<String, _>("kind"), r.get::<i64, _>("n")))
                .collect()
        }
    }

    /// Many writers at once with no turn held: every filing lands once.
    async fn concurrent_filings_land_once(store: &Store) {
        let writes: Vec<_> = (0..64)
            .map(|i| {
                let s = store.clone();
                tokio::spawn(async move {
                    let key = format!("c{}", i % 48);
                    s.insert_ticket(&new_ticket(&key)).await.unwrap()
                })
            })
            .collect();
        let mut ids = std::collections::BTreeMap::new();
        for w in writes {
            let (t, created) = w.await.unwrap();
            let key = t.idempotency_key.clone().unwrap();
            let e = ids.entry(key).or_insert((t.id, 0));
            assert_eq!(e.0, t.id, "a key, one ticket");
            e.1 += usize::from(created);
        }
        assert_eq!(ids.len(), 48);
        assert!(ids.values().all(|(_, created)| *created == 1), "{ids:?}");
        for (id, _) in ids.values() {
            assert_eq!(store.audit(*id).await.unwrap().len(), 1);
        }
    }

    async fn every_group_case(store: Store) {
        filings_together(&store).await;
        groups_commit_each_write_once(&store).await;
        concurrent_filings_land_once(&store).await;
    }

    #[test]
    fn store_groups_writes_each_answered_alone_sqlite() {
        on_sqlite("group", every_group_case);
    }

    #[test]
    fn store_groups_writes_each_answered_alone_postgres() {
        on_postgres(every_group_case);
    }
}
