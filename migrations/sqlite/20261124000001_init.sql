-- Subscriptions: which channel wants which lives.
CREATE TABLE IF NOT EXISTS subscriptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    platform TEXT,
    member TEXT,
    tiktok TEXT,
    realtimekit_id TEXT,
    role_id INTEGER,
    template TEXT,
    language TEXT,
    created_by INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    disabled_reason TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_delivery_at INTEGER,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS subscriptions_guild ON subscriptions (guild_id);

-- Broadcasts seen, by identity (platform + room + start).
CREATE TABLE IF NOT EXISTS streams (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id TEXT NOT NULL UNIQUE,
    platform TEXT NOT NULL,
    started_at INTEGER,
    first_seen INTEGER NOT NULL,
    ended_at INTEGER,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS streams_open ON streams (ended_at);

-- The outbox: one delivery per broadcast and channel.
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_row INTEGER NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
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
    UNIQUE (stream_row, channel_id)
);
CREATE INDEX IF NOT EXISTS deliveries_status ON deliveries (status);
CREATE INDEX IF NOT EXISTS deliveries_stream ON deliveries (stream_row);
