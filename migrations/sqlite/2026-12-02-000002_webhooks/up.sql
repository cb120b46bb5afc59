-- Webhooks: an admin's subscription to the change feed. `position` is the feed position up to
-- which deliveries have been queued; `lease_owner`/`lease_until` let one instance at a time send
-- a webhook's deliveries (in feed order), and another take over once a lease has run out.
CREATE TABLE webhooks (
    id                    INTEGER PRIMARY KEY,
    url                   TEXT NOT NULL,
    description           TEXT,
    resources             TEXT NOT NULL,
    active                BOOLEAN NOT NULL,
    paused_reason         TEXT CHECK (paused_reason IN ('failing')),
    secret                TEXT NOT NULL,
    previous_secret       TEXT,
    previous_secret_until TIMESTAMP,
    position              BIGINT NOT NULL,
    lease_owner           TEXT,
    lease_until           TIMESTAMP,
    next_run_at           TIMESTAMP NOT NULL,
    created_at            TIMESTAMP NOT NULL,
    updated_at            TIMESTAMP NOT NULL
);

-- One delivery per change and webhook, with its thin payload (the feed item, no record body).
CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY,
    webhook_id       BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    change_id        BIGINT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL,
    first_attempt_at TIMESTAMP,
    last_attempt_at  TIMESTAMP,
    next_attempt_at  TIMESTAMP NOT NULL,
    last_status      INTEGER,
    last_error       TEXT,
    delivered_at     TIMESTAMP,
    created_at       TIMESTAMP NOT NULL,
    UNIQUE (webhook_id, change_id)
);
-- The sender takes a webhook's pending deliveries in feed order.
CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (webhook_id, status, change_id);
