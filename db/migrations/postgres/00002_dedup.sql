-- SQLite's 00002 moves dedup out of the events table into an append-only
-- structure (internal/store/dedup_sqlite.go). PostgreSQL keeps the unique
-- index on events (project_id, message_id): every instance sharing the
-- database must see one index, and PostgreSQL's buffer cache absorbs random
-- inserts far better than SQLite's per-commit page writes
-- (docs/BENCHMARKS.md has both figures). Nothing changes here; the version
-- exists so that a number means the same migration on both.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
