//! Service configuration: a TOML file, overridden by command-line flags.
//!
//! ```toml
//! listen = "127.0.0.1:7780"
//! data_dir = "/var/lib/rdbscope"          # the SQLite store, this instance's id
//! reports_dir = "/shared/rdbscope/tickets" # reports and fetched RDB files (default: <data_dir>/tickets)
//! store = "sqlite:///var/lib/rdbscope/jobs.db"   # or "postgres://user:pass@host/db"
//! allowed_dirs = ["/data/backups"]        # RDB files analysis tickets may name
//! auto_approve = ["analysis"]             # ticket types approved on submission
//! allow_self_approval = false
//! max_attempts = 3                        # for transient failures
//! workers = 4                             # jobs running at once, in all
//! jobs_per_node = 1                       # heavy jobs running at once on one node
//! max_running = 0                         # jobs running at once across all instances (0: no cap)
//! lease_secs = 30                         # a job whose instance stops renewing is rescued after this
//! retry_backoff_secs = 5                  # doubled on each retry
//! approval_margin = 0.2                   # a plan 20 % bigger at start than approved goes back to approval
//!
//! [[approval_policies]]                   # first match wins; none matches: one admin
//! name = "cleanup-production"
//! kind = "cleanup"                        # a ticket type, or "*"
//! tags = ["production"]                   # an app of the ticket carries one of these
//! approvals = ["team_lead", "admin"]      # one record each: admin, team_lead, app_approver, user:NAME
//! [[approval_policies]]
//! kind = "cleanup"
//! keys_over = 100000                      # also: min_risk = "high", conflict = "replace"
//! approvals = ["team_lead", "admin"]
//! fleet_dir = "/shared/rdbscope/fleet"    # schedules' reports (default: <reports_dir>/schedules)
//! run_at_max_days = 366                   # how far ahead a ticket's run_at may be
//! backup_retention_days = 30              # cleanup backups kept this long (0: forever)
//! wait_replicas = 0                       # migration writes confirmed by WAIT on this many replicas
//! wait_timeout_ms = 1000                  # …waiting at most this long
//!
//! [notify]                                # notifications (see jobsvc/API.md)
//! base_url = "http://rdbscope.example.com" # for links in messages
//! remind_after_secs = 14400               # waiting for approval: remind the approvers
//! escalate_after_secs = 86400             # …then tell every admin
//! max_attempts = 8                        # per delivery; retries back off 5 s, 10 s, 20 s…
//! [[notify.channels]]
//! name = "ops-hook"
//! kind = "webhook"                        # webhook | wecom | dingtalk | slack | email
//! url = "http://hooks.example.com/rdbscope"
//! secret = "…"                            # X-Rdbscope-Signature: sha256=HMAC of the body
//! events = ["failed", "approval_escalation"]   # every ticket's, without a subscription
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::approvals::policy::{default_rules, PolicyRule};
use crate::error::{Error, Result};
use crate::notify::config::NotifyConfig;

