//! The store: users, apps, tickets, their audit trail, leases and
//! checkpoints, in one SQL schema that runs on SQLite (the embedded default)
//! and PostgreSQL (several service instances sharing one queue).
//!
//! Every state change goes through [`Store::apply`], which stores the
//! result of [`crate::ticket::transition`] with a compare-and-set on the old
//! state and writes the audit row in the same transaction, so two instances
//! can never both apply a change and no change goes unrecorded.

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, AssertSqlSafe, Row};

use crate::error::{Error, Result};
use crate::ticket::{Role, TicketState, Transition};

/// Milliseconds since the Unix epoch: the store's clock.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Which database holds the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// One file, one service instance.
    Sqlite,
    /// Shared by several instances; jobs claimed with `SKIP LOCKED`.
    Postgres,
}

impl Backend {
    /// Name for `/healthz`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Error {
        match &e {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                Error::transient(format!("store: {e}"))
            }
            _ => Error::internal(format!("store: {e}")),
        }
    }
}

/// A user as stored (the token only as its hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Unique name.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// When created (ms).
    pub created_at: i64,
}

/// A registered app, with its secrets (never sent by the API).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppRow {
    /// Unique name.
    pub name: String,
    /// `standalone`, `replicated` or `cluster`.
    pub kind: String,
    /// The address it was registered with (the seed for a cluster).
    pub addr: String,
    /// ACL user for the nodes.
    pub username: Option<String>,
    /// Password for the nodes.
    pub password: Option<String>,
    /// `HH:MM-HH:MM` UTC, or none for any time.
    pub maintenance_window: Option<String>,
    /// Discovered nodes, as JSON (see `registry::Node`).
    pub topology: String,
    /// When the topology was last discovered (ms).
    pub refreshed_at: Option<i64>,
}

/// A ticket as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct TicketRow {
    /// Id.
    pub id: i64,
    /// `analysis`, `hotkeys`, `cleanup`, `migration`.
    pub kind: String,
    /// Lifecycle state.
    pub state: TicketState,
    /// Who filed it.
    pub submitter: String,
    /// The admin who approved or rejected it.
    pub handler: Option<String>,
    /// Parameters as JSON (frozen at submission).
    pub params: String,
    /// `sha256:` of the canonical parameters.
    pub params_hash: String,
    /// Client-supplied idempotency key.
    pub idempotency_key: Option<String>,
    /// Created (ms).
    pub created_at: i64,
    /// Last changed (ms).
    pub updated_at: i64,
    /// Runs started.
    pub attempts: u32,
    /// Progress JSON: `{"percent","phase","counters"}`.
    pub progress: String,
    /// The plan shown to the approver (JSON), if the type makes one.
    pub plan: Option<String>,
    /// Last error.
    pub error: Option<String>,
    /// Result JSON of a finished run.
    pub result: Option<String>,
    /// Where a resumed run starts (JSON), written after every batch.
    pub checkpoint: Option<String>,
    /// Instance running it.
    pub lease_owner: Option<String>,
    /// Lease expiry (ms).
    pub lease_until: Option<i64>,
    /// Nodes it holds while running (JSON array of addresses).
    pub lease_nodes: String,
    /// Not to be started before this time (ms): retry backoff.
    pub not_before: i64,
}

/// One line of a ticket's audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    /// When (ms).
    pub at: i64,
    /// Who.
    pub actor: String,
    /// State before; none for the submission.
    pub from: Option<TicketState>,
    /// State after.
    pub to: TicketState,
    /// Reason, error, note.
    pub note: Option<String>,
}

/// A new ticket.
#[derive(Clone, Debug)]
pub struct NewTicket {
    /// Type.
    pub kind: String,
    /// Submitter's name.
    pub submitter: String,
    /// Canonical JSON parameters.
    pub params: String,
    /// Their hash.
    pub params_hash: String,
    /// Idempotency key.
    pub idempotency_key: Option<String>,
    /// Plan for the approver.
    pub plan: Option<String>,
}

