-- Ids compare byte by byte (COLLATE "C"), as in SQLite, so that listings
-- order the same on both stores and keyset paging is cheap.
CREATE TABLE sources (
	id         text COLLATE "C" PRIMARY KEY,
	name       text NOT NULL,
	type       text NOT NULL,
	enabled    boolean NOT NULL,
	config     jsonb NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL
);

CREATE TABLE profiles (
	id         text COLLATE "C" PRIMARY KEY,
	created_at timestamptz NOT NULL
);

-- A session's last-seen time and event count come from its events.
CREATE TABLE sessions (
	id         text COLLATE "C" PRIMARY KEY,
	profile_id text COLLATE "C" NOT NULL,
	created_at timestamptz NOT NULL
);
CREATE INDEX sessions_profile ON sessions (profile_id);

-- Events are range-partitioned by day of inserted_at: retention drops whole
-- partitions. The partitions (events_pYYYYMMDD) are created by the store
-- ahead of time and on demand. A unique key must hold the partition key, so
-- the primary key is (inserted_at, id); ids are generated unique anyway.
-- properties and context are json, not jsonb: the text is kept exactly as
-- it was received.
CREATE TABLE events (
	inserted_at timestamptz NOT NULL,
	id          text COLLATE "C" NOT NULL,
	type        text COLLATE "C" NOT NULL,
	source_id   text COLLATE "C" NOT NULL,
	session_id  text COLLATE "C",
	profile_id  text COLLATE "C",
	properties  json NOT NULL,
	context     json NOT NULL,
	PRIMARY KEY (inserted_at, id)
) PARTITION BY RANGE (inserted_at);
CREATE INDEX events_id ON events (id);
CREATE INDEX events_source ON events (source_id, inserted_at, id);
CREATE INDEX events_type ON events (type, inserted_at, id);
CREATE INDEX events_profile ON events (profile_id, inserted_at, id) WHERE profile_id IS NOT NULL;
CREATE INDEX events_session ON events (session_id, inserted_at, id) WHERE session_id IS NOT NULL;
