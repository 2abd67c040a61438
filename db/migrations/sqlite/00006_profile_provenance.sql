-- Per-trait provenance (internal/store/provenance.go): which event set each
-- trait of a profile, and whether a less trusted event changed a trait a
-- more trusted one had set. Written by the profile upsert of the group
-- commit, with the store's profile_provenance function; no index on events.

-- +goose Up
-- Trait key → the entry of the event that set it. NULL: the profile was not
-- written since provenance began to be recorded.
ALTER TABLE profiles ADD COLUMN provenance TEXT;
-- How many of its traits are flagged (a poisoned profile when above 0).
ALTER TABLE profiles ADD COLUMN flagged INTEGER NOT NULL DEFAULT 0;
-- Flagged profiles are few: listing and counting them reads only these.
CREATE INDEX profiles_flagged ON profiles (project_id, user_id) WHERE flagged > 0;

-- +goose Down
DROP INDEX profiles_flagged;
ALTER TABLE profiles DROP COLUMN flagged;
ALTER TABLE profiles DROP COLUMN provenance;
