-- Per-minute counters in shards, as on PostgreSQL (see its 00010), where
-- instances sharing the database add to different rows. SQLite has one
-- writer and always uses shard 0; the column keeps one schema and one
-- store API. A primary key changes by rebuilding the table.

-- +goose Up
CREATE TABLE event_counts_new (
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    minute     INTEGER NOT NULL, -- Unix minutes
    outcome    TEXT    NOT NULL,
    reason     TEXT    NOT NULL DEFAULT '',
    n          INTEGER NOT NULL,
    shard      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, minute, outcome, reason, shard)
);
INSERT INTO event_counts_new (project_id, minute, outcome, reason, n)
    SELECT project_id, minute, outcome, reason, n FROM event_counts;
DROP TABLE event_counts;
ALTER TABLE event_counts_new RENAME TO event_counts;

CREATE TABLE token_counts_new (
    project_id  INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    minute      INTEGER NOT NULL, -- Unix minutes
    scheme      TEXT    NOT NULL,
    key_version INTEGER NOT NULL,
    verified    INTEGER NOT NULL,
    lifetime    TEXT    NOT NULL,
    n           INTEGER NOT NULL,
    last_at     INTEGER NOT NULL, -- the latest receive time counted (ms)
    shard       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, minute, scheme, key_version, verified, lifetime, shard)
);
INSERT INTO token_counts_new (project_id, minute, scheme, key_version, verified, lifetime, n, last_at)
    SELECT project_id, minute, scheme, key_version, verified, lifetime, n, last_at FROM token_counts;
DROP TABLE token_counts;
ALTER TABLE token_counts_new RENAME TO token_counts;

-- +goose Down
CREATE TABLE event_counts_old (
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    minute     INTEGER NOT NULL,
    outcome    TEXT    NOT NULL,
    reason     TEXT    NOT NULL DEFAULT '',
    n          INTEGER NOT NULL,
    PRIMARY KEY (project_id, minute, outcome, reason)
);
INSERT INTO event_counts_old (project_id, minute, outcome, reason, n)
    SELECT project_id, minute, outcome, reason, SUM(n) FROM event_counts GROUP BY project_id, minute, outcome, reason;
DROP TABLE event_counts;
ALTER TABLE event_counts_old RENAME TO event_counts;

CREATE TABLE token_counts_old (
    project_id  INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    minute      INTEGER NOT NULL,
    scheme      TEXT    NOT NULL,
    key_version INTEGER NOT NULL,
    verified    INTEGER NOT NULL,
    lifetime    TEXT    NOT NULL,
    n           INTEGER NOT NULL,
    last_at     INTEGER NOT NULL,
    PRIMARY KEY (project_id, minute, scheme, key_version, verified, lifetime)
);
INSERT INTO token_counts_old (project_id, minute, scheme, key_version, verified, lifetime, n, last_at)
    SELECT project_id, minute, scheme, key_version, verified, lifetime, SUM(n), MAX(last_at) FROM token_counts
    GROUP BY project_id, minute, scheme, key_version, verified, lifetime;
DROP TABLE token_counts;
ALTER TABLE token_counts_old RENAME TO token_counts;
