-- `sendora events export --since T` seeks to the first event received at or
-- after T instead of reading the project's whole history, and walks a
-- project's events in the order received without sorting each chunk.
-- received_at only grows, so new entries land on the index's last page and
-- cost the hot path little.

-- +goose Up
CREATE INDEX events_project_received ON events (project_id, received_at, id);

-- +goose Down
DROP INDEX events_project_received;
