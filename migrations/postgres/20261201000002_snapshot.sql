-- The leader's snapshot, one row per source (SourceState as JSON), so every
-- process answers /live from fresh data without calling a provider. Each
-- write is followed by NOTIFY onair_snapshot, '<source>'.
CREATE TABLE IF NOT EXISTS snapshot (
    source TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
