package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Admins managing admins: invitations (one-time links, like the first-run
// setup link, kept by the SHA-256 of their token), removal that never
// leaves the dashboard without an admin, and password resets. Every change
// ends the sessions it must and writes its audit row in one transaction.

// Audit actions of admin management.
const (
	ActionAdminInvite       = "admin.invite"
	ActionAdminInviteCancel = "admin.invite_cancel"
	ActionAdminRemove       = "admin.remove"
	ActionPasswordReset     = "password.reset"
)

// ErrLastAdmin refuses to remove the only admin left.
var ErrLastAdmin = errors.New("the last admin cannot be removed: invite or create another admin first")

// Invite is a pending invitation. TokenHash is the SHA-256 of the link's
// token; the token itself is never stored.
type Invite struct {
	TokenHash []byte
	Email     string // lower-cased
	InvitedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// ListAdmins returns every admin, oldest first.
func (s *Store) ListAdmins(ctx context.Context) ([]Admin, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+adminColumns+` FROM admins ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("store: list admins: %w", err)
	}
	defer rows.Close()
	var out []Admin
	for rows.Next() {
		a, err := scanAdmin(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list admins: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list admins: %w", err)
	}
	return out, nil
}

// RecordLogin notes that the admin signed in at.
func (s *Store) RecordLogin(ctx context.Context, adminID int64, at time.Time) error {
	if _, err := s.w.ExecContext(ctx, `UPDATE admins SET last_login_at = $1 WHERE id = $2`, ms(at), adminID); err != nil {
		return fmt.Errorf("store: record sign-in of admin %d: %w", adminID, err)
	}
	return nil
}

// RemoveAdmin deletes the admin with the (lower-cased) email, every one of
// its sessions and the invitations it made, and audits it, in one
// transaction, and returns how many sessions it ended. It refuses (ErrLastAdmin) when no other admin would
// be left: removals racing on any instance take turns under one lock, so
// two admins removing each other at once cannot both succeed.
func (s *Store) RemoveAdmin(ctx context.Context, email string, c Audit) (sessions int64, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.serialize(ctx, tx, "admins"); err != nil {
			return err
		}
		var id int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM admins WHERE email = $1`, email).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		// Its sessions end first, so the audit row can count them; if the
		// removal is refused below, the rollback keeps them.
		res, err := tx.ExecContext(ctx, `DELETE FROM admin_sessions WHERE admin_id = $1`, id)
		if err != nil {
			return err
		}
		sessions, _ = res.RowsAffected()
		// The count and the delete are one statement, so the check holds
		// within this transaction; the lock makes a racing removal wait
		// and then see this one's delete (PostgreSQL's READ COMMITTED reads
		// afresh per statement; SQLite's writers are serial anyway).
		res, err = tx.ExecContext(ctx, `DELETE FROM admins WHERE id = $1 AND (SELECT COUNT(*) FROM admins) > 1`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrLastAdmin
		}
		// The invitations it made go too: an admin about to be removed
		// must not keep a way back in through a link to another address.
		res, err = tx.ExecContext(ctx, `DELETE FROM admin_invites WHERE invited_by = $1`, email)
		if err != nil {
			return err
		}
		detail := fmt.Sprintf("email=%s sessions ended=%d", email, sessions)
		if n, _ := res.RowsAffected(); n > 0 {
			detail += fmt.Sprintf(" invitations cancelled=%d", n)
		}
		return addAudit(ctx, tx, c.as(ActionAdminRemove, detail))
	})
	if err != nil {
		return 0, fmt.Errorf("store: remove admin %s: %w", email, err)
	}
	return sessions, nil
}

