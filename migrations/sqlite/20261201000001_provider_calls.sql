-- Calls (credits) spent per provider and billing period ("2026-12" for a
-- monthly allowance, "2026-12-01" for a daily one), so a restart does not
-- reset the count and the allowance holds across restarts.
CREATE TABLE IF NOT EXISTS provider_calls (
    provider TEXT NOT NULL,
    period TEXT NOT NULL,
    calls INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (provider, period)
);
-- The go-live times the scheduler learns from.
CREATE INDEX IF NOT EXISTS streams_first_seen ON streams (first_seen);
