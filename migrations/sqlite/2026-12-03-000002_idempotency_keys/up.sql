-- Answers of writes sent with an `Idempotency-Key`, kept 24 hours: the same caller sending the
-- same key and body again gets this answer instead of a second write. Written in the write's
-- own transaction, so a key never exists without its write, nor a write without its key.
CREATE TABLE idempotency_keys (
    caller       TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL,
    body         TEXT NOT NULL,
    location     TEXT,
    etag         TEXT,
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (caller, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
