//! The schema, one file per database (`sqlite.sql`, `postgres.sql`), and
//! the check of the schema version stored in the `meta` table.

use sqlx::{AnyPool, AssertSqlSafe, Row};

use super::backend::Backend;
use crate::error::{Error, Result};

/// The SQLite schema: `;`-terminated statements, `--` comment lines.
const SQLITE_SCHEMA: &str = include_str!("sqlite.sql");
/// The PostgreSQL schema (ids are `BIGSERIAL`).
const POSTGRES_SCHEMA: &str = include_str!("postgres.sql");

const SCHEMA_VERSION: &str = "1";

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

/// Creates the tables that are missing and checks the schema version.
pub(super) async fn migrate(pool: &AnyPool, backend: Backend) -> Result<()> {
    let schema = match backend {
        Backend::Sqlite => SQLITE_SCHEMA,
        Backend::Postgres => POSTGRES_SCHEMA,
    };
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
}
