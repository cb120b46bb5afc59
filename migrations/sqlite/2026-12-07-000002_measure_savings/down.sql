ALTER TABLE measures DROP COLUMN savings_percent_tenths;
ALTER TABLE measures DROP COLUMN savings_eur;
ALTER TABLE measures DROP COLUMN commitment_years;
ALTER TABLE measures DROP COLUMN annual_cost_after_eur;
ALTER TABLE measures DROP COLUMN annual_cost_before_eur;