/// Extra columns written with a transition.
#[derive(Clone, Debug, Default)]
pub struct TransitionExtras {
    /// Sets the handler.
    pub handler: Option<String>,
    /// Sets the error (and clears it when the new state is running).
    pub error: Option<String>,
    /// Sets the result.
    pub result: Option<String>,
    /// Lease for a start: owner, expiry, nodes JSON.
    pub lease: Option<(String, i64, String)>,
    /// The run must be held by this instance (for a worker's own changes).
    pub require_owner: Option<String>,
    /// Earliest next start (retry backoff).
    pub not_before: Option<i64>,
}

const SQLITE_SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, role TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS apps (name TEXT PRIMARY KEY, kind TEXT NOT NULL, addr TEXT NOT NULL, username TEXT, password TEXT, maintenance_window TEXT, topology TEXT NOT NULL, refreshed_at BIGINT, created_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS tickets (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, state TEXT NOT NULL, submitter TEXT NOT NULL, handler TEXT, params TEXT NOT NULL, params_hash TEXT NOT NULL, idempotency_key TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, attempts BIGINT NOT NULL DEFAULT 0, progress TEXT NOT NULL, plan TEXT, error TEXT, result TEXT, checkpoint TEXT, lease_owner TEXT, lease_until BIGINT, lease_nodes TEXT NOT NULL DEFAULT '[]', not_before BIGINT NOT NULL DEFAULT 0, UNIQUE (submitter, idempotency_key))",
    "CREATE INDEX IF NOT EXISTS tickets_state ON tickets (state, id)",
    "CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY AUTOINCREMENT, ticket_id BIGINT NOT NULL, at BIGINT NOT NULL, actor TEXT NOT NULL, from_state TEXT, to_state TEXT NOT NULL, note TEXT)",
    "CREATE INDEX IF NOT EXISTS audit_ticket ON audit (ticket_id, id)",
];

const POSTGRES_SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, role TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS apps (name TEXT PRIMARY KEY, kind TEXT NOT NULL, addr TEXT NOT NULL, username TEXT, password TEXT, maintenance_window TEXT, topology TEXT NOT NULL, refreshed_at BIGINT, created_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS tickets (id BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, state TEXT NOT NULL, submitter TEXT NOT NULL, handler TEXT, params TEXT NOT NULL, params_hash TEXT NOT NULL, idempotency_key TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, attempts BIGINT NOT NULL DEFAULT 0, progress TEXT NOT NULL, plan TEXT, error TEXT, result TEXT, checkpoint TEXT, lease_owner TEXT, lease_until BIGINT, lease_nodes TEXT NOT NULL DEFAULT '[]', not_before BIGINT NOT NULL DEFAULT 0, UNIQUE (submitter, idempotency_key))",
    "CREATE INDEX IF NOT EXISTS tickets_state ON tickets (state, id)",
    "CREATE TABLE IF NOT EXISTS audit (id BIGSERIAL PRIMARY KEY, ticket_id BIGINT NOT NULL, at BIGINT NOT NULL, actor TEXT NOT NULL, from_state TEXT, to_state TEXT NOT NULL, note TEXT)",
    "CREATE INDEX IF NOT EXISTS audit_ticket ON audit (ticket_id, id)",
];

const SCHEMA_VERSION: &str = "1";

const TICKET_COLUMNS: &str = "id, kind, state, submitter, handler, params, params_hash, idempotency_key, created_at, updated_at, attempts, progress, plan, error, result, checkpoint, lease_owner, lease_until, lease_nodes, not_before";

/// The store handle (cheap to clone).
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

fn role_str(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Submitter => "submitter",
    }
}

/// Parses a role name.
pub fn parse_role(s: &str) -> Result<Role> {
    match s {
        "admin" => Ok(Role::Admin),
        "submitter" => Ok(Role::Submitter),
        _ => Err(Error::bad_request(format!(
            "unknown role {s:?} (expected submitter or admin)"
        ))),
    }
}

fn state_of(s: &str) -> Result<TicketState> {
    s.parse::<TicketState>().map_err(Error::internal)
}

