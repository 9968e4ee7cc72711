//! Notification channels that admins add through the API (as JSON specs;
//! the config file's are not stored) and users' and teams' subscriptions.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::handle::{now_ms, Store};
use crate::error::{Error, Result};

/// A channel added through the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredChannel {
    /// Its name.
    pub name: String,
    /// Its spec (JSON, see `notify::channel::ChannelSpec`).
    pub spec: String,
    /// The admin who added it.
    pub created_by: String,
    /// When (ms).
    pub created_at: i64,
}

/// A subscription: which events of which tickets go to which channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionRow {
    /// Id.
    pub id: i64,
    /// `user` or `team`.
    pub subscriber_kind: String,
    /// The user's or team's name.
    pub subscriber: String,
    /// Event kinds (`*`: all).
    pub events: Vec<String>,
    /// The channel.
    pub channel: String,
    /// The address on it (an e-mail address; empty for a URL channel).
    pub address: String,
    /// Every ticket's events, not only the subscriber's (admins).
    pub all_tickets: bool,
    /// Who made it.
    pub created_by: String,
    /// When (ms).
    pub created_at: i64,
}

fn sub_from_row(r: &AnyRow) -> Result<SubscriptionRow> {
    let events: String = r.try_get("events")?;
    Ok(SubscriptionRow {
        id: r.try_get("id")?,
        subscriber_kind: r.try_get("subscriber_kind")?,
        subscriber: r.try_get("subscriber")?,
        events: serde_json::from_str(&events).unwrap_or_default(),
        channel: r.try_get("channel")?,
        address: r.try_get("address")?,
        all_tickets: r.try_get::<i64, _>("all_tickets")? != 0,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
    })
}

const SUB_COLUMNS: &str = "id, subscriber_kind, subscriber, events, channel, address, all_tickets, created_by, created_at";

impl Store {
    /// Adds or replaces an API channel.
    pub async fn put_channel(&self, name: &str, spec: &str, by: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO notify_channels (name, spec, created_by, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET spec = $2, created_by = $3, created_at = $4",
        )
        .bind(name)
        .bind(spec)
        .bind(by)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes an API channel (and the subscriptions to it); false when
    /// there was none.
    pub async fn delete_channel(&self, name: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query("DELETE FROM notify_channels WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM notify_subscriptions WHERE channel = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    /// The API channels, by name.
    pub async fn stored_channels(&self) -> Result<Vec<StoredChannel>> {
        let rows = sqlx::query(
            "SELECT name, spec, created_by, created_at FROM notify_channels ORDER BY name",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredChannel {
                    name: r.try_get("name")?,
                    spec: r.try_get("spec")?,
                    created_by: r.try_get("created_by")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Adds a subscription and returns it.
    pub async fn add_subscription(&self, s: &SubscriptionRow) -> Result<SubscriptionRow> {
        let events =
            serde_json::to_string(&s.events).map_err(|e| Error::internal(e.to_string()))?;
        let row = sqlx::query(
            "INSERT INTO notify_subscriptions (subscriber_kind, subscriber, events, channel, address, all_tickets, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(&s.subscriber_kind)
        .bind(&s.subscriber)
        .bind(events)
        .bind(&s.channel)
        .bind(&s.address)
        .bind(i64::from(s.all_tickets))
        .bind(&s.created_by)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?;
        let id: i64 = row.try_get("id")?;
        self.subscription(id)
            .await?
            .ok_or_else(|| Error::internal("subscription vanished after insert"))
    }

    /// One subscription.
    pub async fn subscription(&self, id: i64) -> Result<Option<SubscriptionRow>> {
        let sql = format!("SELECT {SUB_COLUMNS} FROM notify_subscriptions WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(sub_from_row).transpose()
    }

    /// Subscriptions, all or one subscriber's, oldest first.
    pub async fn subscriptions(&self, of: Option<(&str, &str)>) -> Result<Vec<SubscriptionRow>> {
        let rows = match of {
            None => {
                let sql = format!("SELECT {SUB_COLUMNS} FROM notify_subscriptions ORDER BY id");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&self.read)
                    .await?
            }
            Some((kind, name)) => {
                let sql = format!(
                    "SELECT {SUB_COLUMNS} FROM notify_subscriptions WHERE subscriber_kind = $1 AND subscriber = $2 ORDER BY id"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(kind)
                    .bind(name)
                    .fetch_all(&self.read)
                    .await?
            }
        };
        rows.iter().map(sub_from_row).collect()
    }

    /// Removes a subscription; false when there was none.
    pub async fn delete_subscription(&self, id: i64) -> Result<bool> {
        let r = sqlx::query("DELETE FROM notify_subscriptions WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }
}
