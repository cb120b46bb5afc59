DROP TABLE event_measures;
DROP TABLE event_organisers;
DROP TABLE events;
