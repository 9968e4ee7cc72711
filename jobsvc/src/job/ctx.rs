//! A running job's link to the service: progress, checkpoints,
//! cancellation, the apps it may touch, and its directories.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::files;
use crate::notify::emit_once;
use crate::notify::event::{pause_class, NotifyEvent};
use crate::redis::Cancel;
use crate::registry::{self, AppKind, Node};
use crate::replica::{fetch_rdb, FetchOptions, FetchedRdb};
use crate::state::{credentials, ServiceState};
use crate::store::{AppRow, TicketRow};
use crate::ticket::TicketState;

/// A running job's link to the service.
pub struct JobCtx {
    state: Arc<ServiceState>,
    id: i64,
    attempts: u32,
    owner: String,
    cancel: Arc<AtomicBool>,
    rt: tokio::runtime::Handle,
    last_progress: Mutex<Option<Instant>>,
}

impl JobCtx {
    /// A context for ticket `t`.
    pub fn new(
        state: Arc<ServiceState>,
        t: &TicketRow,
        cancel: Arc<AtomicBool>,
        rt: tokio::runtime::Handle,
    ) -> JobCtx {
        JobCtx {
            state,
            id: t.id,
            attempts: t.attempts,
            owner: t.lease_owner.clone().unwrap_or_default(),
            cancel,
            rt,
            last_progress: Mutex::new(None),
        }
    }

    /// The flag that says stop (cancelled, lease lost, or shutting down).
    pub fn cancel_flag(&self) -> &AtomicBool {
        &self.cancel
    }

    /// Errors out when the job must stop.
    pub fn check_cancel(&self) -> Result<()> {
        if self.cancel.load(Ordering::SeqCst) {
            Err(Error::conflict(
                "stopped: the ticket was cancelled or its lease lost",
            ))
        } else {
            Ok(())
        }
    }

    /// Records progress (at most twice a second unless `force`).
    pub fn progress(&self, phase: &str, percent: f64, counters: Value, force: bool) {
        {
            let mut last = self.last_progress.lock().unwrap_or_else(|p| p.into_inner());
            if !force && last.is_some_and(|t| t.elapsed() < Duration::from_millis(500)) {
                return;
            }
            *last = Some(Instant::now());
        }
        let p = json!({"percent": (percent * 10.0).round() / 10.0, "phase": phase, "counters": counters});
        let r = self.rt.block_on(self.state.store.set_progress(
            self.id,
            &self.owner,
            &p.to_string(),
        ));
        if let Ok(false) = r {
            self.cancel.store(true, Ordering::SeqCst);
        }
    }

    /// Tells the ticket's watchers the job waits and why (a fork on the
    /// node, a lagging replica): once per attempt and kind of reason, so a
    /// pause that comes and goes is not a flood. Never fails the job.
    pub fn paused(&self, why: &str) {
        let event = NotifyEvent::Paused {
            why: why.to_string(),
        };
        let key = format!("paused:{}:{}:{}", self.id, self.attempts, pause_class(why));
        let r = self.rt.block_on(emit_once(
            &self.state,
            self.id,
            TicketState::Running,
            "worker",
            &event,
            key,
        ));
        if let Err(e) = r {
            crate::state::log(&format!("ticket {}: recording a pause: {e}", self.id));
        }
    }

    /// Persists a checkpoint (after a batch). A run that is no longer ours
    /// is told to stop.
    pub fn checkpoint(
        &self,
        checkpoint: &Value,
        phase: &str,
        percent: f64,
        counters: Value,
    ) -> Result<()> {
        let p = json!({"percent": percent, "phase": phase, "counters": counters});
        let ours = self.rt.block_on(self.state.store.set_checkpoint(
            self.id,
            &self.owner,
            &checkpoint.to_string(),
            &p.to_string(),
        ))?;
        if !ours {
            self.cancel.store(true, Ordering::SeqCst);
        }
        self.check_cancel()
    }

    /// The ticket's id.
    pub fn ticket_id(&self) -> i64 {
        self.id
    }

    /// The service's shared state (store, config, metrics).
    pub fn state(&self) -> &ServiceState {
        &self.state
    }

    /// Adds `keys` to the service's keys-touched metric.
    pub fn touched(&self, keys: u64) {
        self.state
            .metrics
            .keys_touched
            .fetch_add(keys, Ordering::Relaxed);
    }

    /// Runs a store call (or any future) from the job's blocking thread.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The checkpoint an earlier attempt of this ticket left, to resume from.
    pub fn resume_checkpoint(&self) -> Result<Option<Value>> {
        let t = self
            .block_on(self.state.store.get_ticket(self.id))?
            .ok_or_else(|| Error::internal("ticket vanished"))?;
        Ok(t.checkpoint
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok()))
    }

    /// A registered app, as stored.
    pub fn app(&self, name: &str) -> Result<AppRow> {
        self.block_on(self.state.store.get_app(name))?
            .ok_or_else(|| Error::internal(format!("app {name:?} is no longer registered")))
    }

    /// Discovers the app's nodes again before touching them (a failover may
    /// have moved a master; when the registered node is down, the members
    /// found last time are asked) and stores them. Only these nodes of registered
    /// apps are ever touched.
    pub fn fresh_nodes(&self, app: &AppRow) -> Result<Vec<Node>> {
        let kind = AppKind::parse(&app.kind)?;
        let known: Vec<Node> = serde_json::from_str(&app.topology).unwrap_or_default();
        let nodes = registry::discover_following(
            kind,
            &app.addr,
            &known,
            &credentials(app),
            Duration::from_secs(5),
        )?;
        let text = serde_json::to_string(&nodes).unwrap_or_else(|_| "[]".into());
        self.block_on(self.state.store.set_topology(&app.name, &text))?;
        Ok(nodes)
    }

    /// Where the job writes the files the ticket's report lists.
    pub fn report_dir(&self) -> PathBuf {
        files::report_dir(&self.state.config, self.id)
    }

    /// The ticket's working directory.
    pub fn work_dir(&self) -> PathBuf {
        self.state.config.ticket_dir(self.id)
    }

    /// Fetches the RDB of node `addr` of `app` as a replica into `dest` (it
    /// lands by rename, so a file there is complete), counting the bytes
    /// in the service's metrics.
    pub fn fetch_rdb(
        &self,
        app: &AppRow,
        addr: &str,
        dest: &Path,
        progress: &mut dyn FnMut(u64, Option<u64>),
    ) -> Result<FetchedRdb> {
        let creds = credentials(app);
        let opts = FetchOptions {
            addr: addr.to_string(),
            user: creds.user,
            password: creds.password,
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(60),
        };
        let fetched = fetch_rdb(&opts, dest, progress, self.cancel_flag())
            .map_err(|e| e.context(format!("fetching the RDB of {addr}")))?;
        self.state
            .metrics
            .bytes_fetched
            .fetch_add(fetched.bytes, Ordering::Relaxed);
        Ok(fetched)
    }
}

/// Rate limits and pauses stop when the job is told to.
impl Cancel for JobCtx {
    fn check_cancel(&self) -> Result<()> {
        JobCtx::check_cancel(self)
    }
}
