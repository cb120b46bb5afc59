-- The partners taking part in a measure, copied into its row as ascending ids ("3,7,12"; NULL
-- when none), so that reading a measure or a page of them needs no lookup in measure_partners
-- per row. measure_partners stays the record (foreign keys, the partner filter); the trigger
-- keeps the copy in step with it on every insert, update and delete, whoever writes.
ALTER TABLE measures ADD COLUMN partner_ids TEXT;

CREATE FUNCTION measure_partner_ids_of(measure BIGINT) RETURNS TEXT LANGUAGE sql STABLE AS $$
    SELECT string_agg(mp.partner_id::text, ',' ORDER BY mp.partner_id)
    FROM measure_partners mp WHERE mp.measure_id = measure;
$$;

CREATE FUNCTION measure_partner_ids_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE measures SET partner_ids = measure_partner_ids_of(OLD.measure_id) WHERE id = OLD.measure_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        UPDATE measures SET partner_ids = measure_partner_ids_of(NEW.measure_id) WHERE id = NEW.measure_id;
    END IF;
    RETURN NULL;
END;
$$;

UPDATE measures SET partner_ids = measure_partner_ids_of(id);

CREATE TRIGGER measure_partners_sync AFTER INSERT OR UPDATE OR DELETE ON measure_partners
    FOR EACH ROW EXECUTE FUNCTION measure_partner_ids_sync();
