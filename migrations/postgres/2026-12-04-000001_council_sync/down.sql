DROP TABLE measure_council_keys;
DROP TABLE council_paper_keys;
DROP TABLE council_papers;
DROP TABLE council_meetings;
DROP TABLE council_organizations;
DROP TABLE council_bodies;
DROP TABLE sync_runs;
DROP TABLE sync_sources;
