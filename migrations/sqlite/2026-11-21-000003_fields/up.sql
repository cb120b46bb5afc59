-- Fields of action of a cooperation, with stable keys that clients may rely on.
CREATE TABLE fields (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key         TEXT NOT NULL UNIQUE CHECK (length(key) BETWEEN 1 AND 64),
    name_de     TEXT NOT NULL,
    name_en     TEXT NOT NULL,
    description TEXT,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

INSERT INTO fields (key, name_de, name_en, description, created_at, updated_at) VALUES
    ('public-relations', 'Öffentlichkeitsarbeit', 'Public relations', 'Gemeinsame Pressearbeit, Amtsblatt, Social Media, Bürgerinformation.', '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('session-management', 'Sitzungsmanagement / Gremienarbeit', 'Session management / council work', 'Ratsinformationssystem, Sitzungsdienst, Gremienbetreuung.', '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('digitalisation-ai', 'Digitalisierung und KI', 'Digitalisation and AI', 'Digitale Verwaltungsleistungen, Automatisierung, KI-Anwendungen.', '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('bauhof', 'Bauhof', 'Municipal building yard', 'Gemeinsame Maschinen, Winterdienst, Grünpflege, Beschaffung für den Bauhof.', '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('fire-brigade', 'Feuerwehr', 'Fire brigade', 'Ausbildung, Ausrüstung, Atemschutzwerkstatt, Einsatzplanung.', '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('it-egovernment', 'IT und E-Government', 'IT and e-government', 'IT-Betrieb, Fachverfahren, Onlinezugangsgesetz, E-Government-Gesetz.', '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('internal-administration', 'Innere Verwaltung', 'Internal administration', 'Personal, Organisation, Vergabe, Kasse, Standesamt.', '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('leadership-strategy', 'Leitung und Strategie', 'Leadership and strategy', 'Steuerung der Kooperation, Strategie, Verwaltungsspitze.', '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('procurement', 'Beschaffung', 'Procurement', 'Gemeinsame Ausschreibungen und Rahmenverträge.', '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('economic-development', 'Wirtschaftsförderung', 'Economic development', 'Standortmarketing, Gewerbeflächen, Unternehmensservice.', '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('land-climate', 'Flächenmanagement, Klima und Kompensation', 'Land management, climate and compensation', 'Flächenpool, Ökokonto, Klimaschutz und Klimaanpassung.', '2026-11-21 00:00:00', '2026-11-21 00:00:00');
