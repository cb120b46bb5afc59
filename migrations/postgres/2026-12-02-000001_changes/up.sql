-- The change feed: one row per committed change of a record, in commit order. No record bodies:
-- an erased contact survives here only as its id. Rows are inserted last in their transaction,
-- under a transaction-scoped advisory lock (src/changes), so that numbers from the identity are
-- handed out in commit order even with several instances on one server.
CREATE TABLE changes (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
