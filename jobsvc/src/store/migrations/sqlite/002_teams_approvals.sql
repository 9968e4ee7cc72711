-- Schema version 2 on SQLite: teams, app ownership, approval records,
-- stand-ins and the approval policies set through the API.
CREATE TABLE IF NOT EXISTS teams (name TEXT PRIMARY KEY, lead TEXT, created_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS team_members (team TEXT NOT NULL, member TEXT NOT NULL, PRIMARY KEY (team, member));
CREATE INDEX IF NOT EXISTS team_members_member ON team_members (member);
ALTER TABLE apps ADD COLUMN team TEXT;
ALTER TABLE apps ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE apps ADD COLUMN approvers TEXT NOT NULL DEFAULT '[]';
CREATE TABLE IF NOT EXISTS approvals (id INTEGER PRIMARY KEY AUTOINCREMENT, ticket_id BIGINT NOT NULL, round BIGINT NOT NULL, slot BIGINT NOT NULL, requirement TEXT NOT NULL, eligible TEXT, policy TEXT NOT NULL, risk TEXT NOT NULL, state TEXT NOT NULL, actor TEXT, for_user TEXT, at BIGINT, note TEXT, impact_keys BIGINT, impact_bytes BIGINT, created_at BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS approvals_ticket ON approvals (ticket_id, round, slot);
CREATE INDEX IF NOT EXISTS approvals_state ON approvals (state, ticket_id);
CREATE TABLE IF NOT EXISTS delegates (member TEXT PRIMARY KEY, stand_in TEXT NOT NULL, from_ms BIGINT NOT NULL, until_ms BIGINT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS approval_policies (id BIGINT PRIMARY KEY, rules TEXT NOT NULL, updated_by TEXT NOT NULL, updated_at BIGINT NOT NULL);
