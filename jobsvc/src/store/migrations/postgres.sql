-- The store schema on PostgreSQL (see mod.rs: statements end with `;`).
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, role TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS apps (name TEXT PRIMARY KEY, kind TEXT NOT NULL, addr TEXT NOT NULL, username TEXT, password TEXT, maintenance_window TEXT, topology TEXT NOT NULL, refreshed_at BIGINT, created_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS tickets (id BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, state TEXT NOT NULL, submitter TEXT NOT NULL, handler TEXT, params TEXT NOT NULL, params_hash TEXT NOT NULL, idempotency_key TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, attempts BIGINT NOT NULL DEFAULT 0, progress TEXT NOT NULL, plan TEXT, error TEXT, result TEXT, checkpoint TEXT, lease_owner TEXT, lease_until BIGINT, lease_nodes TEXT NOT NULL DEFAULT '[]', not_before BIGINT NOT NULL DEFAULT 0, UNIQUE (submitter, idempotency_key));
CREATE INDEX IF NOT EXISTS tickets_state ON tickets (state, id);
CREATE TABLE IF NOT EXISTS audit (id BIGSERIAL PRIMARY KEY, ticket_id BIGINT NOT NULL, at BIGINT NOT NULL, actor TEXT NOT NULL, from_state TEXT, to_state TEXT NOT NULL, note TEXT);
CREATE INDEX IF NOT EXISTS audit_ticket ON audit (ticket_id, id);
