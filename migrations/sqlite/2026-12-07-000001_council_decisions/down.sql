ALTER TABLE cooperations DROP COLUMN requires_council_approval;
ALTER TABLE measures DROP COLUMN councils_agreed;
DROP TABLE council_decisions;
