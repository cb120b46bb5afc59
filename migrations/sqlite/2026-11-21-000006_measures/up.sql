-- Measures: the cooperation ideas and projects, their participants and their history.
CREATE TABLE measures (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    cooperation_id         BIGINT NOT NULL REFERENCES cooperations (id) ON DELETE RESTRICT,
    field_id               BIGINT NOT NULL REFERENCES fields (id) ON DELETE RESTRICT,
    parent_id              BIGINT REFERENCES measures (id) ON DELETE SET NULL,
    title                  TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    title_folded           TEXT NOT NULL,
    summary                TEXT,
    description            TEXT,
    status                 TEXT NOT NULL CHECK (status IN ('idea', 'assessed', 'planned', 'approved', 'in_progress', 'completed', 'on_hold', 'rejected')),
    resume_status          TEXT CHECK (resume_status IS NULL OR resume_status IN ('idea', 'assessed', 'planned', 'approved', 'in_progress', 'completed', 'on_hold', 'rejected')),
    horizon                TEXT CHECK (horizon IS NULL OR horizon IN ('short', 'medium', 'long')),
    benefit                INTEGER CHECK (benefit BETWEEN 1 AND 5),
    cost                   INTEGER CHECK (cost BETWEEN 1 AND 5),
    effort                 INTEGER CHECK (effort BETWEEN 1 AND 5),
    estimated_cost_eur     BIGINT CHECK (estimated_cost_eur IS NULL OR estimated_cost_eur >= 0),
    -- Derived from benefit, cost and effort (see the API schema); -1 in the rank while unassessed.
    priority_score         INTEGER CHECK (priority_score IS NULL OR priority_score BETWEEN 0 AND 100),
    priority_rank          INTEGER NOT NULL,
    lead_partner_id        BIGINT REFERENCES partners (id) ON DELETE RESTRICT,
    responsible_partner_id BIGINT REFERENCES partners (id) ON DELETE RESTRICT,
    responsible_contact_id BIGINT REFERENCES contacts (id) ON DELETE SET NULL,
    planned_start          DATE,
    planned_end            DATE,
    -- planned_end, or 9999-12-31 while unplanned, so that the keyset order has no NULLs.
    planned_end_rank       DATE NOT NULL,
    description_signed_on  DATE,
    progress               INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    council_refs           TEXT NOT NULL DEFAULT '[]',
    created_at             TIMESTAMP NOT NULL,
    updated_at             TIMESTAMP NOT NULL,
    CHECK (planned_end IS NULL OR planned_start IS NULL OR planned_end >= planned_start),
    CHECK (parent_id IS NULL OR parent_id <> id)
);
CREATE INDEX measures_priority_idx ON measures (priority_rank, id);
CREATE INDEX measures_coop_priority_idx ON measures (cooperation_id, priority_rank, id);
CREATE INDEX measures_field_status_priority_idx ON measures (field_id, status, priority_rank, id);
CREATE INDEX measures_status_priority_idx ON measures (status, priority_rank, id);
CREATE INDEX measures_updated_idx ON measures (updated_at, id);
CREATE INDEX measures_title_idx ON measures (title_folded, id);
CREATE INDEX measures_planned_end_idx ON measures (planned_end_rank, id);
CREATE INDEX measures_horizon_idx ON measures (horizon, priority_rank, id);
CREATE INDEX measures_lead_idx ON measures (lead_partner_id);
CREATE INDEX measures_responsible_partner_idx ON measures (responsible_partner_id);
CREATE INDEX measures_responsible_contact_idx ON measures (responsible_contact_id);
CREATE INDEX measures_parent_idx ON measures (parent_id);

-- Partners taking part in a measure besides the lead.
CREATE TABLE measure_partners (
    measure_id BIGINT NOT NULL REFERENCES measures (id) ON DELETE CASCADE,
    partner_id BIGINT NOT NULL REFERENCES partners (id) ON DELETE RESTRICT,
    PRIMARY KEY (measure_id, partner_id)
);
CREATE INDEX measure_partners_partner_idx ON measure_partners (partner_id, measure_id);

-- What happened to a measure: creation, each status transition, erasure of its contact.
CREATE TABLE measure_history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    measure_id  BIGINT NOT NULL REFERENCES measures (id) ON DELETE CASCADE,
    event       TEXT NOT NULL CHECK (event IN ('created', 'transition', 'contact_erased')),
    from_status TEXT,
    to_status   TEXT NOT NULL,
    comment     TEXT,
    actor       TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX measure_history_measure_idx ON measure_history (measure_id, id);
