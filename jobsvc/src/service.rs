//! The scheduler: claims approved tickets (per-node leases, maintenance
//! windows, a global cap), runs each on a worker thread under a renewed
//! lease, records the outcome with retries and backoff, and rescues the
//! jobs of instances that died. It knows job kinds only through
//! [`crate::jobs`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::job::JobCtx;
use crate::jobs;
use crate::registry::Window;
use crate::store::{now_ms, AppRow, ClaimPolicy, TicketRow, TransitionExtras};
use crate::ticket::{transition, Actor, Event, TicketView};

pub use crate::jobs::{stored_params, ticket_nodes};
pub use crate::state::{credentials, log, open, Metrics, ServiceState, Shared};
pub use crate::topology::refresh_topology;

struct Admission {
    apps: Vec<AppRow>,
    jobs_per_node: usize,
    max_running: usize,
    now: i64,
}

impl ClaimPolicy for Admission {
    fn admit(&self, t: &TicketRow, running: &[TicketRow]) -> Option<Vec<String>> {
        // `running` holds every instance's live jobs: the global cap.
        if self.max_running > 0 && running.len() >= self.max_running {
            return None;
        }
        // A ticket whose app vanished is admitted with no nodes: the job
        // then fails with a clear error instead of waiting forever.
        let (app, nodes) = ticket_nodes(t, &self.apps).unwrap_or((None, Vec::new()));
        if let Some(w) = app.as_ref().and_then(|a| a.maintenance_window.as_deref()) {
            if let Ok(w) = Window::parse(w) {
                if !w.is_open(self.now) {
                    return None;
                }
            }
        }
        for n in &nodes {
            let busy = running
                .iter()
                .filter(|r| {
                    serde_json::from_str::<Vec<String>>(&r.lease_nodes)
                        .map(|v| v.contains(n))
                        .unwrap_or(false)
                })
                .count();
            if busy >= self.jobs_per_node {
                return None;
            }
        }
        Some(nodes)
    }
}

fn view(t: &TicketRow) -> TicketView<'_> {
    TicketView {
        state: t.state,
        submitter: &t.submitter,
        attempts: t.attempts,
    }
}

