-- Step 4: notifications. Events are recorded in the transaction of the state
-- change that makes them, fanned out to deliveries (the outbox), and sent
-- by a background sender with retries; channels and subscriptions.
CREATE TABLE IF NOT EXISTS notify_events (id BIGSERIAL PRIMARY KEY, ticket_id BIGINT NOT NULL, kind TEXT NOT NULL, at BIGINT NOT NULL, actor TEXT NOT NULL, note TEXT, state TEXT NOT NULL, users TEXT, once_key TEXT UNIQUE, fanned_out BIGINT NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS notify_events_todo ON notify_events (fanned_out, id);
CREATE TABLE IF NOT EXISTS notify_outbox (id BIGSERIAL PRIMARY KEY, event_id BIGINT NOT NULL, channel TEXT NOT NULL, address TEXT NOT NULL DEFAULT '', state TEXT NOT NULL, attempts BIGINT NOT NULL DEFAULT 0, next_at BIGINT NOT NULL, last_error TEXT, lease_owner TEXT, lease_until BIGINT, created_at BIGINT NOT NULL, sent_at BIGINT, UNIQUE (event_id, channel, address));
CREATE INDEX IF NOT EXISTS notify_outbox_due ON notify_outbox (state, next_at);
CREATE TABLE IF NOT EXISTS notify_channels (name TEXT PRIMARY KEY, spec TEXT NOT NULL, created_by TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS notify_channel_health (channel TEXT PRIMARY KEY, last_ok_at BIGINT, last_error_at BIGINT, last_error TEXT, failures_in_row BIGINT NOT NULL DEFAULT 0, sent BIGINT NOT NULL DEFAULT 0, failed_attempts BIGINT NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS notify_subscriptions (id BIGSERIAL PRIMARY KEY, subscriber_kind TEXT NOT NULL, subscriber TEXT NOT NULL, events TEXT NOT NULL, channel TEXT NOT NULL, address TEXT NOT NULL DEFAULT '', all_tickets BIGINT NOT NULL DEFAULT 0, created_by TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS notify_subscriptions_of ON notify_subscriptions (subscriber_kind, subscriber);
