-- Console and API sessions expire after a time without use; tokens made for scripts
-- (`tollswitch token create`) keep idle_timeout_ms = 0 and never expire. Sessions that
-- existed before this migration get the 12-hour default and count as used at creation.
ALTER TABLE api_token ADD COLUMN idle_timeout_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE api_token ADD COLUMN last_used_ms BIGINT NOT NULL DEFAULT 0;
UPDATE api_token SET idle_timeout_ms = 43200000, last_used_ms = created_ms WHERE label = 'session';
CREATE INDEX api_token_by_user ON api_token (user_id);