/// Moves running tickets whose lease expired (or that this instance's
/// previous incarnation held, when `own` is set) back to approved, to be
/// resumed from their checkpoints.
async fn rescue(state: &Shared, own: Option<&str>) -> Result<()> {
    for t in state.store.orphaned(own.unwrap_or("")).await? {
        let tr = match transition(
            &view(&t),
            &Event::LeaseExpired,
            &Actor::System("rescuer"),
            &state.policy,
        ) {
            Ok(tr) => tr,
            Err(e) => {
                log(&format!("ticket {}: cannot rescue: {e}", t.id));
                continue;
            }
        };
        let extras = TransitionExtras {
            require_owner: t.lease_owner.clone(),
            error: (tr.to == crate::ticket::TicketState::Failed)
                .then(|| tr.note.clone().unwrap_or_default()),
            ..TransitionExtras::default()
        };
        match state.store.apply(t.id, &tr, &extras).await {
            Ok(_) => log(&format!(
                "ticket {}: lease of {} expired: {} -> {}",
                t.id,
                t.lease_owner.as_deref().unwrap_or("?"),
                tr.from,
                tr.to
            )),
            Err(e) if e.kind == crate::ErrorKind::Conflict => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Claims and runs approved tickets until the service stops.
pub(crate) async fn scheduler(state: Shared) {
    if let Err(e) = rescue(&state, Some(&state.instance.clone())).await {
        log(&format!("rescue at start: {e}"));
    }
    let poll = Duration::from_millis(state.config.poll_ms.max(20));
    let mut tasks = tokio::task::JoinSet::new();
    while !state.stopping.load(Ordering::SeqCst) {
        while tasks.try_join_next().is_some() {}
        if let Err(e) = rescue(&state, None).await {
            log(&format!("rescue: {e}"));
        }
        while tasks.len() < state.config.workers.max(1) && !state.stopping.load(Ordering::SeqCst) {
            match claim(&state).await {
                Ok(Some(t)) => {
                    let st = state.clone();
                    tasks.spawn(async move { run_job(st, t).await });
                }
                Ok(None) => break,
                Err(e) => {
                    log(&format!("claim: {e}"));
                    break;
                }
            }
        }
        tokio::select! {
            _ = state.wake.notified() => {},
            _ = tokio::time::sleep(poll) => {},
        }
    }
    // Let running jobs reach a batch boundary; what is left is resumed by
    // the next start (this instance id) or rescued by another instance.
    let _ = tokio::time::timeout(Duration::from_secs(8), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
}

async fn claim(state: &Shared) -> Result<Option<TicketRow>> {
    let admission = Admission {
        apps: state.store.list_apps().await?,
        jobs_per_node: state.config.jobs_per_node.max(1),
        max_running: state.config.max_running,
        now: now_ms(),
    };
    let policy = state.policy;
    state
        .store
        .claim(
            &state.instance,
            (state.config.lease_secs.max(2) * 1000) as i64,
            |t| {
                transition(
                    &view(t),
                    &Event::Start,
                    &Actor::System("scheduler"),
                    &policy,
                )
                .map_err(|e| Error::conflict(e.to_string()))
            },
            &admission,
        )
        .await
}

async fn run_job(state: Shared, t: TicketRow) {
    let id = t.id;
    if !crate::approvals::margin::still_approved(&state, &t).await {
        state.wake.notify_one();
        return;
    }
    log(&format!(
        "ticket {id}: started ({}, attempt {})",
        t.kind, t.attempts
    ));
    state.metrics.jobs_running.fetch_add(1, Ordering::Relaxed);
    let cancel = Arc::new(AtomicBool::new(false));
    let lease_ms = (state.config.lease_secs.max(2) * 1000) as i64;
    let owner = t.lease_owner.clone().unwrap_or_default();
    let renewer = {
        let (state, cancel, owner) = (state.clone(), cancel.clone(), owner.clone());
        tokio::spawn(async move {
            let mut renewed = tokio::time::Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis((lease_ms / 3) as u64)).await;
                if state.stopping.load(Ordering::SeqCst) {
                    cancel.store(true, Ordering::SeqCst);
                }
                // A store that does not answer counts as out of reach.
                let renewal = tokio::time::timeout(
                    Duration::from_millis((lease_ms / 3) as u64),
                    state.store.renew_lease(id, &owner, lease_ms),
                )
                .await
                .unwrap_or_else(|_| Err(Error::transient("the store did not answer in time")));
                match renewal {
                    Ok(true) => renewed = tokio::time::Instant::now(),
                    Ok(false) => {
                        // Cancelled, or rescued elsewhere: stop at the next batch.
                        cancel.store(true, Ordering::SeqCst);
                        break;
                    }
                    Err(e) => {
                        log(&format!("ticket {id}: lease renewal: {e}"));
                        // The store is out of reach: the lease may soon
                        // expire and another instance take the job over.
                        // Stop at the next batch before that can happen, so
                        // that two instances never act on the same keys.
                        let left = Duration::from_millis((lease_ms / 3) as u64);
                        if renewed.elapsed() + left >= Duration::from_millis(lease_ms as u64) {
                            log(&format!(
                                "ticket {id}: lease not renewed for {:.1}s: stopping the job",
                                renewed.elapsed().as_secs_f64()
                            ));
                            cancel.store(true, Ordering::SeqCst);
                        }
                    }
                }
            }
        })
    };
    let ctx = JobCtx::new(
        state.clone(),
        &t,
        cancel.clone(),
        tokio::runtime::Handle::current(),
    );
    let ticket = t.clone();
    let outcome = tokio::task::spawn_blocking(move || jobs::run(&ctx, &ticket))
        .await
        .unwrap_or_else(|e| Err(Error::internal(format!("job panicked: {e}"))));
    renewer.abort();
    // A schedule's run: its report goes into the fleet layout, diffed
    // against the run before.
    let outcome = match outcome {
        Ok(result) => crate::schedule::after_run(&state, &t, result).await,
        Err(e) => Err(e),
    };
    state.metrics.jobs_running.fetch_sub(1, Ordering::Relaxed);
    let current = match state.store.get_ticket(id).await {
        Ok(Some(c)) => c,
        Ok(None) => return,
        Err(e) => {
            // The store is out of reach: the outcome cannot be recorded.
            // The lease runs out and a rescuer retries the job.
            log(&format!(
                "ticket {id}: cannot record the outcome ({e}); left to the rescuer"
            ));
            return;
        }
    };
    if current.state != crate::ticket::TicketState::Running
        || current.lease_owner.as_deref() != Some(owner.as_str())
    {
        log(&format!("ticket {id}: stopped ({})", current.state));
        return;
    }
    if state.stopping.load(Ordering::SeqCst) && outcome.is_err() {
        // Shutting down: leave it running under this instance id; the next
        // start of this instance (or a rescuer) resumes it.
        log(&format!("ticket {id}: left for resumption after restart"));
        return;
    }
    let (event, extras) = match outcome {
        Ok(result) => (
            Event::Succeed,
            TransitionExtras {
                result: Some(result.to_string()),
                require_owner: Some(owner.clone()),
                ..TransitionExtras::default()
            },
        ),
        Err(e) => {
            // Doubled on each retry: 1×, 2×, 4×… the configured backoff.
            let backoff = (state.config.retry_backoff_secs.max(1) * 1000)
                << current.attempts.saturating_sub(1).min(10);
            (
                Event::Fail {
                    error: e.message.clone(),
                    retryable: e.is_transient(),
                },
                TransitionExtras {
                    error: Some(e.message.clone()),
                    not_before: Some(now_ms() + backoff as i64),
                    require_owner: Some(owner.clone()),
                    ..TransitionExtras::default()
                },
            )
        }
    };
    match transition(
        &view(&current),
        &event,
        &Actor::System("worker"),
        &state.policy,
    ) {
        Ok(tr) => match state.store.apply(id, &tr, &extras).await {
            Ok(_) => log(&format!("ticket {id}: {} -> {}", tr.from, tr.to)),
            Err(e) => log(&format!("ticket {id}: cannot record the outcome: {e}")),
        },
        Err(e) => log(&format!("ticket {id}: {e}")),
    }
    state.wake.notify_one();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticket::TicketState;

    fn app(window: Option<&str>) -> AppRow {
        AppRow {
            name: "shop".into(),
            kind: "replicated".into(),
            addr: "10.0.0.1:6379".into(),
            username: None,
            password: None,
            maintenance_window: window.map(str::to_string),
            topology: r#"[{"addr":"10.0.0.1:6379","role":"master","master":null,"slots":null},
                          {"addr":"10.0.0.2:6379","role":"replica","master":"10.0.0.1:6379","slots":null}]"#
                .into(),
            refreshed_at: None,
        }
    }

    fn ticket(id: i64, kind: &str, params: &str, state: TicketState, nodes: &str) -> TicketRow {
        TicketRow {
            id,
            kind: kind.into(),
            state,
            submitter: "alice".into(),
            handler: None,
            params: params.into(),
            params_hash: String::new(),
            idempotency_key: None,
            created_at: 0,
            updated_at: 0,
            attempts: 0,
            progress: "{}".into(),
            plan: None,
            error: None,
            result: None,
            checkpoint: None,
            lease_owner: None,
            lease_until: None,
            lease_nodes: nodes.into(),
            not_before: 0,
        }
    }

    #[test]
    fn admission_respects_node_leases_and_windows() {
        let noon = 12 * 3_600_000;
        let adm = |window, jobs_per_node| Admission {
            apps: vec![app(window)],
            jobs_per_node,
            max_running: 0,
            now: noon,
        };
        let analysis = ticket(
            1,
            "analysis",
            r#"{"app":"shop"}"#,
            TicketState::Approved,
            "[]",
        );
        let hot = ticket(
            2,
            "hotkeys",
            r#"{"app":"shop"}"#,
            TicketState::Approved,
            "[]",
        );
        let file = ticket(
            3,
            "analysis",
            r#"{"file":"/x.rdb"}"#,
            TicketState::Approved,
            "[]",
        );
        // An analysis holds the replica it reads; hot keys hold the master.
        assert_eq!(
            adm(None, 1).admit(&analysis, &[]),
            Some(vec!["10.0.0.2:6379".into()])
        );
        assert_eq!(
            adm(None, 1).admit(&hot, &[]),
            Some(vec!["10.0.0.1:6379".into()])
        );
        assert_eq!(adm(None, 1).admit(&file, &[]), Some(vec![]));
        let busy = ticket(
            9,
            "analysis",
            r#"{"app":"shop"}"#,
            TicketState::Running,
            r#"["10.0.0.2:6379"]"#,
        );
        assert_eq!(
            adm(None, 1).admit(&analysis, std::slice::from_ref(&busy)),
            None
        );
        assert!(adm(None, 2)
            .admit(&analysis, std::slice::from_ref(&busy))
            .is_some());
        assert!(adm(None, 1)
            .admit(&hot, std::slice::from_ref(&busy))
            .is_some());
        assert!(adm(None, 1)
            .admit(&file, std::slice::from_ref(&busy))
            .is_some());
        // Windows: closed at noon, open at noon, wrapping midnight.
        assert_eq!(adm(Some("01:00-05:00"), 1).admit(&analysis, &[]), None);
        assert!(adm(Some("11:00-13:00"), 1).admit(&analysis, &[]).is_some());
        assert_eq!(adm(Some("22:00-02:00"), 1).admit(&hot, &[]), None);
        assert!(adm(Some("01:00-05:00"), 1).admit(&file, &[]).is_some());
        // The global cap counts every instance's running jobs.
        let capped = Admission {
            max_running: 1,
            ..adm(None, 5)
        };
        assert_eq!(capped.admit(&file, std::slice::from_ref(&busy)), None);
        assert!(capped.admit(&file, &[]).is_some());
    }
}
