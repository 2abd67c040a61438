-- PostgreSQL's 00007 gives its profile_provenance a faster path for the
-- usual identify. SQLite's profile_provenance is the store's Go function
-- (internal/store/provenance.go): nothing changes here. The file keeps the
-- two folders' numbers the same.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
