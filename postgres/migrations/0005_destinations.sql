-- Destinations: places events are delivered to. filter, config and retry
-- are json (the text as written).
CREATE TABLE destinations (
	id         text COLLATE "C" PRIMARY KEY,
	name       text NOT NULL,
	type       text NOT NULL,
	enabled    boolean NOT NULL,
	filter     json NOT NULL,
	config     json NOT NULL,
	retry      json NOT NULL,
	ordered    boolean NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL
);

-- The delivery order: outbox entries and replays take their seq from it.
CREATE SEQUENCE delivery_seq;

-- The outbox: every event committed and not yet fanned out to deliveries.
-- Append writes it in its transaction, so that no committed event escapes
-- delivery, whenever a node dies. Nodes fan out disjoint entries (SKIP
-- LOCKED).
CREATE TABLE outbox (
	seq         bigint PRIMARY KEY DEFAULT nextval('delivery_seq'),
	event_id    text COLLATE "C" NOT NULL,
	inserted_at timestamptz NOT NULL,
	source_id   text COLLATE "C" NOT NULL,
	type        text COLLATE "C" NOT NULL
);
CREATE INDEX outbox_inserted_at ON outbox (inserted_at);

-- One row per event and destination, in seq order. A lease (owner, until)
-- marks a delivery in flight; an expired lease is anybody's.
CREATE TABLE deliveries (
	destination_id    text COLLATE "C" NOT NULL,
	event_id          text COLLATE "C" NOT NULL,
	event_inserted_at timestamptz NOT NULL,
	seq               bigint NOT NULL,
	status            text NOT NULL,
	attempts          integer NOT NULL DEFAULT 0,
	created_at        timestamptz NOT NULL,
	next_attempt_at   timestamptz NOT NULL,
	lease_owner       text,
	lease_until       timestamptz,
	last_error        text NOT NULL DEFAULT '',
	log               json NOT NULL DEFAULT '[]',
	PRIMARY KEY (destination_id, event_id)
);
-- Due work, in delivery order: only undelivered rows.
CREATE INDEX deliveries_due ON deliveries (destination_id, seq) WHERE status IN ('pending', 'failed');
CREATE INDEX deliveries_status ON deliveries (destination_id, status, seq);
-- Retention asks whether a day's events still have somewhere to go.
CREATE INDEX deliveries_event_time ON deliveries (event_inserted_at);
