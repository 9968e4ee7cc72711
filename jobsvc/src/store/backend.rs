//! Which database holds the store, and what differs between them when
//! connecting: the URL forms, SQLite's single writer connection beside its
//! read-only readers, and the pragmas.

use sqlx::any::AnyPoolOptions;

use crate::error::{Error, Result};

/// Connections of PostgreSQL's pool (each instance's): the API's requests
/// beside up to 4 jobs, the scheduler and the notifier.
const POOL: u32 = 16;
/// SQLite's read-only connections.
const READERS: u32 = 4;
/// Whether SQLite's plain reads go to the read-only connections (see
/// [`Backend::reader_url`]).
const READERS_ON: bool = true;

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

    /// Recognises a store URL (`sqlite://FILE`, `sqlite:…`, `postgres://…`
    /// or `postgresql://…`) and returns its backend and the URL to connect
    /// to (for a `sqlite://` file: its directory created, `mode=rwc`).
    pub(super) fn of_url(url: &str) -> Result<(Backend, String)> {
        Ok(if let Some(path) = url.strip_prefix("sqlite://") {
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
        })
    }

    /// The URL of the read-only connections beside the writer: on a SQLite
    /// file, the same file opened read-only (in WAL mode readers never wait
    /// for the writer, and each read sees every committed write); `None`
    /// when the writer's pool serves reads too (PostgreSQL, whose pool has
    /// several connections, and a SQLite URL of another form, such as an
    /// in-memory database that other connections would not share).
    ///
    /// Only the API's plain reads use them (through a `ReadView`): a job,
    /// the scheduler and the lease code read through the `Store`, whose
    /// reads all go to the writer.
    pub(super) fn reader_url(self, url: &str) -> Option<String> {
        match self {
            Backend::Sqlite if READERS_ON => url
                .strip_suffix("?mode=rwc")
                .filter(|u| u.starts_with("sqlite://"))
                .map(|u| format!("{u}?mode=ro")),
            Backend::Sqlite | Backend::Postgres => None,
        }
    }

    /// Pool options of SQLite's read-only connections: as many as the
    /// requests that read at once need, each with its own thread in sqlx.
    pub(super) fn reader_pool_options(self) -> AnyPoolOptions {
        AnyPoolOptions::new()
            .max_connections(READERS)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA busy_timeout=10000")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            })
    }

    /// How many groups of the API's writes (`group.rs`) may run at once:
    /// one on SQLite (one writer connection: a job's write then queues
    /// behind at most one of them); 4 of PostgreSQL's 16 connections, the
    /// rest free for the jobs, the scheduler and the reads. Writes that
    /// arrive while every turn is taken wait and go together in the next
    /// group: under load, groups grow instead of transactions multiplying.
    pub(super) fn api_writers(self) -> usize {
        match self {
            Backend::Sqlite => 1,
            Backend::Postgres => 4,
        }
    }

    /// Pool options for this backend (on SQLite: the writer's).
    pub(super) fn pool_options(self) -> AnyPoolOptions {
        let mut options = AnyPoolOptions::new().max_connections(POOL);
        if self == Backend::Sqlite {
            // One writer at a time is SQLite's model; one connection makes
            // that explicit and avoids lock-upgrade failures. Every write
            // and every transaction runs on it; plain reads go to the
            // read-only connections ([`Backend::reader_url`]).
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
        options
    }
}
