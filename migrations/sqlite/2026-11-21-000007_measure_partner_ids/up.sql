-- The partners taking part in a measure, copied into its row as ascending ids ("3,7,12"; NULL
-- when none), so that reading a measure or a page of them needs no lookup in measure_partners
-- per row. measure_partners stays the record (foreign keys, the partner filter); these triggers
-- keep the copy in step with it on every insert, update and delete, whoever writes.
ALTER TABLE measures ADD COLUMN partner_ids TEXT;

UPDATE measures SET partner_ids = (
    SELECT string_agg(CAST(mp.partner_id AS TEXT), ',' ORDER BY mp.partner_id)
    FROM measure_partners mp WHERE mp.measure_id = measures.id);

CREATE TRIGGER measure_partners_inserted AFTER INSERT ON measure_partners
BEGIN
    UPDATE measures SET partner_ids = (
        SELECT string_agg(CAST(mp.partner_id AS TEXT), ',' ORDER BY mp.partner_id)
        FROM measure_partners mp WHERE mp.measure_id = NEW.measure_id)
    WHERE id = NEW.measure_id;
END;

CREATE TRIGGER measure_partners_deleted AFTER DELETE ON measure_partners
BEGIN
    UPDATE measures SET partner_ids = (
        SELECT string_agg(CAST(mp.partner_id AS TEXT), ',' ORDER BY mp.partner_id)
        FROM measure_partners mp WHERE mp.measure_id = OLD.measure_id)
    WHERE id = OLD.measure_id;
END;

CREATE TRIGGER measure_partners_updated AFTER UPDATE ON measure_partners
BEGIN
    UPDATE measures SET partner_ids = (
        SELECT string_agg(CAST(mp.partner_id AS TEXT), ',' ORDER BY mp.partner_id)
        FROM measure_partners mp WHERE mp.measure_id = measures.id)
    WHERE id IN (OLD.measure_id, NEW.measure_id);
END;
