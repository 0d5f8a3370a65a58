-- Counts of refused collect requests by source and reason: every refusal is
-- counted here, while the rejections table keeps only samples of them.
-- Refusals that name no known source are counted under '(unknown)'.
CREATE TABLE rejection_counts (
	source_id text COLLATE "C" NOT NULL,
	reason    text COLLATE "C" NOT NULL,
	count     bigint NOT NULL,
	first_at  timestamptz NOT NULL,
	last_at   timestamptz NOT NULL,
	PRIMARY KEY (source_id, reason)
);
