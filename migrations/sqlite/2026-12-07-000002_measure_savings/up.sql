-- Savings of a measure, the evidence state funding asks for: the annual personnel and material
-- costs of all partners together before and after, the years the partners commit to it, and
-- the derived savings (stored with every write of the costs): in euros, and in tenths of a
-- percent of the cost before (the API shows `savings_percent` with one decimal).
ALTER TABLE measures ADD COLUMN annual_cost_before_eur BIGINT CHECK (annual_cost_before_eur >= 0);
ALTER TABLE measures ADD COLUMN annual_cost_after_eur BIGINT CHECK (annual_cost_after_eur >= 0);
ALTER TABLE measures ADD COLUMN commitment_years INTEGER CHECK (commitment_years BETWEEN 0 AND 100);
ALTER TABLE measures ADD COLUMN savings_eur BIGINT;
ALTER TABLE measures ADD COLUMN savings_percent_tenths INTEGER;
