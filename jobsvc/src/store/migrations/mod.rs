//! The schema, one file per database (`sqlite.sql`, `postgres.sql`: version
//! 1), the numbered upgrade steps after it (`sqlite/NNN_name.sql` and
//! `postgres/NNN_name.sql`, listed once in [`STEPS`]), and the version kept
//! in the `meta` table. A store made by an older release is upgraded in
//! place, in one transaction, by the steps it has not seen yet.

use sqlx::{AnyPool, AssertSqlSafe, Row};

use super::backend::Backend;
use crate::error::{Error, Result};

/// The SQLite schema: `;`-terminated statements, `--` comment lines.
const SQLITE_SCHEMA: &str = include_str!("sqlite.sql");
/// The PostgreSQL schema (ids are `BIGSERIAL`).
const POSTGRES_SCHEMA: &str = include_str!("postgres.sql");

/// One upgrade of the schema: its version and its SQL per database.
struct Step {
    version: u32,
    sqlite: &'static str,
    postgres: &'static str,
}

/// The upgrades after version 1, in increasing order of version. Each is
/// applied exactly once: a fresh store runs them all after the base schema.
const STEPS: &[Step] = &[
    Step {
        version: 2,
        sqlite: include_str!("sqlite/002_teams_approvals.sql"),
        postgres: include_str!("postgres/002_teams_approvals.sql"),
    },
    Step {
        version: 3,
        sqlite: include_str!("sqlite/003_schedules.sql"),
        postgres: include_str!("postgres/003_schedules.sql"),
    },
    Step {
        version: 4,
        sqlite: include_str!("sqlite/004_notify.sql"),
        postgres: include_str!("postgres/004_notify.sql"),
    },
];

/// The version this build writes: the last step's.
pub(super) fn latest() -> u32 {
    STEPS.last().map_or(1, |s| s.version)
}

/// The statements of a schema file, in order.
fn statements(schema: &'static str) -> Vec<String> {
    let text: String = schema
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .map(|l| format!("{l}\n"))
        .collect();
    text.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The schema version a store holds.
pub(super) async fn version(pool: &AnyPool) -> Result<u32> {
    let v: String = sqlx::query("SELECT v FROM meta WHERE k = 'schema'")
        .fetch_one(pool)
        .await?
        .try_get("v")?;
    v.parse()
        .map_err(|_| Error::internal(format!("the store's schema version {v:?} is not a number")))
}

/// Creates the tables that are missing and checks the schema version;
/// upgrades the store up to version `upto` (none: this build's latest).
pub(super) async fn migrate(pool: &AnyPool, backend: Backend, upto: Option<u32>) -> Result<()> {
    let schema = match backend {
        Backend::Sqlite => SQLITE_SCHEMA,
        Backend::Postgres => POSTGRES_SCHEMA,
    };
    let target = upto.unwrap_or_else(latest).min(latest());
    let mut tx = pool.begin().await?;
    if backend == Backend::Postgres {
        // Two instances starting at once must not race on CREATE TABLE.
        sqlx::query("SELECT pg_advisory_xact_lock(77801)")
            .execute(&mut *tx)
            .await?;
    }
    for stmt in statements(schema) {
        sqlx::query(AssertSqlSafe(stmt)).execute(&mut *tx).await?;
    }
    let version: Option<String> = sqlx::query("SELECT v FROM meta WHERE k = 'schema'")
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get("v"))
        .transpose()?;
    let have = match version.as_deref() {
        None => {
            sqlx::query("INSERT INTO meta (k, v) VALUES ('schema', '1')")
                .execute(&mut *tx)
                .await?;
            1
        }
        Some(v) => v.parse::<u32>().map_err(|_| {
            Error::internal(format!("the store's schema version {v:?} is not a number"))
        })?,
    };
    if have > latest() {
        return Err(Error::internal(format!(
            "the store has schema version {have}; this build knows up to {latest}: \
             use a newer rdbscope",
            latest = latest()
        )));
    }
    for step in STEPS
        .iter()
        .filter(|s| s.version > have && s.version <= target)
    {
        let sql = match backend {
            Backend::Sqlite => step.sqlite,
            Backend::Postgres => step.postgres,
        };
        for stmt in statements(sql) {
            sqlx::query(AssertSqlSafe(stmt.clone()))
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    Error::internal(format!(
                        "upgrading the store to schema version {}: {e} (in: {stmt})",
                        step.version
                    ))
                })?;
        }
    }
    if have < target {
        sqlx::query("UPDATE meta SET v = $1 WHERE k = 'schema'")
            .bind(target.to_string())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_files_hold_the_same_tables() {
        let (lite, pg) = (statements(SQLITE_SCHEMA), statements(POSTGRES_SCHEMA));
        assert_eq!(lite.len(), 7);
        assert_eq!(pg.len(), 7);
        assert!(lite[0].starts_with("CREATE TABLE IF NOT EXISTS meta"));
        assert!(pg[3].contains("id BIGSERIAL PRIMARY KEY"));
        assert!(lite[3].contains("id INTEGER PRIMARY KEY AUTOINCREMENT"));
    }

    #[test]
    fn steps_are_in_order_and_hold_sql_for_both_databases() {
        let mut last = 1;
        for step in STEPS {
            assert!(step.version > last, "step {} out of order", step.version);
            last = step.version;
            assert_eq!(
                statements(step.sqlite).len(),
                statements(step.postgres).len(),
                "step {} differs between the databases",
                step.version
            );
        }
        assert_eq!(latest(), last);
    }
}
