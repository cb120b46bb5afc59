ALTER TABLE measures DROP COLUMN sign_off_count;
ALTER TABLE measures DROP COLUMN decision_count;