/// Everything the service needs to start.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP API listens on.
    pub listen: SocketAddr,
    /// Where reports, fetched RDB files and the default SQLite store live.
    pub data_dir: PathBuf,
    /// Where tickets' reports and working files go; default
    /// `<data_dir>/tickets`. Instances sharing a PostgreSQL queue point this
    /// at shared storage so that any of them can serve any report.
    pub reports_dir: Option<PathBuf>,
    /// `sqlite://FILE` or `postgres://…`; default: `sqlite://<data_dir>/jobs.db`.
    pub store: Option<String>,
    /// Directories whose RDB files analysis and migration tickets may read.
    pub allowed_dirs: Vec<PathBuf>,
    /// Ticket types approved automatically on submission (e.g. `["analysis"]`).
    pub auto_approve: Vec<String>,
    /// May an admin approve a ticket they submitted?
    pub allow_self_approval: bool,
    /// Attempts for a job that keeps failing with transient errors.
    pub max_attempts: u32,
    /// Jobs running at once across all nodes (in this instance).
    pub workers: usize,
    /// Heavy jobs (fetch, cleanup, migration) running at once on one node.
    pub jobs_per_node: usize,
    /// Shards whose snapshots one job fetches at once (a cluster's
    /// analysis, a migration with `"method": "rdb"`).
    pub fetches_at_once: usize,
    /// Of those, fetched at once from one host (each node forks to write
    /// its snapshot: forks side by side on one host compete for its memory
    /// and disk).
    pub fetches_per_host: usize,
    /// Jobs running at once across every instance sharing the store
    /// (0: no cap beyond each instance's `workers`).
    pub max_running: usize,
    /// Seconds a job's lease lasts without renewal before another instance rescues it.
    pub lease_secs: u64,
    /// First retry delay in seconds, doubled on each further retry.
    pub retry_backoff_secs: u64,
    /// How often the scheduler looks for work, in milliseconds.
    pub poll_ms: u64,
    /// Longest MONITOR window a hot-key ticket may ask for, in seconds.
    pub max_monitor_secs: u64,
    /// How much a plan's impact (keys or bytes) may grow between the
    /// approval and the start before the ticket goes back to approval
    /// (0.2: 20 %).
    pub approval_margin: f64,
    /// The approval policies (the first that matches a ticket decides);
    /// the defaults are [`crate::approvals::default_rules`]. Those set
    /// through the API replace them.
    pub approval_policies: Vec<PolicyRule>,
    /// Where schedules keep their reports, in the fleet layout
    /// (`<fleet_dir>/<schedule>/snapshot_date=…/source=…/ticket=…`);
    /// default `<reports_dir>/schedules`.
    pub fleet_dir: Option<PathBuf>,
    /// How many days ahead a ticket's `run_at` may be.
    pub run_at_max_days: u64,
    /// Days a cleanup's backup (`report/backup/`) is kept before the
    /// service deletes it (0: kept forever).
    pub backup_retention_days: u64,
    /// Replicas a migration's writes must reach (`WAIT`) before its batch
    /// is checkpointed, unless the ticket says otherwise (0: no `WAIT`).
    pub wait_replicas: u32,
    /// How long that `WAIT` waits, in milliseconds.
    pub wait_timeout_ms: u64,
    /// Notifications: channels, reminders, retries (`[notify]`).
    pub notify: NotifyConfig,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: "127.0.0.1:7780".parse().expect("literal address"),
            data_dir: PathBuf::from("rdbscope-data"),
            reports_dir: None,
            store: None,
            allowed_dirs: Vec::new(),
            auto_approve: Vec::new(),
            allow_self_approval: false,
            max_attempts: 3,
            workers: 4,
            jobs_per_node: 1,
            fetches_at_once: 4,
            fetches_per_host: 1,
            max_running: 0,
            lease_secs: 30,
            retry_backoff_secs: 5,
            poll_ms: 500,
            max_monitor_secs: 300,
            approval_margin: 0.2,
            approval_policies: default_rules(),
            fleet_dir: None,
            run_at_max_days: 366,
            backup_retention_days: 30,
            wait_replicas: 0,
            wait_timeout_ms: 1000,
            notify: NotifyConfig::default(),
        }
    }
}

impl Config {
    /// Reads a TOML file; unknown keys are an error.
    pub fn from_file(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::bad_request(format!("cannot read config {}: {e}", path.display()))
        })?;
        Config::from_toml(&text).map_err(|e| e.context(path.display()))
    }

    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Config> {
        let c: Config =
            toml::from_str(text).map_err(|e| Error::bad_request(format!("bad config: {e}")))?;
        for r in &c.approval_policies {
            r.check()
                .map_err(|e| Error::bad_request(format!("bad config: {e}")))?;
        }
        if c.fetches_at_once == 0 || c.fetches_per_host == 0 {
            return Err(Error::bad_request(
                "bad config: fetches_at_once and fetches_per_host must be at least 1",
            ));
        }
        if !(0.0..=100.0).contains(&c.approval_margin) {
            return Err(Error::bad_request(
                "bad config: approval_margin must be 0 to 100 (0.2 is 20 %)",
            ));
        }
        c.notify
            .check()
            .map_err(|e| Error::bad_request(format!("bad config: notify: {e}")))?;
        Ok(c)
    }

    /// Where ticket `id` keeps its files.
    pub fn ticket_dir(&self, id: i64) -> PathBuf {
        self.reports_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("tickets"))
            .join(id.to_string())
    }

    /// The store URL, defaulting to a SQLite file in the data dir.
    pub fn store_url(&self) -> String {
        match &self.store {
            Some(s) => s.clone(),
            None => format!("sqlite://{}", self.data_dir.join("jobs.db").display()),
        }
    }
}
