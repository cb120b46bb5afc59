-- Sign-offs of a measure's project description (Projektsteckbrief): one per signing partner,
-- by a contact or by a name and function, with its date. `measures.description_signed_on`
-- becomes derived: the date the last required partner signed. The required partners are
-- `measures.signatory_partner_ids` (a JSON list), or, while it is NULL, the measure's lead and
-- participating partners.
CREATE TABLE measure_sign_offs (
    id                 INTEGER PRIMARY KEY,
    measure_id         BIGINT NOT NULL REFERENCES measures (id) ON DELETE CASCADE,
    partner_id         BIGINT NOT NULL REFERENCES partners (id),
    signed_on          DATE NOT NULL,
    contact_id         BIGINT REFERENCES contacts (id) ON DELETE SET NULL,
    signatory_name     TEXT,
    signatory_function TEXT,
    migrated           BOOLEAN NOT NULL DEFAULT false,
    created_at         TIMESTAMP NOT NULL,
    UNIQUE (measure_id, partner_id)
);
CREATE INDEX measure_sign_offs_partner ON measure_sign_offs (partner_id);
CREATE INDEX measure_sign_offs_contact ON measure_sign_offs (contact_id);

ALTER TABLE measures ADD COLUMN signatory_partner_ids TEXT;

-- Nothing is lost: each stored date becomes a sign-off of every lead and participating partner,
-- marked as migrated (no signatory is known). A measure without partners keeps its date.
INSERT INTO measure_sign_offs (measure_id, partner_id, signed_on, migrated, created_at)
SELECT m.id, p.partner_id, m.description_signed_on, true, m.updated_at
FROM measures m
JOIN (
    SELECT measure_id, partner_id FROM measure_partners
    UNION
    SELECT id, lead_partner_id FROM measures WHERE lead_partner_id IS NOT NULL
) p ON p.measure_id = m.id
WHERE m.description_signed_on IS NOT NULL;
