-- State a server used to keep in its memory moves here, so that the
-- instances sharing this database share it too, and a change made anywhere
-- reaches every instance's caches. Times are Unix milliseconds; rows that
-- expire are swept a batch at a time.

-- +goose Up
-- The first-run setup link: only the SHA-256 of its token. Any instance
-- accepts a link another printed; creating the first admin deletes them all.
CREATE TABLE setup_links (
    token_hash BYTEA  PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

-- Login throttling: failed sign-ins counted per scope ('ip', 'account',
-- 'device') and key in fixed windows, counted before the password is
-- checked and taken back on success (see internal/auth/throttle.go).
CREATE TABLE login_throttle (
    scope        TEXT    NOT NULL,
    throttle_key TEXT    NOT NULL,
    window_start BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL, -- window_start + the window
    failures     INTEGER NOT NULL,
    refused      BOOLEAN NOT NULL DEFAULT false, -- the last attempt was refused
    refusals     INTEGER NOT NULL DEFAULT 0,     -- attempts refused in this window
    PRIMARY KEY (scope, throttle_key)
);
CREATE INDEX login_throttle_expires ON login_throttle (expires_at);

-- One row counting changes to what servers cache (identity secrets, strict
-- mode, token schemes, public keys, allowed origins, projects), bumped in
-- the transaction that makes the change, which also NOTIFYs
-- sendora_changes. Servers LISTEN, and read it once a second besides.
CREATE TABLE changes (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT  NOT NULL
);
INSERT INTO changes (id, seq) VALUES (1, 0);

-- +goose Down
DROP TABLE changes;
DROP TABLE login_throttle;
DROP TABLE setup_links;
