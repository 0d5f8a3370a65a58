-- Delivery reads the events table as a log: each destination has a cursor
-- (a seq), and only events that need state of their own have a row in
-- deliveries. The outbox goes; what it still held is delivered from the
-- log, as each cursor starts before its first entry.
CREATE TABLE delivery_cursors (
	destination_id TEXT PRIMARY KEY,
	-- every event up to position is settled; events up to start were
	-- never for the destination
	position       INTEGER NOT NULL,
	start          INTEGER NOT NULL,
	-- the node that owns the cursor until lease_until (Unix nanoseconds)
	owner          TEXT NOT NULL DEFAULT '',
	lease_until    INTEGER NOT NULL DEFAULT 0,
	delivered      INTEGER NOT NULL DEFAULT 0,
	failing_since  INTEGER
) WITHOUT ROWID;

INSERT INTO delivery_cursors (destination_id, position, start, delivered)
	SELECT d.id,
		coalesce((SELECT min(seq) - 1 FROM outbox), (SELECT max(seq) FROM events), 0),
		coalesce((SELECT min(seq) - 1 FROM outbox), (SELECT max(seq) FROM events), 0),
		(SELECT count(*) FROM deliveries WHERE destination_id = d.id AND status = 'delivered')
	FROM destinations d;

DROP TABLE outbox;

-- version changes at each retry, replay and discard, so that the outcome
-- of an attempt begun before never overwrites them; a replayed row waits
-- until the cursor has passed release, the log's head when it was made.
ALTER TABLE deliveries ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN release INTEGER NOT NULL DEFAULT 0;

-- Imported events are history: never delivered from the log.
ALTER TABLE events ADD COLUMN imported INTEGER;

ALTER TABLE destinations ADD COLUMN disable_after TEXT NOT NULL DEFAULT '';
ALTER TABLE destinations ADD COLUMN disabled_at INTEGER;
ALTER TABLE destinations ADD COLUMN disabled_reason TEXT NOT NULL DEFAULT '';
