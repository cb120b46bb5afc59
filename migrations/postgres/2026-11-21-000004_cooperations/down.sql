DROP TABLE cooperation_members;
DROP TABLE cooperations;
