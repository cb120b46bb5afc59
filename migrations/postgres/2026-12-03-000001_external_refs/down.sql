ALTER TABLE contacts DROP COLUMN external_refs;
ALTER TABLE measures DROP COLUMN external_refs;
ALTER TABLE cooperations DROP COLUMN external_refs;
ALTER TABLE fields DROP COLUMN external_refs;
ALTER TABLE partners DROP COLUMN external_refs;
DROP TABLE external_refs;
