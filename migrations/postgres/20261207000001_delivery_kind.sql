-- What kind of card a delivery carries (its renderer is chosen by it):
-- every delivery so far is a live announcement.
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS kind TEXT NOT NULL DEFAULT 'live';
