-- Projects in the dashboard: a second public key during a key rotation, and
-- deletion in two steps (the project disappears at once; its data is then
-- removed in small batches, so a large project never holds the one writer
-- for long).

-- +goose Up
-- The key a rotation replaced: it still identifies the project until
-- previous_key_until (Unix ms; NULL: until an admin revokes it). NULL when
-- only public_key works.
ALTER TABLE projects ADD COLUMN previous_public_key TEXT;
ALTER TABLE projects ADD COLUMN previous_key_until INTEGER;
-- Set when the project was deleted: no key, name or page finds it any more,
-- and the purger removes its rows a batch at a time, the project row last.
ALTER TABLE projects ADD COLUMN deleted_at INTEGER;
CREATE UNIQUE INDEX projects_previous_public_key ON projects (previous_public_key) WHERE previous_public_key IS NOT NULL;
CREATE INDEX projects_deleted ON projects (deleted_at) WHERE deleted_at IS NOT NULL;

-- +goose Down
DROP INDEX projects_deleted;
DROP INDEX projects_previous_public_key;
ALTER TABLE projects DROP COLUMN deleted_at;
ALTER TABLE projects DROP COLUMN previous_key_until;
ALTER TABLE projects DROP COLUMN previous_public_key;
