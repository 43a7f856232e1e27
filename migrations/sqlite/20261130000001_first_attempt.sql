-- When a delivery's first POST left (it may have reached Discord even if
-- no answer came back): a resend after Discord's nonce window first looks
-- for the message in the channel.
ALTER TABLE deliveries ADD COLUMN first_attempt_at INTEGER;
