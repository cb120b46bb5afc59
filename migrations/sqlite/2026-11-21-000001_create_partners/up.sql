-- Partners: the organisations that cooperate.
-- AUTOINCREMENT: ids of deleted partners are never handed out again (sync jobs key on them).
CREATE TABLE partners (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    name_folded TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('municipality', 'district', 'state_agency', 'association', 'company', 'other')),
    ags         TEXT UNIQUE CHECK (ags IS NULL OR (length(ags) = 8 AND ags NOT GLOB '*[^0-9]*')),
    state       TEXT,
    district    TEXT,
    population  BIGINT CHECK (population IS NULL OR population >= 0),
    website     TEXT,
    email       TEXT,
    phone       TEXT,
    description TEXT,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

CREATE INDEX partners_name_idx ON partners (name_folded, id);
CREATE INDEX partners_created_idx ON partners (created_at, id);
CREATE INDEX partners_updated_idx ON partners (updated_at, id);
CREATE INDEX partners_kind_idx ON partners (kind, name_folded, id);
CREATE INDEX partners_state_idx ON partners (state, name_folded, id);
