-- Per-minute counters in shards. Every group commit adds to the counter
-- rows of its minute (events accepted, tokens by secret); with one row per
-- counter, instances sharing the database queued on its row lock, and
-- their commits ran one after another. Each process now adds to the shard
-- it drew at start (0 to 15; always 0 on SQLite, which has one writer), and
-- readers add the shards up, as they already add up minutes.

-- +goose Up
ALTER TABLE event_counts ADD COLUMN shard SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE event_counts DROP CONSTRAINT event_counts_pkey;
ALTER TABLE event_counts ADD PRIMARY KEY (project_id, minute, outcome, reason, shard);

ALTER TABLE token_counts ADD COLUMN shard SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE token_counts DROP CONSTRAINT token_counts_pkey;
ALTER TABLE token_counts ADD PRIMARY KEY (project_id, minute, scheme, key_version, verified, lifetime, shard);

-- +goose Down
CREATE TABLE event_counts_merged AS
    SELECT project_id, minute, outcome, reason, CAST(SUM(n) AS BIGINT) AS n FROM event_counts
    GROUP BY project_id, minute, outcome, reason;
DELETE FROM event_counts;
ALTER TABLE event_counts DROP CONSTRAINT event_counts_pkey;
ALTER TABLE event_counts DROP COLUMN shard;
ALTER TABLE event_counts ADD PRIMARY KEY (project_id, minute, outcome, reason);
INSERT INTO event_counts (project_id, minute, outcome, reason, n)
    SELECT project_id, minute, outcome, reason, n FROM event_counts_merged;
DROP TABLE event_counts_merged;

CREATE TABLE token_counts_merged AS
    SELECT project_id, minute, scheme, key_version, verified, lifetime, CAST(SUM(n) AS BIGINT) AS n, MAX(last_at) AS last_at
    FROM token_counts GROUP BY project_id, minute, scheme, key_version, verified, lifetime;
DELETE FROM token_counts;
ALTER TABLE token_counts DROP CONSTRAINT token_counts_pkey;
ALTER TABLE token_counts DROP COLUMN shard;
ALTER TABLE token_counts ADD PRIMARY KEY (project_id, minute, scheme, key_version, verified, lifetime);
INSERT INTO token_counts (project_id, minute, scheme, key_version, verified, lifetime, n, last_at)
    SELECT project_id, minute, scheme, key_version, verified, lifetime, n, last_at FROM token_counts_merged;
DROP TABLE token_counts_merged;
