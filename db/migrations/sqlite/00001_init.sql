-- Times are integers: Unix milliseconds (UTC). Booleans are integers 0/1.

-- +goose Up
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE projects (
    id              INTEGER PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE,
    public_key      TEXT    NOT NULL UNIQUE,
    strict          INTEGER NOT NULL DEFAULT 0,
    allowed_origins TEXT    NOT NULL DEFAULT '', -- space-separated origins; empty allows any
    created_at      INTEGER NOT NULL
);

-- Identity secrets, sealed with AES-256-GCM under the master key. At most one
-- current and one previous (inside its overlap) per project; a few retired
-- ones are kept only to diagnose rotated_secret.
CREATE TABLE identity_secrets (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('current', 'previous', 'retired')),
    sealed      BLOB    NOT NULL,
    fingerprint TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    created_by  TEXT    NOT NULL,
    valid_until INTEGER,          -- previous: the end of its overlap
    retired_at  INTEGER,          -- when it stopped being current
    UNIQUE (project_id, version)
);
CREATE UNIQUE INDEX identity_secrets_one_current ON identity_secrets (project_id) WHERE status = 'current';
CREATE UNIQUE INDEX identity_secrets_one_previous ON identity_secrets (project_id) WHERE status = 'previous';

-- Accepted events. message_id is the client's messageId or one the server
-- assigned; its uniqueness per project is what makes retries idempotent.
CREATE TABLE events (
    id           INTEGER PRIMARY KEY,
    project_id   INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    message_id   TEXT    NOT NULL,
    type         TEXT    NOT NULL,
    event        TEXT,
    user_id      TEXT,
    anonymous_id TEXT,
    timestamp    INTEGER NOT NULL, -- corrected for the client's clock skew
    received_at  INTEGER NOT NULL,
    verification TEXT    NOT NULL, -- 'verified' or a reason
    traits       TEXT,
    properties   TEXT,
    context      TEXT,
    UNIQUE (project_id, message_id)
);
-- No index on received_at: ids grow with arrival, so export and retention
-- walk the primary key, and every index costs each insert on the hot path.

-- The profile identify events merge traits into.
CREATE TABLE profiles (
    project_id    INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id       TEXT    NOT NULL,
    traits        TEXT    NOT NULL,
    last_verified INTEGER NOT NULL, -- whether the last identify was verified
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (project_id, user_id)
);

-- Events refused (enforced) or that would have been (report-only). Bounded:
-- the newest rows per project are kept, older ones pruned. Never a token.
CREATE TABLE rejections (
    id           INTEGER PRIMARY KEY,
    project_id   INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    at           INTEGER NOT NULL,
    endpoint     TEXT    NOT NULL,
    batch_index  INTEGER,          -- NULL for POST /events
    event_type   TEXT    NOT NULL,
    user_id      TEXT,
    anonymous_id TEXT,
    reason       TEXT    NOT NULL,
    enforced     INTEGER NOT NULL, -- 1 refused, 0 report-only
    source_ip    TEXT    NOT NULL DEFAULT '',
    user_agent   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX rejections_project ON rejections (project_id, id);
CREATE INDEX rejections_project_reason ON rejections (project_id, reason, id);

-- Per-minute counts for the dashboard: outcome is 'accepted', 'rejected'
-- (enforced) or 'report_only'; reason is '' for accepted. Kept 30 days.
CREATE TABLE event_counts (
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    minute     INTEGER NOT NULL, -- Unix minutes
    outcome    TEXT    NOT NULL,
    reason     TEXT    NOT NULL DEFAULT '',
    n          INTEGER NOT NULL,
    PRIMARY KEY (project_id, minute, outcome, reason)
);

CREATE TABLE admins (
    id                  INTEGER PRIMARY KEY,
    email               TEXT    NOT NULL UNIQUE, -- stored lower-cased
    password_hash       TEXT    NOT NULL,
    created_at          INTEGER NOT NULL,
    password_changed_at INTEGER NOT NULL
);

-- Server-side sessions, so logout and password changes really end them. The
-- cookie carries the session id; only its SHA-256 is stored.
CREATE TABLE admin_sessions (
    id_hash      TEXT    PRIMARY KEY,
    admin_id     INTEGER NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    ip           TEXT    NOT NULL DEFAULT '',
    user_agent   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX admin_sessions_admin ON admin_sessions (admin_id);

-- Rotations, strict toggles, logins and failed logins. Never a secret or token.
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    project_id INTEGER REFERENCES projects (id) ON DELETE SET NULL,
    detail     TEXT    NOT NULL DEFAULT '',
    ip         TEXT    NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE admin_sessions;
DROP TABLE admins;
DROP TABLE event_counts;
DROP TABLE rejections;
DROP TABLE profiles;
DROP TABLE events;
DROP TABLE identity_secrets;
DROP TABLE projects;
DROP TABLE meta;
