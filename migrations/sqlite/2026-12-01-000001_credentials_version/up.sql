-- Bumped whenever an account's password changes; a token carries the value it was issued at and
-- stops working once the account's value differs.
ALTER TABLE users ADD COLUMN credentials_version BIGINT NOT NULL DEFAULT 0;
