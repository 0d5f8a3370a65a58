-- Attempts and failures of each destination by minute (minutes since the
-- Unix epoch), added in the transaction that settles them: the failure
-- rate over the last hour, the same on every node and after a restart.
-- Minutes older than an hour are deleted as the destination settles.
CREATE TABLE delivery_attempts (
	destination_id TEXT NOT NULL,
	minute         INTEGER NOT NULL,
	attempts       INTEGER NOT NULL DEFAULT 0,
	failures       INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (destination_id, minute)
) WITHOUT ROWID;
