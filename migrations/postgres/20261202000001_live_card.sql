-- The live card: the highest viewer count seen while live and the title
-- the broadcast started with (for the recap at the end), and what the
-- live-update edits last showed and when (at most one per LIVE_UPDATE_SECS).
ALTER TABLE streams ADD COLUMN IF NOT EXISTS peak_viewers BIGINT;
ALTER TABLE streams ADD COLUMN IF NOT EXISTS first_title TEXT;
ALTER TABLE streams ADD COLUMN IF NOT EXISTS card TEXT;
ALTER TABLE streams ADD COLUMN IF NOT EXISTS card_at BIGINT;
