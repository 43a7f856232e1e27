-- Post as the member (through a channel webhook onair creates), and a
-- discussion thread per announcement, per subscription.
ALTER TABLE subscriptions ADD COLUMN identity TEXT NOT NULL DEFAULT 'bot';
-- Why a member-identity subscription posts as the bot for now (shown in
-- /subscriptions), NULL when it posts as the member.
ALTER TABLE subscriptions ADD COLUMN identity_fallback TEXT;
ALTER TABLE subscriptions ADD COLUMN thread INTEGER NOT NULL DEFAULT 0;

-- The webhooks onair made, per channel (the newest not gone is in use).
CREATE TABLE IF NOT EXISTS webhooks (
    id INTEGER PRIMARY KEY,
    channel_id INTEGER NOT NULL,
    token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    gone_at INTEGER
);
CREATE INDEX IF NOT EXISTS webhooks_channel ON webhooks (channel_id);

-- Which webhook a delivery went through (NULL: the bot), the thread
-- started on it, and when that thread was archived.
ALTER TABLE deliveries ADD COLUMN webhook_id INTEGER;
ALTER TABLE deliveries ADD COLUMN thread_id INTEGER;
ALTER TABLE deliveries ADD COLUMN thread_archived_at INTEGER;
