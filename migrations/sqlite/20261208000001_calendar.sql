-- The JKT48 calendar. A subscription may follow a calendar feed instead of
-- lives: `calendar` holds its choice as JSON (feed, lead times, hour,
-- monthly list); NULL for a live subscription.
ALTER TABLE subscriptions ADD COLUMN calendar TEXT;

-- What the calendar feeds listed (a show, a birthday, a news item, an
-- event, a day's schedule, a month's birthday list), by a stable key.
-- `seed`: it was already listed the first time its feed was read (never
-- announced: subscribing does not flood a channel with the backlog).
-- `unlisted_at`: it dropped out of a list that still covers its date.
CREATE TABLE IF NOT EXISTS calendar_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    feed TEXT NOT NULL,
    at INTEGER,
    data TEXT NOT NULL,
    seed INTEGER NOT NULL DEFAULT 0,
    first_seen INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    unlisted_at INTEGER
);
CREATE INDEX IF NOT EXISTS calendar_items_feed ON calendar_items (feed, at);

-- A delivery carries either a broadcast (stream_row) or a calendar item
-- (item_row; `slot` tells two posts of one item apart, such as a show's
-- 60- and 15-minute reminders). SQLite cannot drop a NOT NULL: the table
-- is rebuilt with every row kept.
CREATE TABLE deliveries_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_row INTEGER REFERENCES streams (id) ON DELETE CASCADE,
    subscription_id INTEGER NOT NULL,
    guild_id INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    message_id INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    sent_at INTEGER,
    end_edited_at INTEGER,
    first_attempt_at INTEGER,
    webhook_id INTEGER,
    thread_id INTEGER,
    thread_archived_at INTEGER,
    kind TEXT NOT NULL DEFAULT 'live',
    item_row INTEGER REFERENCES calendar_items (id) ON DELETE CASCADE,
    slot TEXT NOT NULL DEFAULT '',
    UNIQUE (stream_row, channel_id)
);
INSERT INTO deliveries_new (id, stream_row, subscription_id, guild_id, channel_id, status,
    message_id, attempts, last_error, created_at, sent_at, end_edited_at, first_attempt_at,
    webhook_id, thread_id, thread_archived_at, kind)
SELECT id, stream_row, subscription_id, guild_id, channel_id, status,
    message_id, attempts, last_error, created_at, sent_at, end_edited_at, first_attempt_at,
    webhook_id, thread_id, thread_archived_at, kind
FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
CREATE INDEX IF NOT EXISTS deliveries_status ON deliveries (status);
CREATE INDEX IF NOT EXISTS deliveries_stream ON deliveries (stream_row);
CREATE UNIQUE INDEX IF NOT EXISTS deliveries_item ON deliveries (item_row, channel_id, slot) WHERE item_row IS NOT NULL;
