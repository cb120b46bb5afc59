-- Cooperations and their members.
CREATE TABLE cooperations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name               TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    name_folded        TEXT NOT NULL,
    description        TEXT,
    status             TEXT NOT NULL CHECK (status IN ('exploring', 'active', 'paused', 'ended')),
    started_on         DATE,
    ended_on           DATE,
    funding_programme  TEXT,
    funding_amount_eur BIGINT CHECK (funding_amount_eur IS NULL OR funding_amount_eur >= 0),
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL,
    CHECK (ended_on IS NULL OR started_on IS NULL OR ended_on >= started_on)
);
CREATE INDEX cooperations_name_idx ON cooperations (name_folded, id);
CREATE INDEX cooperations_status_idx ON cooperations (status, name_folded, id);
CREATE INDEX cooperations_created_idx ON cooperations (created_at, id);
CREATE INDEX cooperations_updated_idx ON cooperations (updated_at, id);

-- A partner belongs to a cooperation at most once at a time (the row without left_on).
-- A partner that is or was a member cannot be deleted (RESTRICT).
CREATE TABLE cooperation_members (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    cooperation_id BIGINT NOT NULL REFERENCES cooperations (id) ON DELETE CASCADE,
    partner_id     BIGINT NOT NULL REFERENCES partners (id) ON DELETE RESTRICT,
    role           TEXT NOT NULL CHECK (role IN ('lead', 'member', 'advisor', 'funder', 'supporter')),
    joined_on      DATE,
    left_on        DATE,
    created_at     TIMESTAMP NOT NULL,
    CHECK (left_on IS NULL OR joined_on IS NULL OR left_on >= joined_on)
);
CREATE UNIQUE INDEX cooperation_members_current_idx ON cooperation_members (cooperation_id, partner_id) WHERE left_on IS NULL;
CREATE INDEX cooperation_members_coop_idx ON cooperation_members (cooperation_id, id);
CREATE INDEX cooperation_members_partner_idx ON cooperation_members (partner_id, cooperation_id);
