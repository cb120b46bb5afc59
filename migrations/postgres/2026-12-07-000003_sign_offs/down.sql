ALTER TABLE measures DROP COLUMN signatory_partner_ids;
DROP TABLE measure_sign_offs;
