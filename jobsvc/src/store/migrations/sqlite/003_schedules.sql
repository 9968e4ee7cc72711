-- Step 3: recurring analyses (schedules) and the tickets each one filed.
CREATE TABLE IF NOT EXISTS schedules (name TEXT PRIMARY KEY, app TEXT NOT NULL, cron TEXT NOT NULL, params TEXT NOT NULL, keep BIGINT NOT NULL, enabled BIGINT NOT NULL DEFAULT 1, created_by TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, last_fired BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS schedule_runs (ticket_id BIGINT PRIMARY KEY, schedule TEXT NOT NULL, fired_at BIGINT NOT NULL, report_dir TEXT, pruned_at BIGINT);
CREATE INDEX IF NOT EXISTS schedule_runs_by_schedule ON schedule_runs (schedule, ticket_id);
