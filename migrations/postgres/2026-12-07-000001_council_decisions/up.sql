-- Council decisions per measure and partner (one row each): what an editor entered by hand
-- (`manual_*`) and what the OParl sync derived from the partner's council system
-- (`derived_*`). A hand entry is never overwritten by the sync; the answer shows the hand
-- entry where there is one, both where they differ. Paper and meeting ids are kept without
-- foreign keys: a paper the council system withdraws leaves the hand entry as it was entered,
-- and the sync clears its own part at its next run.
CREATE TABLE council_decisions (
    id                      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    measure_id              BIGINT NOT NULL REFERENCES measures (id) ON DELETE CASCADE,
    partner_id              BIGINT NOT NULL REFERENCES partners (id),
    manual_decision         TEXT CHECK (manual_decision IN ('approved', 'rejected', 'deferred', 'pending')),
    manual_decided_on       DATE,
    manual_paper_id         BIGINT,
    manual_paper_url        TEXT,
    note                    TEXT,
    derived_decision        TEXT CHECK (derived_decision IN ('approved', 'rejected', 'deferred', 'pending')),
    derived_decided_on      DATE,
    derived_paper_id        BIGINT,
    derived_consultation_id TEXT,
    derived_meeting_id      BIGINT,
    derived_result          TEXT,
    created_at              TIMESTAMP NOT NULL,
    updated_at              TIMESTAMP NOT NULL,
    CHECK (manual_decision IS NOT NULL OR derived_decision IS NOT NULL),
    UNIQUE (measure_id, partner_id)
);
CREATE INDEX council_decisions_partner ON council_decisions (partner_id, id);
CREATE INDEX council_decisions_updated ON council_decisions (updated_at, id);

-- Derived and stored with every change of a measure's decisions or partners: every partner of
-- the measure (lead and participating) has an approving decision.
ALTER TABLE measures ADD COLUMN councils_agreed BOOLEAN NOT NULL DEFAULT false;

-- A cooperation that requires it lets a measure become `approved` only when its councils agreed.
ALTER TABLE cooperations ADD COLUMN requires_council_approval BOOLEAN NOT NULL DEFAULT false;
