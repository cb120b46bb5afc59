DROP TABLE fields;
