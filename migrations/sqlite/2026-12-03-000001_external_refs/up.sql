-- External references: the ids other systems give a record (a council system's OParl id, the
-- district's partner register, a spreadsheet's row key). One reference names one record of a
-- resource; the table answers "which record is ags:03359028?" and keeps references unique.
CREATE TABLE external_refs (
    resource  TEXT NOT NULL CHECK (resource IN ('partners', 'fields', 'cooperations', 'measures', 'contacts')),
    source    TEXT NOT NULL,
    ref_id    TEXT NOT NULL,
    record_id BIGINT NOT NULL,
    PRIMARY KEY (resource, source, ref_id)
);
CREATE INDEX external_refs_record ON external_refs (resource, record_id);

-- The same references as each record's own copy (a JSON array), so that a read needs no second
-- query; the models write both in one transaction.
ALTER TABLE partners ADD COLUMN external_refs TEXT NOT NULL DEFAULT '[]';
ALTER TABLE fields ADD COLUMN external_refs TEXT NOT NULL DEFAULT '[]';
ALTER TABLE cooperations ADD COLUMN external_refs TEXT NOT NULL DEFAULT '[]';
ALTER TABLE measures ADD COLUMN external_refs TEXT NOT NULL DEFAULT '[]';
ALTER TABLE contacts ADD COLUMN external_refs TEXT NOT NULL DEFAULT '[]';
