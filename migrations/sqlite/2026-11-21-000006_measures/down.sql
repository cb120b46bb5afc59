DROP TABLE measure_history;
DROP TABLE measure_partners;
DROP TABLE measures;
