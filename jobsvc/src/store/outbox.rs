//! Notification events and their deliveries (the outbox): an event is
//! recorded in the transaction of the state change that makes it, fanned
//! out once into one delivery per channel and address, and each delivery is
//! claimed under a lease (`SKIP LOCKED` on PostgreSQL), sent, and marked
//! sent or retried later; every attempt is counted per channel.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::backend::Backend;
use super::handle::{now_ms, Store};
use super::trail::insert_events;
use crate::error::Result;
use crate::notify::event::EventRecord;

/// An event as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRow {
    /// Id.
    pub id: i64,
    /// The ticket.
    pub ticket_id: i64,
    /// Its kind (`notify::event::KINDS`).
    pub kind: String,
    /// When (ms).
    pub at: i64,
    /// Who caused it.
    pub actor: String,
    /// Reason, error, note.
    pub note: Option<String>,
    /// The ticket's state then.
    pub state: String,
    /// Users it is addressed to, when it names them.
    pub users: Option<Vec<String>>,
}

/// A delivery claimed for sending, with its event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claimed {
    /// The delivery's id.
    pub id: i64,
    /// The channel's name.
    pub channel: String,
    /// The address on the channel (an e-mail address; empty for a URL channel).
    pub address: String,
    /// Attempts before this one.
    pub attempts: u32,
    /// What happened.
    pub event: EventRow,
}

/// A delivery as the API lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryRow {
    /// Id.
    pub id: i64,
    /// The event's id.
    pub event_id: i64,
    /// The ticket.
    pub ticket_id: i64,
    /// The event's kind.
    pub kind: String,
    /// The channel.
    pub channel: String,
    /// The address on it.
    pub address: String,
    /// `pending`, `sent` or `dead` (out of attempts).
    pub state: String,
    /// Attempts made.
    pub attempts: u32,
    /// Next attempt (ms), while pending.
    pub next_at: i64,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// Queued (ms).
    pub created_at: i64,
    /// Sent (ms).
    pub sent_at: Option<i64>,
}

/// How a channel has fared.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelHealth {
    /// The channel.
    pub channel: String,
    /// Last delivery that worked (ms).
    pub last_ok_at: Option<i64>,
    /// Last attempt that failed (ms).
    pub last_error_at: Option<i64>,
    /// Its error.
    pub last_error: Option<String>,
    /// Failed attempts since the last success.
    pub failures_in_row: i64,
    /// Deliveries sent.
    pub sent: i64,
    /// Attempts that failed.
    pub failed_attempts: i64,
}

/// What the API may filter deliveries by.
#[derive(Clone, Debug, Default)]
pub struct DeliveryQuery {
    /// `pending`, `sent` or `dead`.
    pub state: Option<String>,
    /// One channel.
    pub channel: Option<String>,
    /// One ticket.
    pub ticket_id: Option<i64>,
    /// At most this many, newest first.
    pub limit: i64,
}

/// Records an event inside the transaction of the change that makes it.
/// False when it carries a once-key already used (nothing is recorded).
pub(super) async fn record_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    e: &EventRecord,
) -> Result<bool> {
    Ok(insert_events(tx, &[(e.clone(), now_ms())]).await? == 1)
}

const EVENT_COLUMNS: &str = "e.id, e.ticket_id, e.kind, e.at, e.actor, e.note, e.state, e.users";

fn event_from_row(r: &AnyRow) -> Result<EventRow> {
    let users: Option<String> = r.try_get("users")?;
    Ok(EventRow {
        id: r.try_get("id")?,
        ticket_id: r.try_get("ticket_id")?,
        kind: r.try_get("kind")?,
        at: r.try_get("at")?,
        actor: r.try_get("actor")?,
        note: r.try_get("note")?,
        state: r.try_get("state")?,
        users: users.and_then(|u| serde_json::from_str(&u).ok()),
    })
}

