DROP TRIGGER measure_partners_sync ON measure_partners;
DROP FUNCTION measure_partner_ids_sync();
DROP FUNCTION measure_partner_ids_of(BIGINT);
ALTER TABLE measures DROP COLUMN partner_ids;
