CREATE TABLE sources (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	type       TEXT NOT NULL,
	enabled    INTEGER NOT NULL,
	config     TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);

CREATE TABLE profiles (
	id         TEXT PRIMARY KEY,
	created_at INTEGER NOT NULL
);

-- A session's last-seen time and event count come from its events.
CREATE TABLE sessions (
	id         TEXT PRIMARY KEY,
	profile_id TEXT NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE INDEX sessions_profile ON sessions (profile_id);

-- seq orders events by commit; times are Unix nanoseconds, UTC.
CREATE TABLE events (
	seq         INTEGER PRIMARY KEY,
	id          TEXT NOT NULL UNIQUE,
	type        TEXT NOT NULL,
	inserted_at INTEGER NOT NULL,
	source_id   TEXT NOT NULL,
	session_id  TEXT,
	profile_id  TEXT,
	properties  TEXT NOT NULL,
	context     TEXT NOT NULL
);
CREATE INDEX events_source ON events (source_id, seq);
CREATE INDEX events_type ON events (type, seq);
CREATE INDEX events_profile ON events (profile_id, seq) WHERE profile_id IS NOT NULL;
CREATE INDEX events_session ON events (session_id, seq) WHERE session_id IS NOT NULL;
CREATE INDEX events_time ON events (inserted_at);
