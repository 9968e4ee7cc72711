//! Users: creating them, finding one by its token's hash, listing them,
//! changing a role, replacing a token.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::handle::{now_ms, Store};
use super::rows::{parse_role, role_str, User};
use crate::error::{Error, Result};
use crate::ticket::Role;

impl Store {
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

    /// The user holding a token (by its hash), as looked up less than two
    /// seconds ago when it was (see `user_cache.rs`).
    pub async fn user_by_token_hash(&self, hash: &str) -> Result<Option<User>> {
        if let Some(u) = self.users.get(hash) {
            return Ok(Some(u));
        }
        let asked = self.users.ask();
        let row = sqlx::query("SELECT name, role, created_at FROM users WHERE token_hash = $1")
            .bind(hash)
            .fetch_optional(&self.read)
            .await?;
        let user = row.as_ref().map(user_from_row).transpose()?;
        if let Some(u) = &user {
            self.users.put(hash, u, asked);
        }
        Ok(user)
    }

    /// All users.
    pub async fn list_users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query("SELECT name, role, created_at FROM users ORDER BY name")
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Changes a user's role; an unknown user is "not found".
    pub async fn set_role(&self, name: &str, role: Role) -> Result<User> {
        self.update_user(
            name,
            "UPDATE users SET role = $1 WHERE name = $2",
            role_str(role),
        )
        .await
    }

    /// Replaces a user's token (the old one stops working at once).
    pub async fn set_token(&self, name: &str, token_hash: &str) -> Result<User> {
        self.update_user(
            name,
            "UPDATE users SET token_hash = $1 WHERE name = $2",
            token_hash,
        )
        .await
    }

    /// Runs `sql` (`$1`: `value`, `$2`: the name) on user `name` and reads
    /// the user back; an unknown user is "not found".
    async fn update_user(&self, name: &str, sql: &'static str, value: &str) -> Result<User> {
        let res = sqlx::query(sql)
            .bind(value)
            .bind(name)
            .execute(&self.pool)
            .await?;
        self.users.clear();
        if res.rows_affected() == 0 {
            return Err(Error::not_found(format!("no user {name:?}")));
        }
        self.user(name).await
    }

    /// One user by name.
    pub async fn user(&self, name: &str) -> Result<User> {
        let r = sqlx::query("SELECT name, role, created_at FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.read)
            .await?
            .ok_or_else(|| Error::not_found(format!("no user {name:?}")))?;
        user_from_row(&r)
    }

    /// How many users there are.
    pub async fn count_users(&self) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(&self.read)
            .await?;
        Ok(r.try_get("n")?)
    }
}

/// A user from a row of `name, role, created_at`.
fn user_from_row(r: &AnyRow) -> Result<User> {
    Ok(User {
        name: r.try_get("name")?,
        role: parse_role(&r.try_get::<String, _>("role")?)?,
        created_at: r.try_get("created_at")?,
    })
}
