DROP TRIGGER measure_partners_updated;
DROP TRIGGER measure_partners_deleted;
DROP TRIGGER measure_partners_inserted;
ALTER TABLE measures DROP COLUMN partner_ids;
