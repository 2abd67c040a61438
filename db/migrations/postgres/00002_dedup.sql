-- SQLite's 00002 moves dedup out of the events table into an append-only
-- structure (internal/store/dedup_sqlite.go). PostgreSQL keeps a unique
-- index, which every instance sharing the database sees, and whose random
-- inserts its buffer cache absorbs far better than SQLite's per-commit page
-- writes (docs/BENCHMARKS.md has both figures). As on SQLite, ids the server
-- assigned (srv_…) are not dedup keys: the index leaves them out.

-- +goose Up
ALTER TABLE events DROP CONSTRAINT events_project_id_message_id_key;
CREATE UNIQUE INDEX events_dedup ON events (project_id, message_id) WHERE left(message_id, 4) <> 'srv_';

-- +goose Down
DROP INDEX events_dedup;
ALTER TABLE events ADD CONSTRAINT events_project_id_message_id_key UNIQUE (project_id, message_id);
