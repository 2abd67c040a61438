-- Admins invite admins: a one-time link per invitation, like the first-run
-- setup link, in the database so that any instance accepts a link another
-- one made. And when each admin last signed in, for the Admins page.

-- +goose Up
-- Only the SHA-256 of the link's token is kept. Accepting the link deletes
-- its row in the transaction that creates the admin, so it works once;
-- inviting the same email again replaces the row (the older link stops
-- working). Expired rows are swept a batch at a time.
CREATE TABLE admin_invites (
    token_hash BLOB    PRIMARY KEY,
    email      TEXT    NOT NULL UNIQUE, -- lower-cased, as admins.email
    invited_by TEXT    NOT NULL,        -- the inviting admin's email
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX admin_invites_expires ON admin_invites (expires_at);

-- Unix milliseconds of the admin's last sign-in with a password (or via a
-- setup or invitation link); 0: never.
ALTER TABLE admins ADD COLUMN last_login_at INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE admins DROP COLUMN last_login_at;
DROP TABLE admin_invites;
