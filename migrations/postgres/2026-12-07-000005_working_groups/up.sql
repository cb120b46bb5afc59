-- Working groups of a cooperation (e.g. "Bauhof", "IT & E-Government"), each by fields of
-- action, moderated by a partner (often a consultancy that is an advisor member), with contacts
-- as members (chair or member). Measures name the group that examined them.
CREATE TABLE working_groups (
    id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cooperation_id       BIGINT NOT NULL REFERENCES cooperations (id),
    name                 TEXT NOT NULL,
    name_folded          TEXT NOT NULL,
    moderator_partner_id BIGINT REFERENCES partners (id),
    status               TEXT NOT NULL CHECK (status IN ('active', 'closed')),
    member_count         INTEGER NOT NULL DEFAULT 0,
    created_at           TIMESTAMP NOT NULL,
    updated_at           TIMESTAMP NOT NULL
);
CREATE INDEX working_groups_cooperation ON working_groups (cooperation_id, id);
CREATE INDEX working_groups_moderator ON working_groups (moderator_partner_id);

CREATE TABLE working_group_fields (
    working_group_id BIGINT NOT NULL REFERENCES working_groups (id) ON DELETE CASCADE,
    field_id         BIGINT NOT NULL REFERENCES fields (id),
    PRIMARY KEY (working_group_id, field_id)
);
CREATE INDEX working_group_fields_field ON working_group_fields (field_id);

CREATE TABLE working_group_members (
    working_group_id BIGINT NOT NULL REFERENCES working_groups (id) ON DELETE CASCADE,
    contact_id       BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    role             TEXT NOT NULL CHECK (role IN ('chair', 'member')),
    created_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (working_group_id, contact_id)
);
CREATE INDEX working_group_members_contact ON working_group_members (contact_id);

ALTER TABLE measures ADD COLUMN working_group_id BIGINT REFERENCES working_groups (id);
CREATE INDEX measures_working_group ON measures (working_group_id, id);
