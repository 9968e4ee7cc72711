//! The store handle: opening a store (connect, migrate), the store's clock,
//! and store URLs with their password hidden for messages.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::backend::Backend;
use super::group::WriteGroups;
use super::migrations::{latest, migrate, version};
use super::user_cache::UserCache;
use crate::error::{Error, Result};
use sqlx::{AnyPool, AssertSqlSafe};

/// Milliseconds since the Unix epoch: the store's clock.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
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

/// The store handle (cheap to clone). Every read it makes goes to the
/// writer's pool, so what a job, the scheduler or the lease code reads is
/// always the last write (its own checkpoint, its lease); the API's plain
/// reads go through a `ReadView` instead (`Store::read_view`).
#[derive(Clone, Debug)]
pub struct Store {
    /// Every write and every transaction (on SQLite: its one connection).
    pub(super) pool: AnyPool,
    /// Plain reads outside a transaction: `pool` itself in a `Store`; the
    /// read-only connections in the `Store` a `ReadView` wraps.
    pub(super) read: AnyPool,
    /// SQLite's read-only connections to the same file (`pool` where there
    /// are none: PostgreSQL, an in-memory SQLite).
    pub(super) readers: AnyPool,
    pub(super) backend: Backend,
    /// Who holds a token, for a short while.
    pub(super) users: Arc<UserCache>,
    /// The API's writes (filing a ticket, an approval decision), run in
    /// groups of one transaction each, few groups at once, so that a job's
    /// checkpoint, progress or lease waits behind few of them (`group.rs`).
    pub(super) groups: Arc<WriteGroups>,
}

impl Store {
    /// Opens (and creates and migrates) the store at `url`:
    /// `sqlite://FILE` or `postgres://…`.
    pub async fn open(url: &str) -> Result<Store> {
        Store::open_upto(url, None).await
    }

    /// Opens a store upgraded only up to schema `version` (tests build the
    /// store of an older release with it; `serve` always uses [`Store::open`]).
    #[doc(hidden)]
    pub async fn open_at(url: &str, version: u32) -> Result<Store> {
        Store::open_upto(url, Some(version)).await
    }

    async fn open_upto(url: &str, upto: Option<u32>) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let (backend, url) = Backend::of_url(url)?;
        let options = backend.pool_options();
        let pool = options
            .connect(&url)
            .await
            .map_err(|e| Error::from(e).context(format!("cannot open store {}", redact(&url))))?;
        migrate(&pool, backend, upto).await?;
        // The readers open the file once the writer has made it (WAL mode).
        let readers = match backend.reader_url(&url) {
            Some(read_url) => backend
                .reader_pool_options()
                .connect(&read_url)
                .await
                .map_err(|e| {
                    Error::from(e).context(format!("cannot open store {}", redact(&read_url)))
                })?,
            None => pool.clone(),
        };
        Ok(Store {
            groups: Arc::new(WriteGroups::new(pool.clone(), backend.api_writers())),
            read: pool.clone(),
            pool,
            readers,
            backend,
            users: Arc::default(),
        })
    }

    /// The schema version the store holds.
    pub async fn schema_version(&self) -> Result<u32> {
        version(&self.pool).await
    }

    /// Runs one SQL statement as written and returns the rows it changed
    /// (tests fill a store of an older release with it, as that release
    /// wrote it; nothing else should).
    #[doc(hidden)]
    pub async fn execute_raw(&self, sql: &str) -> Result<u64> {
        let n = sqlx::query(AssertSqlSafe(sql.to_string()))
            .execute(&self.pool)
            .await?
            .rows_affected();
        self.users.clear();
        Ok(n)
    }

    /// The schema version this build writes (a store it opens is upgraded
    /// to it).
    pub fn latest_schema_version() -> u32 {
        latest()
    }

    /// Closes its connections (a store opened again after sees every write).
    pub async fn close(&self) {
        self.readers.close().await;
        self.pool.close().await;
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }
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
