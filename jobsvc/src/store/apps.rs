//! Registered apps: creating, reading, listing, deleting them and storing
//! their discovered topology.

use super::handle::{now_ms, Store};
use super::rows::{app_from_row, AppRow};
use crate::error::{Error, Result};

impl Store {
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
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(app_from_row).transpose()
    }

    /// All apps.
    pub async fn list_apps(&self) -> Result<Vec<AppRow>> {
        let rows = sqlx::query("SELECT * FROM apps ORDER BY name")
            .fetch_all(&self.read)
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
}