fn ticket_from_row(r: &AnyRow) -> Result<TicketRow> {
    Ok(TicketRow {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        state: state_of(&r.try_get::<String, _>("state")?)?,
        submitter: r.try_get("submitter")?,
        handler: r.try_get("handler")?,
        params: r.try_get("params")?,
        params_hash: r.try_get("params_hash")?,
        idempotency_key: r.try_get("idempotency_key")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        attempts: r.try_get::<i64, _>("attempts")? as u32,
        progress: r.try_get("progress")?,
        plan: r.try_get("plan")?,
        error: r.try_get("error")?,
        result: r.try_get("result")?,
        checkpoint: r.try_get("checkpoint")?,
        lease_owner: r.try_get("lease_owner")?,
        lease_until: r.try_get("lease_until")?,
        lease_nodes: r.try_get("lease_nodes")?,
        not_before: r.try_get("not_before")?,
    })
}

fn app_from_row(r: &AnyRow) -> Result<AppRow> {
    Ok(AppRow {
        name: r.try_get("name")?,
        kind: r.try_get("kind")?,
        addr: r.try_get("addr")?,
        username: r.try_get("username")?,
        password: r.try_get("password")?,
        maintenance_window: r.try_get("maintenance_window")?,
        topology: r.try_get("topology")?,
        refreshed_at: r.try_get("refreshed_at")?,
    })
}

/// What a claim needs to decide whether a ticket may start now.
pub trait ClaimPolicy: Send + Sync {
    /// The nodes the ticket would hold, or `None` when it must wait (its
    /// window is closed, or a node is busy given the `running` leases).
    fn admit(&self, ticket: &TicketRow, running: &[TicketRow]) -> Option<Vec<String>>;
}

