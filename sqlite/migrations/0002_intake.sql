-- Idempotency keys: one per source and key, pointing at the event that
-- first carried it; a key whose expires_at (Unix nanoseconds) has passed is
-- replaced by the next event that carries it, and purged in batches.
CREATE TABLE dedup_keys (
	source_id  TEXT NOT NULL,
	key        TEXT NOT NULL,
	event_id   TEXT NOT NULL,
	expires_at INTEGER NOT NULL,
	PRIMARY KEY (source_id, key)
) WITHOUT ROWID;
CREATE INDEX dedup_keys_expires ON dedup_keys (expires_at);

-- The rejected-request log, bounded by count and by the sum of size; the
-- lowest ids are dropped first.
CREATE TABLE rejections (
	id             INTEGER PRIMARY KEY,
	at             INTEGER NOT NULL,
	source_id      TEXT NOT NULL,
	reason         TEXT NOT NULL,
	status         INTEGER NOT NULL,
	message        TEXT NOT NULL,
	method         TEXT NOT NULL,
	path           TEXT NOT NULL,
	query          TEXT NOT NULL,
	remote_addr    TEXT NOT NULL,
	headers        TEXT NOT NULL,
	body           BLOB NOT NULL,
	body_truncated INTEGER NOT NULL,
	size           INTEGER NOT NULL
);
CREATE INDEX rejections_source ON rejections (source_id, id);
CREATE INDEX rejections_reason ON rejections (reason, id);