// ResetPassword sets the password hash of the admin with the email, ends
// every session of that admin and audits it, in one transaction, and
// returns how many sessions it ended.
func (s *Store) ResetPassword(ctx context.Context, email, hash string, c Audit) (sessions int64, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, `UPDATE admins SET password_hash = $1, password_changed_at = $2 WHERE email = $3 RETURNING id`,
			hash, ms(c.At), email).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM admin_sessions WHERE admin_id = $1`, id)
		if err != nil {
			return err
		}
		sessions, _ = res.RowsAffected()
		cancelled, err := cancelInvitesBy(ctx, tx, email)
		if err != nil {
			return err
		}
		return addAudit(ctx, tx, c.as(ActionPasswordReset,
			fmt.Sprintf("email=%s sessions ended=%d invitations cancelled=%d", email, sessions, cancelled)))
	})
	if err != nil {
		return 0, fmt.Errorf("store: reset password of %s: %w", email, err)
	}
	return sessions, nil
}

// cancelInvitesBy deletes the pending invitations the admin with the email
// made. A password is reset or changed because it may be known to someone
// else: whoever held the account may have invited an address of theirs,
// a way back in that outlives the sessions ended with it.
func cancelInvitesBy(ctx context.Context, tx *sql.Tx, email string) (int64, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM admin_invites WHERE invited_by = $1`, email)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// CreateInvite stores an invitation for an email no admin has (else
// ErrConflict), replacing any earlier invitation of that email, and
// audits it.
func (s *Store) CreateInvite(ctx context.Context, inv Invite, c Audit) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.serialize(ctx, tx, "admins"); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM admins WHERE email = $1`, inv.Email).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrConflict
		}
		// Under the same lock as RemoveAdmin, which deletes the
		// invitations an admin made: a request that passed its session
		// check just before its admin was removed must not leave a link
		// behind (TestInviteOfARemovedAdmin).
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM admins WHERE email = $1`, inv.InvitedBy).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM admin_invites WHERE email = $1`, inv.Email)
		if err != nil {
			return err
		}
		replaced, _ := res.RowsAffected()
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO admin_invites (token_hash, email, invited_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
			inv.TokenHash, inv.Email, inv.InvitedBy, ms(inv.CreatedAt), ms(inv.ExpiresAt)); err != nil {
			return err
		}
		detail := "email=" + inv.Email + " expires=" + inv.ExpiresAt.UTC().Format(time.RFC3339)
		if replaced > 0 {
			detail += " (replaces the earlier link)"
		}
		return addAudit(ctx, tx, c.as(ActionAdminInvite, detail))
	})
	if err != nil {
		return fmt.Errorf("store: invite %s: %w", inv.Email, err)
	}
	return nil
}

const inviteColumns = `token_hash, email, invited_by, created_at, expires_at`

func scanInvite(row interface{ Scan(...any) error }) (Invite, error) {
	var inv Invite
	var created, expires int64
	if err := row.Scan(&inv.TokenHash, &inv.Email, &inv.InvitedBy, &created, &expires); err != nil {
		return Invite{}, err
	}
	inv.CreatedAt, inv.ExpiresAt = fromMS(created), fromMS(expires)
	return inv, nil
}

// InviteByHash returns the invitation whose token has the SHA-256
// tokenHash, if it has not expired at now (else ErrNotFound). The lookup
// is by the hash, never by the token.
func (s *Store) InviteByHash(ctx context.Context, tokenHash []byte, now time.Time) (Invite, error) {
	inv, err := scanInvite(s.r.QueryRowContext(ctx, `SELECT `+inviteColumns+` FROM admin_invites WHERE token_hash = $1 AND expires_at > $2`,
		tokenHash, ms(now)))
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return Invite{}, fmt.Errorf("store: invitation: %w", err)
	}
	return inv, nil
}

// PendingInvites returns the invitations that have not expired at now,
// newest first.
func (s *Store) PendingInvites(ctx context.Context, now time.Time) ([]Invite, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+inviteColumns+` FROM admin_invites WHERE expires_at > $1 ORDER BY created_at DESC, email`, ms(now))
	if err != nil {
		return nil, fmt.Errorf("store: pending invitations: %w", err)
	}
	defer rows.Close()
	var out []Invite
	for rows.Next() {
		inv, err := scanInvite(rows)
		if err != nil {
			return nil, fmt.Errorf("store: pending invitations: %w", err)
		}
		out = append(out, inv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: pending invitations: %w", err)
	}
	return out, nil
}

// CancelInvite deletes the pending invitation of the email (ErrNotFound
// when there is none) and audits it.
func (s *Store) CancelInvite(ctx context.Context, email string, c Audit) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM admin_invites WHERE email = $1`, email)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return addAudit(ctx, tx, c.as(ActionAdminInviteCancel, "email="+email))
	})
	if err != nil {
		return fmt.Errorf("store: cancel invitation of %s: %w", email, err)
	}
	return nil
}

// AcceptInvite uses up the invitation whose token has the SHA-256
// tokenHash and creates its admin with the password hash, signed in at c.At,
// in one transaction: a link works once, on whichever instance is first
// (the loser gets ErrNotFound, as for an expired or unknown link). An
// email that became an admin meanwhile is ErrConflict, and the link is
// used up all the same.
func (s *Store) AcceptInvite(ctx context.Context, tokenHash []byte, passwordHash string, c Audit) (Admin, error) {
	var created Admin
	var inv Invite
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.serialize(ctx, tx, "admins"); err != nil {
			return err
		}
		var cr, ex int64
		err := tx.QueryRowContext(ctx, `DELETE FROM admin_invites WHERE token_hash = $1 AND expires_at > $2 RETURNING email, invited_by, created_at, expires_at`,
			tokenHash, ms(c.At)).Scan(&inv.Email, &inv.InvitedBy, &cr, &ex)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		at := ms(c.At)
		_, err = tx.ExecContext(ctx, `INSERT INTO admins (email, password_hash, created_at, password_changed_at, last_login_at) VALUES ($1, $2, $3, $3, $3)`,
			inv.Email, passwordHash, at)
		if s.isUnique(err) {
			return ErrConflict
		}
		if err != nil {
			return err
		}
		created, err = scanAdmin(tx.QueryRowContext(ctx, `SELECT `+adminColumns+` FROM admins WHERE email = $1`, inv.Email))
		if err != nil {
			return err
		}
		return addAudit(ctx, tx, Audit{At: c.At, Actor: inv.Email, IP: c.IP, Action: ActionAdminCreate,
			Detail: "email=" + inv.Email + " invited by " + inv.InvitedBy})
	})
	if errors.Is(err, ErrConflict) {
		// Use the link up anyway: it can never work.
		if _, derr := s.w.ExecContext(ctx, `DELETE FROM admin_invites WHERE token_hash = $1`, tokenHash); derr != nil {
			err = errors.Join(err, derr)
		}
	}
	if err != nil {
		return Admin{}, fmt.Errorf("store: accept invitation: %w", err)
	}
	return created, nil
}
