-- Contacts: people at partners (personal data; erasable).
CREATE TABLE contacts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    partner_id       BIGINT NOT NULL REFERENCES partners (id) ON DELETE RESTRICT,
    name             TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    name_folded      TEXT NOT NULL,
    function         TEXT,
    email            TEXT,
    phone            TEXT,
    phone_normalized TEXT,
    notes            TEXT,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);
CREATE INDEX contacts_name_idx ON contacts (name_folded, id);
CREATE INDEX contacts_partner_idx ON contacts (partner_id, name_folded, id);

-- The fields of action a contact is responsible for.
CREATE TABLE contact_fields (
    contact_id BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    field_id   BIGINT NOT NULL REFERENCES fields (id) ON DELETE RESTRICT,
    PRIMARY KEY (contact_id, field_id)
);
CREATE INDEX contact_fields_field_idx ON contact_fields (field_id, contact_id);
