-- Whether a measure's progress was set by hand. A measure whose progress is not set by hand
-- derives it from its sub-measures (stored with every write below it). Every measure stored
-- before counts as set by hand, so that nothing shown changes.
ALTER TABLE measures ADD COLUMN progress_manual BOOLEAN NOT NULL DEFAULT true;
