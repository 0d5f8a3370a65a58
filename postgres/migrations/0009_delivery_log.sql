-- Delivery reads the events table as a log: each event has a place in it,
-- (log_tx, log_seq): the id of the transaction that inserted it and a
-- sequence value. Transactions commit out of order, so the log is read
-- only below the oldest transaction still running (pg_snapshot_xmin),
-- where nothing can commit any more. Imported events have no place.
CREATE SEQUENCE event_log_seq;
ALTER TABLE events ADD COLUMN log_tx xid8, ADD COLUMN log_seq bigint;

-- What the outbox still held joins the log, in its order; every cursor
-- starts before it.
UPDATE events e SET log_tx = pg_current_xact_id(), log_seq = o.seq
	FROM outbox o WHERE e.id = o.event_id AND e.inserted_at = o.inserted_at;
SELECT setval('event_log_seq', (SELECT last_value FROM delivery_seq));

ALTER TABLE events ALTER COLUMN log_tx SET DEFAULT pg_current_xact_id(),
	ALTER COLUMN log_seq SET DEFAULT nextval('event_log_seq');
CREATE INDEX events_log ON events (log_tx, log_seq) WHERE log_tx IS NOT NULL;

-- A destination's cursor: every event up to position is settled; events
-- up to start were never for it. owner holds it until lease_until.
CREATE TABLE delivery_cursors (
	destination_id text COLLATE "C" PRIMARY KEY,
	position_tx    bigint NOT NULL,
	position_seq   bigint NOT NULL,
	start_tx       bigint NOT NULL,
	start_seq      bigint NOT NULL,
	owner          text NOT NULL DEFAULT '',
	lease_until    timestamptz NOT NULL DEFAULT 'epoch',
	delivered      bigint NOT NULL DEFAULT 0,
	failing_since  timestamptz
);
INSERT INTO delivery_cursors (destination_id, position_tx, position_seq, start_tx, start_seq, delivered)
	SELECT d.id, 0, 0, 0, 0, (SELECT count(*) FROM deliveries WHERE destination_id = d.id AND status = 'delivered')
	FROM destinations d;

DROP TABLE outbox;

-- Rows are only for events that need state of their own. (log_tx, seq)
-- is the event's place in the log; version changes at each retry, replay
-- and discard, so that the outcome of an attempt begun before never
-- overwrites them; a replayed row waits until the cursor has passed
-- (release_tx, release_seq), the log's head when it was made.
ALTER TABLE deliveries ADD COLUMN log_tx bigint NOT NULL DEFAULT 0,
	ADD COLUMN version bigint NOT NULL DEFAULT 0,
	ADD COLUMN release_tx bigint NOT NULL DEFAULT 0,
	ADD COLUMN release_seq bigint NOT NULL DEFAULT 0;
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (destination_id, log_tx, seq) WHERE status IN ('pending', 'failed');
CREATE INDEX deliveries_event ON deliveries (event_id);

ALTER TABLE destinations ADD COLUMN disable_after text NOT NULL DEFAULT '',
	ADD COLUMN disabled_at timestamptz,
	ADD COLUMN disabled_reason text NOT NULL DEFAULT '';
