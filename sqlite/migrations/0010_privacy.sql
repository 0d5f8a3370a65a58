-- The record of each erasure of a person: when, and how many rows of each
-- kind it removed (a JSON object of counts); never the data.
CREATE TABLE erasures (
	id     INTEGER PRIMARY KEY,
	at     INTEGER NOT NULL,
	counts TEXT NOT NULL
);

-- Settings of the installation, such as the key that hashes the fields a
-- source's privacy policy hashes; shared by every node of a database.
CREATE TABLE settings (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;

-- Identifiers whose events are dropped at intake: a keyed hash of
-- kind:value, never the value itself.
CREATE TABLE suppressions (
	hash       TEXT PRIMARY KEY,
	created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- A destination may ask for a notice of each erasure.
ALTER TABLE destinations ADD COLUMN erasure_notices INTEGER NOT NULL DEFAULT 0;
