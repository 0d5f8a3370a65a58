-- Destinations: places events are delivered to. filter, config and retry
-- are JSON; times are Unix nanoseconds, UTC.
CREATE TABLE destinations (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	type       TEXT NOT NULL,
	enabled    INTEGER NOT NULL,
	filter     TEXT NOT NULL,
	config     TEXT NOT NULL,
	retry      TEXT NOT NULL,
	ordered    INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);

-- The outbox: the seq of every event committed and not yet fanned out to
-- deliveries. Append writes it in its transaction, so that no committed
-- event escapes delivery, whenever the process dies.
CREATE TABLE outbox (seq INTEGER PRIMARY KEY);

-- One row per event and destination. seq is the event's, the delivery
-- order. A lease (owner, until) marks a delivery in flight.
CREATE TABLE deliveries (
	destination_id  TEXT NOT NULL,
	event_id        TEXT NOT NULL,
	seq             INTEGER NOT NULL,
	status          TEXT NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	created_at      INTEGER NOT NULL,
	next_attempt_at INTEGER NOT NULL,
	lease_owner     TEXT,
	lease_until     INTEGER,
	last_error      TEXT NOT NULL DEFAULT '',
	log             TEXT NOT NULL DEFAULT '[]',
	PRIMARY KEY (destination_id, event_id)
) WITHOUT ROWID;
-- Due work, in delivery order: only undelivered rows, so the index stays
-- small however many deliveries succeeded.
CREATE INDEX deliveries_due ON deliveries (destination_id, seq) WHERE status IN ('pending', 'failed');
CREATE INDEX deliveries_status ON deliveries (destination_id, status, seq);
-- Retention asks whether an event still has somewhere to go, and drops
-- the deliveries of the events it deletes.
CREATE INDEX deliveries_event ON deliveries (event_id);
