-- The live card: the highest viewer count seen while live and the title
-- the broadcast started with (for the recap at the end), and what the
-- live-update edits last showed and when (at most one per LIVE_UPDATE_SECS).
ALTER TABLE streams ADD COLUMN peak_viewers INTEGER;
ALTER TABLE streams ADD COLUMN first_title TEXT;
ALTER TABLE streams ADD COLUMN card TEXT;
ALTER TABLE streams ADD COLUMN card_at INTEGER;
