DROP TABLE contact_fields;
DROP TABLE contacts;
