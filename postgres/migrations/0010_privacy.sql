-- The record of each erasure of a person: when, and how many rows of each
-- kind it removed (a JSON object of counts); never the data. Its highest
-- id tells every node that an erasure happened, so that it clears its
-- cache of sessions.
CREATE TABLE erasures (
	id     bigserial PRIMARY KEY,
	at     timestamptz NOT NULL,
	counts json NOT NULL
);

-- Settings of the installation, such as the key that hashes the fields a
-- source's privacy policy hashes; shared by every node.
CREATE TABLE settings (
	name  text COLLATE "C" PRIMARY KEY,
	value text NOT NULL
);

-- Identifiers whose events are dropped at intake: a keyed hash of
-- kind:value, never the value itself.
CREATE TABLE suppressions (
	hash       text COLLATE "C" PRIMARY KEY,
	created_at timestamptz NOT NULL
);

-- A destination may ask for a notice of each erasure.
ALTER TABLE destinations ADD COLUMN erasure_notices boolean NOT NULL DEFAULT false;
