-- Dedup moves out of the events table into an append-only structure (see
-- internal/store/dedup_sqlite.go): with random messageIds a UNIQUE index on
-- events takes a random page write per insert and ingestion collapses as the
-- table grows.

-- +goose Up
-- SQLite cannot drop a table constraint: the table is rebuilt, ids kept.
-- AUTOINCREMENT: an event id is never reused (even after the newest events
-- are deleted), so "every event above the newest run's watermark" is exactly
-- the events whose keys are still only in memory.
CREATE TABLE events_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id   INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    message_id   TEXT    NOT NULL, -- the client's messageId, or srv_… assigned by the server (never a dedup key)
    type         TEXT    NOT NULL,
    event        TEXT,
    user_id      TEXT,
    anonymous_id TEXT,
    timestamp    INTEGER NOT NULL, -- corrected for the client's clock skew
    received_at  INTEGER NOT NULL,
    verification TEXT    NOT NULL, -- 'verified' or a reason
    traits       TEXT,
    properties   TEXT,
    context      TEXT
);
INSERT INTO events_new SELECT id, project_id, message_id, type, event, user_id, anonymous_id, timestamp,
    received_at, verification, traits, properties, context FROM events;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;

-- One row per run: a sorted, immutable set of key hashes with a Bloom
-- filter. AUTOINCREMENT: a run id is never reused, so blocks left by a
-- dropped run can never be taken for a new run's.
CREATE TABLE dedup_runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    level        INTEGER NOT NULL,
    keys         INTEGER NOT NULL,
    max_event_id INTEGER NOT NULL, -- every key of an event up to this id is in a sealed run
    filter       BLOB    NOT NULL,
    sealed       INTEGER NOT NULL  -- 0 while a merge writes it
);

-- A run's entries, (hash, event id) pairs sorted by hash, ~256 a block.
CREATE TABLE dedup_blocks (
    id        INTEGER PRIMARY KEY,
    run       INTEGER NOT NULL,
    first_key INTEGER NOT NULL, -- the block's first hash, sign bit flipped so it sorts as signed
    data      BLOB    NOT NULL
);
CREATE UNIQUE INDEX dedup_blocks_run ON dedup_blocks (run, first_key);

-- +goose Down
DROP TABLE dedup_blocks;
DROP TABLE dedup_runs;
CREATE TABLE events_old (
    id           INTEGER PRIMARY KEY,
    project_id   INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    message_id   TEXT    NOT NULL,
    type         TEXT    NOT NULL,
    event        TEXT,
    user_id      TEXT,
    anonymous_id TEXT,
    timestamp    INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    verification TEXT    NOT NULL,
    traits       TEXT,
    properties   TEXT,
    context      TEXT,
    UNIQUE (project_id, message_id)
);
INSERT OR IGNORE INTO events_old SELECT * FROM events;
DROP TABLE events;
ALTER TABLE events_old RENAME TO events;
