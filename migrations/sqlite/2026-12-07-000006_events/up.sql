-- Events of a cooperation: workshops, staff days, joint assemblies (Verbandsversammlung),
-- steering meetings. Theme groups are kept with the event as JSON ([{name, field_id}]); the
-- organising partners and the measures that came out of it or were presented there in tables.
CREATE TABLE events (
    id                INTEGER PRIMARY KEY,
    cooperation_id    BIGINT NOT NULL REFERENCES cooperations (id),
    kind              TEXT NOT NULL CHECK (kind IN ('workshop', 'staff_day', 'assembly', 'steering_meeting', 'other')),
    title             TEXT NOT NULL,
    starts_on         DATE NOT NULL,
    ends_on           DATE,
    place             TEXT,
    participant_count INTEGER CHECK (participant_count >= 0),
    theme_groups      TEXT NOT NULL DEFAULT '[]',
    outcomes          TEXT,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
CREATE INDEX events_cooperation ON events (cooperation_id, starts_on, id);

CREATE TABLE event_organisers (
    event_id   BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    partner_id BIGINT NOT NULL REFERENCES partners (id),
    PRIMARY KEY (event_id, partner_id)
);
CREATE INDEX event_organisers_partner ON event_organisers (partner_id);

CREATE TABLE event_measures (
    event_id   BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    measure_id BIGINT NOT NULL REFERENCES measures (id) ON DELETE CASCADE,
    PRIMARY KEY (event_id, measure_id)
);
CREATE INDEX event_measures_measure ON event_measures (measure_id);
