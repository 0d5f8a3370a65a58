-- Idempotency keys: one per source and key, pointing at the event that
-- first carried it; a key whose expires_at has passed is replaced by the
-- next event that carries it, and purged in batches.
CREATE TABLE dedup_keys (
	source_id  text COLLATE "C" NOT NULL,
	key        text COLLATE "C" NOT NULL,
	event_id   text COLLATE "C" NOT NULL,
	expires_at timestamptz NOT NULL,
	PRIMARY KEY (source_id, key)
);
CREATE INDEX dedup_keys_expires ON dedup_keys (expires_at);

-- The rejected-request log, bounded by count and by the sum of size; the
-- lowest ids are dropped first.
CREATE TABLE rejections (
	id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at             timestamptz NOT NULL,
	source_id      text COLLATE "C" NOT NULL,
	reason         text COLLATE "C" NOT NULL,
	status         integer NOT NULL,
	message        text NOT NULL,
	method         text NOT NULL,
	path           text NOT NULL,
	query          text NOT NULL,
	remote_addr    text NOT NULL,
	headers        json NOT NULL,
	body           bytea NOT NULL,
	body_truncated boolean NOT NULL,
	size           bigint NOT NULL
);
CREATE INDEX rejections_source ON rejections (source_id, id);
CREATE INDEX rejections_reason ON rejections (reason, id);