impl Store {
    /// Opens (and creates and migrates) the store at `url`:
    /// `sqlite://FILE` or `postgres://…`.
    pub async fn open(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if let Some(path) = url.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap_or(path);
            if let Some(dir) = std::path::Path::new(path).parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        Error::internal(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
            }
            (Backend::Sqlite, format!("sqlite://{path}?mode=rwc"))
        } else if url.starts_with("sqlite:") {
            (Backend::Sqlite, url.to_string())
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_string())
        } else {
            return Err(Error::bad_request(format!(
                "unknown store {url:?} (expected sqlite://FILE or postgres://…)"
            )));
        };
        let mut options = AnyPoolOptions::new().max_connections(8);
        if backend == Backend::Sqlite {
            // One writer at a time is SQLite's model; one connection makes
            // that explicit and avoids lock-upgrade failures.
            options = options.max_connections(1);
            // SQLite: WAL and a busy timeout so readers never block the writer.
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA journal_mode=WAL")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA busy_timeout=10000")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA synchronous=NORMAL")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            });
        }
        let pool = options
            .connect(&url)
            .await
            .map_err(|e| Error::from(e).context(format!("cannot open store {}", redact(&url))))?;
        let store = Store { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    async fn migrate(&self) -> Result<()> {
        let schema = match self.backend {
            Backend::Sqlite => SQLITE_SCHEMA,
            Backend::Postgres => POSTGRES_SCHEMA,
        };
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            // Two instances starting at once must not race on CREATE TABLE.
            sqlx::query("SELECT pg_advisory_xact_lock(77801)")
                .execute(&mut *tx)
                .await?;
        }
        for stmt in schema {
            sqlx::query(AssertSqlSafe(*stmt)).execute(&mut *tx).await?;
        }
        let version: Option<String> = sqlx::query("SELECT v FROM meta WHERE k = 'schema'")
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("v"))
            .transpose()?;
        match version.as_deref() {
            None => {
                sqlx::query("INSERT INTO meta (k, v) VALUES ('schema', $1)")
                    .bind(SCHEMA_VERSION)
                    .execute(&mut *tx)
                    .await?;
            }
            Some(SCHEMA_VERSION) => {}
            Some(other) => {
                return Err(Error::internal(format!(
                    "the store has schema version {other}; this build knows {SCHEMA_VERSION}"
                )))
            }
        }
        tx.commit().await?;
        Ok(())
    }

    // ---- users ----------------------------------------------------------

    /// Adds a user; a taken name is a conflict.
    pub async fn create_user(&self, name: &str, role: Role, token_hash: &str) -> Result<User> {
        let at = now_ms();
        let res = sqlx::query(
            "INSERT INTO users (name, role, token_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(name)
        .bind(role_str(role))
        .bind(token_hash)
        .bind(at)
        .execute(&self.pool)
        .await;
        match res {
            Ok(_) => Ok(User {
                name: name.to_string(),
                role,
                created_at: at,
            }),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(Error::conflict(format!("user {name:?} already exists")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The user holding a token (by its hash).
    pub async fn user_by_token_hash(&self, hash: &str) -> Result<Option<User>> {
        let row = sqlx::query("SELECT name, role, created_at FROM users WHERE token_hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(User {
                name: r.try_get("name")?,
                role: parse_role(&r.try_get::<String, _>("role")?)?,
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
    }

    /// All users.
    pub async fn list_users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query("SELECT name, role, created_at FROM users ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(User {
                    name: r.try_get("name")?,
                    role: parse_role(&r.try_get::<String, _>("role")?)?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// How many users there are.
    pub async fn count_users(&self) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(&self.pool)
            .await?;
        Ok(r.try_get("n")?)
    }

    // ---- apps -----------------------------------------------------------

    /// Registers an app; a taken name is a conflict.
    pub async fn create_app(&self, app: &AppRow) -> Result<()> {
        let res = sqlx::query(
            "INSERT INTO apps (name, kind, addr, username, password, maintenance_window, topology, refreshed_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&app.name)
        .bind(&app.kind)
        .bind(&app.addr)
        .bind(app.username.clone())
        .bind(app.password.clone())
        .bind(app.maintenance_window.clone())
        .bind(&app.topology)
        .bind(app.refreshed_at)
        .bind(now_ms())
        .execute(&self.pool)
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(Error::conflict(
                format!("app {:?} already exists", app.name),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// One app.
    pub async fn get_app(&self, name: &str) -> Result<Option<AppRow>> {
        let row = sqlx::query("SELECT * FROM apps WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(app_from_row).transpose()
    }

    /// All apps.
    pub async fn list_apps(&self) -> Result<Vec<AppRow>> {
        let rows = sqlx::query("SELECT * FROM apps ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(app_from_row).collect()
    }

    /// Stores a newly discovered topology.
    pub async fn set_topology(&self, name: &str, topology: &str) -> Result<()> {
        sqlx::query("UPDATE apps SET topology = $1, refreshed_at = $2 WHERE name = $3")
            .bind(topology)
            .bind(now_ms())
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Removes an app; false when there was none.
    pub async fn delete_app(&self, name: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM apps WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    // ---- tickets --------------------------------------------------------

    /// Files a ticket (state pending) with its audit row. With an
    /// idempotency key already used by this submitter, returns the existing
    /// ticket and `false` (the caller compares the parameters).
    pub async fn insert_ticket(&self, new: &NewTicket) -> Result<(TicketRow, bool)> {
        if let Some(key) = &new.idempotency_key {
            if let Some(t) = self.ticket_by_key(&new.submitter, key).await? {
                return Ok((t, false));
            }
        }
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
        tx.commit().await?;
        let t = self
            .get_ticket(id)
            .await?
            .ok_or_else(|| Error::internal("ticket vanished after insert"))?;
        Ok((t, true))
    }

    async fn ticket_by_key(&self, submitter: &str, key: &str) -> Result<Option<TicketRow>> {
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE submitter = $1 AND idempotency_key = $2"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(submitter)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(ticket_from_row).transpose()
    }

    /// One ticket.
    pub async fn get_ticket(&self, id: i64) -> Result<Option<TicketRow>> {
        let sql = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(ticket_from_row).transpose()
    }

    /// Tickets, newest first, optionally by submitter, state and type.
    pub async fn list_tickets(
        &self,
        submitter: Option<&str>,
        state: Option<TicketState>,
        kind: Option<&str>,
        limit: i64,
    ) -> Result<Vec<TicketRow>> {
        let mut sql = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE 1 = 1");
        let mut n = 0;
        let mut binds: Vec<String> = Vec::new();
        for (col, v) in [
            ("submitter", submitter.map(str::to_string)),
            ("state", state.map(|s| s.as_str().to_string())),
            ("kind", kind.map(str::to_string)),
        ] {
            if let Some(v) = v {
                n += 1;
                sql.push_str(&format!(" AND {col} = ${n}"));
                binds.push(v);
            }
        }
        sql.push_str(&format!(
            " ORDER BY id DESC LIMIT {}",
            limit.clamp(1, 10_000)
        ));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for b in binds {
            q = q.bind(b);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(ticket_from_row).collect()
    }

    /// Counts tickets per state (for metrics).
    pub async fn count_by_state(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM tickets GROUP BY state")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("state")?, r.try_get("n")?)))
            .collect()
    }

    /// A ticket's audit trail, oldest first.
    pub async fn audit(&self, id: i64) -> Result<Vec<AuditRow>> {
        let rows = sqlx::query(
            "SELECT at, actor, from_state, to_state, note FROM audit WHERE ticket_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditRow {
                    at: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    from: r
                        .try_get::<Option<String>, _>("from_state")?
                        .map(|s| state_of(&s))
                        .transpose()?,
                    to: state_of(&r.try_get::<String, _>("to_state")?)?,
                    note: r.try_get("note")?,
                })
            })
            .collect()
    }

    /// Stores a transition: compare-and-set on the old state (and on the
    /// lease owner when `extras.require_owner` is set) plus the audit row,
    /// in one transaction. A lost race is a conflict.
    pub async fn apply(
        &self,
        id: i64,
        t: &Transition,
        extras: &TransitionExtras,
    ) -> Result<TicketRow> {
        let mut tx = self.pool.begin().await?;
        let applied = apply_in(&mut tx, id, t, extras).await?;
        if !applied {
            return Err(Error::conflict(format!(
                "ticket {id} changed meanwhile (expected it {})",
                t.from
            )));
        }
        tx.commit().await?;
        self.get_ticket(id)
            .await?
            .ok_or_else(|| Error::not_found(format!("no ticket {id}")))
    }

    /// Claims one approved ticket for `owner`: the oldest whose backoff is
    /// over and that `policy` admits, moving it to running with a lease.
    /// On PostgreSQL candidates are locked with `FOR UPDATE SKIP LOCKED`, so
    /// instances never wait for or double-claim each other's work; node
    /// admission is serialized with a transaction-scoped advisory lock.
    pub async fn claim(
        &self,
        owner: &str,
        lease_ms: i64,
        start: impl Fn(&TicketRow) -> Result<Transition> + Send + Sync,
        policy: &dyn ClaimPolicy,
    ) -> Result<Option<TicketRow>> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(77802)")
                .execute(&mut *tx)
                .await?;
        }
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE state = 'approved' AND not_before <= $1 ORDER BY id LIMIT 32{lock}"
        );
        let candidates: Vec<TicketRow> = sqlx::query(AssertSqlSafe(sql))
            .bind(now)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(ticket_from_row)
            .collect::<Result<_>>()?;
        if candidates.is_empty() {
            return Ok(None);
        }
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE state = 'running' AND lease_until > $1"
        );
        let running: Vec<TicketRow> = sqlx::query(AssertSqlSafe(sql))
            .bind(now)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(ticket_from_row)
            .collect::<Result<_>>()?;
        for t in candidates {
            let Some(nodes) = policy.admit(&t, &running) else {
                continue;
            };
            let transition = start(&t)?;
            // The lease names the instance and the attempt, so that a run
            // rescued and restarted never shares its lease with a stale one.
            let extras = TransitionExtras {
                lease: Some((
                    format!("{owner}#{}", transition.attempts),
                    now + lease_ms,
                    serde_json::to_string(&nodes).unwrap_or_else(|_| "[]".into()),
                )),
                ..TransitionExtras::default()
            };
            if apply_in(&mut tx, t.id, &transition, &extras).await? {
                tx.commit().await?;
                return self.get_ticket(t.id).await;
            }
        }
        Ok(None)
    }

    /// Extends the lease of a ticket this instance runs. False when it no
    /// longer holds it (cancelled, or rescued by another instance): the
    /// worker must stop at its next batch boundary.
    pub async fn renew_lease(&self, id: i64, owner: &str, lease_ms: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE tickets SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 AND state = 'running'",
        )
        .bind(now_ms() + lease_ms)
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Running tickets whose lease has expired (their instance died), or
    /// that instance `owner`'s previous incarnation held.
    pub async fn orphaned(&self, owner: &str) -> Result<Vec<TicketRow>> {
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE state = 'running' AND (lease_until < $1 OR lease_owner LIKE $2) ORDER BY id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(now_ms())
            .bind(if owner.is_empty() {
                String::new()
            } else {
                format!("{owner}#%")
            })
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(ticket_from_row).collect()
    }

    /// Saves progress of a run this instance holds.
    pub async fn set_progress(&self, id: i64, owner: &str, progress: &str) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE tickets SET progress = $1, updated_at = $2 WHERE id = $3 AND lease_owner = $4 AND state = 'running'",
        )
        .bind(progress)
        .bind(now_ms())
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Saves the checkpoint (and progress) of a run this instance holds,
    /// after a batch. False when the run is no longer ours.
    pub async fn set_checkpoint(
        &self,
        id: i64,
        owner: &str,
        checkpoint: &str,
        progress: &str,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE tickets SET checkpoint = $1, progress = $2, updated_at = $3 WHERE id = $4 AND lease_owner = $5 AND state = 'running'",
        )
        .bind(checkpoint)
        .bind(progress)
        .bind(now_ms())
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }
}

async fn apply_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    id: i64,
    t: &Transition,
    extras: &TransitionExtras,
) -> Result<bool> {
    let now = now_ms();
    let mut sets = vec![
        "state = $1".to_string(),
        "attempts = $2".to_string(),
        "updated_at = $3".to_string(),
    ];
    let mut binds: Vec<Bind> = vec![
        Bind::S(t.to.as_str().to_string()),
        Bind::I(t.attempts as i64),
        Bind::I(now),
    ];
    let mut push = |col: &str, v: Bind, sets: &mut Vec<String>| {
        binds.push(v);
        sets.push(format!("{col} = ${}", binds.len()));
    };
    if let Some(h) = &extras.handler {
        push("handler", Bind::S(h.clone()), &mut sets);
    }
    if let Some(e) = &extras.error {
        push("error", Bind::S(e.clone()), &mut sets);
    } else if t.to == TicketState::Succeeded {
        // An earlier attempt's error does not describe a success.
        sets.push("error = NULL".into());
    }
    if let Some(r) = &extras.result {
        push("result", Bind::S(r.clone()), &mut sets);
    }
    if let Some(nb) = extras.not_before {
        push("not_before", Bind::I(nb), &mut sets);
    }
    match &extras.lease {
        Some((owner, until, nodes)) => {
            push("lease_owner", Bind::S(owner.clone()), &mut sets);
            push("lease_until", Bind::I(*until), &mut sets);
            push("lease_nodes", Bind::S(nodes.clone()), &mut sets);
        }
        None if t.to != TicketState::Running => {
            sets.push("lease_owner = NULL".into());
            sets.push("lease_until = NULL".into());
            sets.push("lease_nodes = '[]'".into());
        }
        None => {}
    }
    binds.push(Bind::I(id));
    let id_n = binds.len();
    binds.push(Bind::S(t.from.as_str().to_string()));
    let from_n = binds.len();
    let mut sql = format!(
        "UPDATE tickets SET {} WHERE id = ${id_n} AND state = ${from_n}",
        sets.join(", ")
    );
    if let Some(owner) = &extras.require_owner {
        binds.push(Bind::S(owner.clone()));
        sql.push_str(&format!(" AND lease_owner = ${}", binds.len()));
    }
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for b in binds {
        q = match b {
            Bind::S(s) => q.bind(s),
            Bind::I(i) => q.bind(i),
        };
    }
    let r = q.execute(&mut **tx).await?;
    if r.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO audit (ticket_id, at, actor, from_state, to_state, note) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(now)
    .bind(&t.actor)
    .bind(t.from.as_str())
    .bind(t.to.as_str())
    .bind(t.note.clone())
    .execute(&mut **tx)
    .await?;
    Ok(true)
}

enum Bind {
    S(String),
    I(i64),
}

/// A store URL with its password hidden, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let cred = &url[s + 3..at];
            match cred.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &cred[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
