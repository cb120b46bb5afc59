-- How many council decisions and sign-offs a measure has, stored with every write of them, so
-- that reading a measure without any (most of them) needs no lookup in those tables.
ALTER TABLE measures ADD COLUMN decision_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE measures ADD COLUMN sign_off_count INTEGER NOT NULL DEFAULT 0;
UPDATE measures SET
    decision_count = (SELECT COUNT(*) FROM council_decisions d WHERE d.measure_id = measures.id),
    sign_off_count = (SELECT COUNT(*) FROM measure_sign_offs s WHERE s.measure_id = measures.id);
