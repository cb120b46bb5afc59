-- The change feed: one row per committed change of a record, in commit order. No record bodies:
-- an erased contact survives here only as its id. AUTOINCREMENT, so that a number is never
-- handed out twice, not even after the oldest rows are pruned; SQLite's single writer (and
-- `BEGIN IMMEDIATE` in other processes) makes number order commit order.
CREATE TABLE changes (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    resource  TEXT NOT NULL,
    record_id BIGINT NOT NULL,
    op        TEXT NOT NULL CHECK (op IN ('created', 'updated', 'deleted')),
    at        TIMESTAMP NOT NULL,
    etag      TEXT,
    actor     TEXT
);
-- Readers filter by resource; pruning walks from the oldest row by id (no index on `at`: one
-- index less to keep on every write).
CREATE INDEX changes_resource ON changes (resource, id);
