-- Accounts, service tokens, settings kept in the database, and failed-login throttling.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    display_name  TEXT,
    email         TEXT,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    active        BOOLEAN NOT NULL DEFAULT 1,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
CREATE INDEX users_updated_idx ON users (updated_at, id);

-- The partners an editor acts for.
CREATE TABLE user_partners (
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    partner_id BIGINT NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, partner_id)
);
CREATE INDEX user_partners_partner_idx ON user_partners (partner_id);

-- Long-lived tokens for sync jobs; only a SHA-256 of the secret is stored.
CREATE TABLE service_tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX service_tokens_created_idx ON service_tokens (created_at, id);

CREATE TABLE service_token_partners (
    token_id   BIGINT NOT NULL REFERENCES service_tokens (id) ON DELETE CASCADE,
    partner_id BIGINT NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    PRIMARY KEY (token_id, partner_id)
);
CREATE INDEX service_token_partners_partner_idx ON service_token_partners (partner_id);

-- Values every instance must agree on, e.g. the generated JWT secret.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Failed logins per key (`user:<name>` or `ip:<address>`) in the current window.
CREATE TABLE login_failures (
    key          TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    window_start TIMESTAMP NOT NULL
);
