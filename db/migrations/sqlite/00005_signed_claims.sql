-- Signed claims (JWT identity tokens): each project's accepted token
-- schemes and maximum JWT lifetime; which traits of a stored event came
-- from its verified JWT; per-minute counts of identity tokens by scheme,
-- by the secret that signed them and by how far ahead a JWT's exp lay,
-- for the dashboard's scheme preview and the rotation's per-secret counts.

-- +goose Up
-- 'hmac_v1,jwt' (the default), 'jwt' or 'hmac_v1' (identity.SchemePolicy).
ALTER TABLE projects ADD COLUMN token_schemes TEXT NOT NULL DEFAULT 'hmac_v1,jwt'
    CHECK (token_schemes IN ('hmac_v1,jwt', 'jwt', 'hmac_v1'));
-- How far ahead a JWT's exp may lie, in milliseconds; 0: no maximum.
ALTER TABLE projects ADD COLUMN max_token_lifetime INTEGER NOT NULL DEFAULT 0
    CHECK (max_token_lifetime >= 0);

-- A JSON array of the top-level trait keys whose values came from the
-- traits claim of the event's verified JWT; NULL when none did.
ALTER TABLE events ADD COLUMN signed_traits TEXT;

-- Events stored with an identity token, per minute: its scheme ('hmac_v1'
-- or 'jwt'), the version of the secret whose signature it carries (0:
-- none), whether it verified, and for a verified JWT its lifetime class
-- (identity.LifetimeClasses; '' otherwise). Written by the group commit
-- for the events it inserts (a retry is counted once); kept as long as
-- event_counts. Never a token.
CREATE TABLE token_counts (
    project_id  INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    minute      INTEGER NOT NULL, -- Unix minutes
    scheme      TEXT    NOT NULL,
    key_version INTEGER NOT NULL,
    verified    INTEGER NOT NULL,
    lifetime    TEXT    NOT NULL,
    n           INTEGER NOT NULL,
    last_at     INTEGER NOT NULL, -- the latest receive time counted (ms)
    PRIMARY KEY (project_id, minute, scheme, key_version, verified, lifetime)
);

-- +goose Down
DROP TABLE token_counts;
ALTER TABLE events DROP COLUMN signed_traits;
ALTER TABLE projects DROP COLUMN max_token_lifetime;
ALTER TABLE projects DROP COLUMN token_schemes;
