//! What the API handlers and the workers share: the store, the configuration,
//! the metrics, this instance's id, and the service log.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;

use tokio::sync::Notify;

use crate::auth;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::registry::Credentials;
use crate::store::{now_ms, AppRow, ReadView, Store};
use crate::ticket::Policy;
use crate::time::rfc3339;

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Jobs running in this instance now.
    pub jobs_running: AtomicU64,
    /// RDB bytes analyzed.
    pub bytes_analyzed: AtomicU64,
    /// RDB bytes fetched from nodes.
    pub bytes_fetched: AtomicU64,
    /// Keys analyzed, sampled, deleted or written.
    pub keys_touched: AtomicU64,
}

/// Everything handlers and workers share.
#[derive(Debug)]
pub struct ServiceState {
    /// The store: every write, and every read of the jobs, the scheduler,
    /// the lease code and the API's read-modify-writes (from the writer).
    pub store: Store,
    /// The API's plain reads (on SQLite: read-only connections).
    pub reads: ReadView,
    /// The configuration.
    pub config: Config,
    /// Transition rules from the configuration.
    pub policy: Policy,
    /// Counters.
    pub metrics: Metrics,
    /// Wakes the scheduler (a ticket was approved or a job ended).
    pub wake: Notify,
    /// This instance's id, kept in the data dir so that a restarted
    /// instance recognizes (and at once resumes) the jobs it was running.
    pub instance: String,
    /// Set on shutdown.
    pub stopping: AtomicBool,
}

/// Shared state handle.
pub type Shared = Arc<ServiceState>;

/// One line to the service log (stderr), with a UTC timestamp.
pub fn log(msg: &str) {
    eprintln!("{} rdbscope-serve: {msg}", rfc3339(now_ms()));
}

fn instance_id(data_dir: &Path) -> Result<String> {
    let path = data_dir.join("instance-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        let id = id.trim();
        if !id.is_empty() {
            return Ok(id.to_string());
        }
    }
    let id = format!("i-{}", auth::hex(&auth::random_bytes(8)?));
    std::fs::write(&path, &id)
        .map_err(|e| Error::internal(format!("cannot write {}: {e}", path.display())))?;
    Ok(id)
}

/// Opens the store and builds the shared state.
pub async fn open(config: Config) -> Result<Shared> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        Error::internal(format!(
            "cannot create data dir {}: {e}",
            config.data_dir.display()
        ))
    })?;
    let store = Store::open(&config.store_url()).await?;
    let instance = instance_id(&config.data_dir)?;
    Ok(Arc::new(ServiceState {
        policy: Policy {
            allow_self_approval: config.allow_self_approval,
            max_attempts: config.max_attempts.max(1),
        },
        reads: store.read_view(),
        store,
        config,
        metrics: Metrics::default(),
        wake: Notify::new(),
        instance,
        stopping: AtomicBool::new(false),
    }))
}

/// An app's login.
pub fn credentials(app: &AppRow) -> Credentials {
    Credentials {
        user: app.username.clone(),
        password: app.password.clone(),
    }
}