impl Store {
    /// Records an event outside a state change (a pause, a reminder).
    /// False when its once-key was used already.
    pub async fn record_event(&self, e: &EventRecord) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let new = record_in(&mut tx, e).await?;
        tx.commit().await?;
        Ok(new)
    }

    /// Events not fanned out yet, oldest first.
    pub async fn events_to_fan_out(&self, limit: i64) -> Result<Vec<EventRow>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM notify_events e WHERE e.fanned_out = 0 ORDER BY e.id LIMIT {}",
            limit.clamp(1, 1000)
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// A ticket's events, oldest first.
    pub async fn ticket_events(&self, ticket_id: i64) -> Result<Vec<EventRow>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM notify_events e WHERE e.ticket_id = $1 ORDER BY e.id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(ticket_id)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// Marks event `id` fanned out and queues its deliveries (channel,
    /// address), once: false when another instance did it first.
    pub async fn fan_out(&self, id: i64, deliveries: &[(String, String)]) -> Result<bool> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let r =
            sqlx::query("UPDATE notify_events SET fanned_out = 1 WHERE id = $1 AND fanned_out = 0")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        if r.rows_affected() != 1 {
            return Ok(false);
        }
        for (channel, address) in deliveries {
            sqlx::query(
                "INSERT INTO notify_outbox (event_id, channel, address, state, attempts, next_at, created_at) VALUES ($1, $2, $3, 'pending', 0, $4, $4) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(channel)
            .bind(address)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Claims up to `limit` due deliveries for `owner` for `lease_ms`. On
    /// PostgreSQL rows another instance is claiming are skipped (`SKIP
    /// LOCKED`), so each delivery is sent by one instance at a time.
    pub async fn claim_deliveries(
        &self,
        owner: &str,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<Claimed>> {
        let now = now_ms();
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "SELECT id FROM notify_outbox WHERE state = 'pending' AND next_at <= $1 AND (lease_until IS NULL OR lease_until < $1) ORDER BY next_at, id LIMIT {}{lock}",
            limit.clamp(1, 100)
        );
        let ids: Vec<i64> = sqlx::query(AssertSqlSafe(sql))
            .bind(now)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<std::result::Result<_, _>>()?;
        let mut claimed = Vec::new();
        for id in ids {
            let r = sqlx::query(
                "UPDATE notify_outbox SET lease_owner = $1, lease_until = $2 WHERE id = $3 AND state = 'pending' AND (lease_until IS NULL OR lease_until < $4)",
            )
            .bind(owner)
            .bind(now + lease_ms)
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() == 1 {
                claimed.push(id);
            }
        }
        tx.commit().await?;
        let mut out = Vec::new();
        for id in claimed {
            let sql = format!(
                "SELECT o.id AS oid, o.channel, o.address, o.attempts, {EVENT_COLUMNS} FROM notify_outbox o JOIN notify_events e ON e.id = o.event_id WHERE o.id = $1"
            );
            if let Some(r) = sqlx::query(AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
            {
                out.push(Claimed {
                    id: r.try_get("oid")?,
                    channel: r.try_get("channel")?,
                    address: r.try_get("address")?,
                    attempts: r.try_get::<i64, _>("attempts")? as u32,
                    event: event_from_row(&r)?,
                });
            }
        }
        Ok(out)
    }

    /// Records an attempt of a delivery `owner` holds: sent (`error` none),
    /// or failed and retried at `retry_at` (none: out of attempts, `dead`).
    /// The channel's health counts it. False when the lease was lost.
    pub async fn finish_delivery(
        &self,
        d: &Claimed,
        owner: &str,
        error: Option<&str>,
        retry_at: Option<i64>,
    ) -> Result<bool> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let r = match error {
            None => sqlx::query(
                "UPDATE notify_outbox SET state = 'sent', attempts = attempts + 1, sent_at = $1, last_error = NULL, lease_owner = NULL, lease_until = NULL WHERE id = $2 AND lease_owner = $3 AND state = 'pending'",
            )
            .bind(now)
            .bind(d.id)
            .bind(owner),
            Some(e) => sqlx::query(
                "UPDATE notify_outbox SET state = $1, attempts = attempts + 1, next_at = $2, last_error = $3, lease_owner = NULL, lease_until = NULL WHERE id = $4 AND lease_owner = $5 AND state = 'pending'",
            )
            .bind(if retry_at.is_some() { "pending" } else { "dead" })
            .bind(retry_at.unwrap_or(now))
            .bind(e.to_string())
            .bind(d.id)
            .bind(owner),
        }
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            return Ok(false);
        }
        match error {
            None => sqlx::query(
                "INSERT INTO notify_channel_health (channel, last_ok_at, failures_in_row, sent, failed_attempts) VALUES ($1, $2, 0, 1, 0) ON CONFLICT (channel) DO UPDATE SET last_ok_at = $2, failures_in_row = 0, sent = notify_channel_health.sent + 1",
            )
            .bind(&d.channel)
            .bind(now),
            Some(e) => sqlx::query(
                "INSERT INTO notify_channel_health (channel, last_error_at, last_error, failures_in_row, sent, failed_attempts) VALUES ($1, $2, $3, 1, 0, 1) ON CONFLICT (channel) DO UPDATE SET last_error_at = $2, last_error = $3, failures_in_row = notify_channel_health.failures_in_row + 1, failed_attempts = notify_channel_health.failed_attempts + 1",
            )
            .bind(&d.channel)
            .bind(now)
            .bind(e.to_string()),
        }
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deliveries, newest first.
    pub async fn deliveries(&self, q: &DeliveryQuery) -> Result<Vec<DeliveryRow>> {
        let mut sql = "SELECT o.id, o.event_id, e.ticket_id, e.kind, o.channel, o.address, o.state, o.attempts, o.next_at, o.last_error, o.created_at, o.sent_at FROM notify_outbox o JOIN notify_events e ON e.id = o.event_id WHERE 1 = 1".to_string();
        let mut n = 0;
        if q.state.is_some() {
            n += 1;
            sql.push_str(&format!(" AND o.state = ${n}"));
        }
        if q.channel.is_some() {
            n += 1;
            sql.push_str(&format!(" AND o.channel = ${n}"));
        }
        if q.ticket_id.is_some() {
            n += 1;
            sql.push_str(&format!(" AND e.ticket_id = ${n}"));
        }
        sql.push_str(&format!(
            " ORDER BY o.id DESC LIMIT {}",
            q.limit.clamp(1, 1000)
        ));
        let mut query = sqlx::query(AssertSqlSafe(sql));
        if let Some(s) = &q.state {
            query = query.bind(s.clone());
        }
        if let Some(c) = &q.channel {
            query = query.bind(c.clone());
        }
        if let Some(t) = q.ticket_id {
            query = query.bind(t);
        }
        let rows = query.fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| {
                Ok(DeliveryRow {
                    id: r.try_get("id")?,
                    event_id: r.try_get("event_id")?,
                    ticket_id: r.try_get("ticket_id")?,
                    kind: r.try_get("kind")?,
                    channel: r.try_get("channel")?,
                    address: r.try_get("address")?,
                    state: r.try_get("state")?,
                    attempts: r.try_get::<i64, _>("attempts")? as u32,
                    next_at: r.try_get("next_at")?,
                    last_error: r.try_get("last_error")?,
                    created_at: r.try_get("created_at")?,
                    sent_at: r.try_get("sent_at")?,
                })
            })
            .collect()
    }

    /// Every channel's health.
    pub async fn channel_health(&self) -> Result<Vec<ChannelHealth>> {
        let rows = sqlx::query(
            "SELECT channel, last_ok_at, last_error_at, last_error, failures_in_row, sent, failed_attempts FROM notify_channel_health ORDER BY channel",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ChannelHealth {
                    channel: r.try_get("channel")?,
                    last_ok_at: r.try_get("last_ok_at")?,
                    last_error_at: r.try_get("last_error_at")?,
                    last_error: r.try_get("last_error")?,
                    failures_in_row: r.try_get("failures_in_row")?,
                    sent: r.try_get("sent")?,
                    failed_attempts: r.try_get("failed_attempts")?,
                })
            })
            .collect()
    }
}
