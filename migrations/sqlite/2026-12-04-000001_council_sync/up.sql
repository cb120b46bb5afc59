-- Council information systems (OParl) and what the sync brings from them.
--
-- A sync source is one OParl system. `lease_owner`/`lease_until` let one process at a time run
-- it (instances of the service and the command line alike); `resume` keeps the list positions
-- of a run that did not finish, so the next run goes on from there; `watermark` is the newest
-- `modified` value the server sent (its own clock), from which incremental runs ask.
CREATE TABLE sync_sources (
    id               INTEGER PRIMARY KEY,
    system_url       TEXT NOT NULL UNIQUE,
    partner_ids      TEXT NOT NULL DEFAULT '[]',
    interval_minutes INTEGER NOT NULL,
    active           BOOLEAN NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('never_run', 'running', 'succeeded', 'failed')),
    last_run_at      TIMESTAMP,
    last_success_at  TIMESTAMP,
    last_full_at     TIMESTAMP,
    watermark        TIMESTAMP,
    last_error       TEXT,
    counts           TEXT NOT NULL DEFAULT '{}',
    resume           TEXT,
    lease_owner      TEXT,
    lease_until      TIMESTAMP,
    next_run_at      TIMESTAMP NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);

-- Every run of a source, with what it did.
CREATE TABLE sync_runs (
    id             INTEGER PRIMARY KEY,
    source_id      BIGINT NOT NULL REFERENCES sync_sources (id) ON DELETE CASCADE,
    full_run       BOOLEAN NOT NULL,
    trigger_kind   TEXT NOT NULL CHECK (trigger_kind IN ('schedule', 'api', 'cli')),
    state          TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed', 'interrupted')),
    modified_since TIMESTAMP,
    resumed        BOOLEAN NOT NULL,
    started_at     TIMESTAMP NOT NULL,
    finished_at    TIMESTAMP,
    error          TEXT,
    counts         TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX sync_runs_source ON sync_runs (source_id, id);

-- OParl bodies (a municipality, a district), each the council system of one partner.
CREATE TABLE council_bodies (
    id                INTEGER PRIMARY KEY,
    source_id         BIGINT NOT NULL REFERENCES sync_sources (id) ON DELETE CASCADE,
    oparl_id          TEXT NOT NULL UNIQUE,
    partner_id        BIGINT REFERENCES partners (id) ON DELETE SET NULL,
    name              TEXT NOT NULL,
    ags               TEXT,
    organization_list TEXT,
    meeting_list      TEXT,
    paper_list        TEXT,
    modified          TIMESTAMP,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);

-- Councils, committees and other organisations of a body.
CREATE TABLE council_organizations (
    id                INTEGER PRIMARY KEY,
    body_id           BIGINT NOT NULL REFERENCES council_bodies (id) ON DELETE CASCADE,
    oparl_id          TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL,
    short_name        TEXT,
    classification    TEXT,
    organization_type TEXT,
    modified          TIMESTAMP,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
CREATE INDEX council_organizations_body ON council_organizations (body_id);

-- `sort_key` is what lists are ordered by: the start (meetings) or the date (papers) as text,
-- empty when the server sent none (such rows come last in the newest-first order).
-- Meetings, with their agenda items as JSON (`[{oparl_id, number, name, result, resolution_text}]`).
CREATE TABLE council_meetings (
    id               INTEGER PRIMARY KEY,
    body_id          BIGINT NOT NULL REFERENCES council_bodies (id) ON DELETE CASCADE,
    partner_id       BIGINT,
    oparl_id         TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    name_folded      TEXT NOT NULL,
    start_at         TIMESTAMP,
    end_at           TIMESTAMP,
    start_date       DATE,
    sort_key         TEXT NOT NULL,
    cancelled        BOOLEAN NOT NULL,
    location         TEXT,
    web_url          TEXT,
    organization_ids TEXT NOT NULL DEFAULT '[]',
    agenda_items     TEXT NOT NULL DEFAULT '[]',
    modified         TIMESTAMP,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);
CREATE INDEX council_meetings_order ON council_meetings (sort_key, id);
CREATE INDEX council_meetings_partner ON council_meetings (partner_id, start_date);

-- Papers (Vorlagen), with their consultations as JSON; `search_folded` is name and reference in
-- search form, `links` the OParl id and web URL in compared form (for measures' council_refs).
CREATE TABLE council_papers (
    id              INTEGER PRIMARY KEY,
    body_id         BIGINT NOT NULL REFERENCES council_bodies (id) ON DELETE CASCADE,
    partner_id      BIGINT,
    oparl_id        TEXT NOT NULL UNIQUE,
    reference       TEXT,
    name            TEXT NOT NULL,
    search_folded   TEXT NOT NULL,
    paper_type      TEXT,
    paper_date      DATE,
    sort_key        TEXT NOT NULL,
    main_file_url   TEXT,
    web_url         TEXT,
    keywords        TEXT NOT NULL DEFAULT '[]',
    keywords_folded TEXT NOT NULL DEFAULT '',
    candidate       BOOLEAN NOT NULL,
    consultations   TEXT NOT NULL DEFAULT '[]',
    modified        TIMESTAMP,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE INDEX council_papers_order ON council_papers (sort_key, id);
CREATE INDEX council_papers_partner ON council_papers (partner_id, paper_date);

-- The compared forms of every paper's OParl id and web URL, and of every measure's council_refs:
-- a measure and a paper are linked where the two meet (an index on each side).
CREATE TABLE council_paper_keys (
    key      TEXT NOT NULL,
    paper_id BIGINT NOT NULL REFERENCES council_papers (id) ON DELETE CASCADE,
    PRIMARY KEY (key, paper_id)
);
CREATE INDEX council_paper_keys_paper ON council_paper_keys (paper_id);
CREATE TABLE measure_council_keys (
    key        TEXT NOT NULL,
    measure_id BIGINT NOT NULL REFERENCES measures (id) ON DELETE CASCADE,
    PRIMARY KEY (key, measure_id)
);
CREATE INDEX measure_council_keys_measure ON measure_council_keys (measure_id);
