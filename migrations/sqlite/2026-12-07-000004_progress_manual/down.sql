ALTER TABLE measures DROP COLUMN progress_manual;
