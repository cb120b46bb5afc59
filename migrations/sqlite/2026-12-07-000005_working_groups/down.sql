DROP INDEX measures_working_group;
ALTER TABLE measures DROP COLUMN working_group_id;
DROP TABLE working_group_members;
DROP TABLE working_group_fields;
DROP TABLE working_groups;
