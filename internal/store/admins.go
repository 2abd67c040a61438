package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Admin is a dashboard account. PasswordHash is an encoded argon2id hash,
// never a password.
type Admin struct {
	ID                int64
	Email             string // lower-cased
	PasswordHash      string
	CreatedAt         time.Time
	PasswordChangedAt time.Time
	LastLoginAt       time.Time // zero: never signed in
}

// NewAdmin is an account to create, with who created it for the audit log.
type NewAdmin struct {
	Email        string
	PasswordHash string
	At           time.Time
	Actor        string // "setup", "cli", or an admin's email
	IP           string
}

// Session is a server-side dashboard session. IDHash is the hex SHA-256
// of the random id in the cookie; the id itself is never stored.
type Session struct {
	IDHash     string
	AdminID    int64
	CreatedAt  time.Time
	LastSeenAt time.Time
	IP         string
	UserAgent  string
}

const adminColumns = `id, email, password_hash, created_at, password_changed_at, last_login_at`

func scanAdmin(row interface{ Scan(...any) error }) (Admin, error) {
	var a Admin
	var created, changed, login int64
	if err := row.Scan(&a.ID, &a.Email, &a.PasswordHash, &created, &changed, &login); err != nil {
		return Admin{}, err
	}
	a.CreatedAt, a.PasswordChangedAt, a.LastLoginAt = fromMS(created), fromMS(changed), fromMS(login)
	return a, nil
}

// CountAdmins returns how many admin accounts exist.
func (s *Store) CountAdmins(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM admins`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count admins: %w", err)
	}
	return n, nil
}

// CreateAdmin adds an account and its audit entry. A taken email is ErrConflict.
func (s *Store) CreateAdmin(ctx context.Context, a NewAdmin) (Admin, error) {
	return s.createAdmin(ctx, a, false)
}

// CreateFirstAdmin adds an account only while there is none at all, so two
// people racing through the first-run setup cannot both create one: the
// loser gets ErrConflict.
func (s *Store) CreateFirstAdmin(ctx context.Context, a NewAdmin) (Admin, error) {
	return s.createAdmin(ctx, a, true)
}

func (s *Store) createAdmin(ctx context.Context, a NewAdmin, onlyFirst bool) (Admin, error) {
	at := ms(a.At)
	var created Admin
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// Instances creating admins at once take turns, so "only while
		// there is none" holds across them.
		if err := s.serialize(ctx, tx, "admins"); err != nil {
			return err
		}
		q := `INSERT INTO admins (email, password_hash, created_at, password_changed_at) VALUES ($1, $2, $3, $3)`
		if onlyFirst {
			q = `INSERT INTO admins (email, password_hash, created_at, password_changed_at)
				SELECT $1, $2, $3, $3 WHERE NOT EXISTS (SELECT 1 FROM admins)`
		}
		res, err := tx.ExecContext(ctx, q, a.Email, a.PasswordHash, at)
		if s.isUnique(err) {
			return ErrConflict
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrConflict
		}
		created, err = scanAdmin(tx.QueryRowContext(ctx, `SELECT `+adminColumns+` FROM admins WHERE email = $1`, a.Email))
		if err != nil {
			return err
		}
		// Setup links only create the first admin: once there is one, none
		// works any more, on any instance.
		if _, err := tx.ExecContext(ctx, `DELETE FROM setup_links`); err != nil {
			return err
		}
		return addAudit(ctx, tx, Audit{At: a.At, Actor: a.Actor, IP: a.IP, Action: ActionAdminCreate, Detail: "email=" + a.Email})
	})
	if err != nil {
		return Admin{}, fmt.Errorf("store: create admin %s: %w", a.Email, err)
	}
	return created, nil
}

// AdminByEmail returns the account with the (lower-cased) email.
func (s *Store) AdminByEmail(ctx context.Context, email string) (Admin, error) {
	a, err := scanAdmin(s.r.QueryRowContext(ctx, `SELECT `+adminColumns+` FROM admins WHERE email = $1`, email))
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return Admin{}, fmt.Errorf("store: admin %s: %w", email, err)
	}
	return a, nil
}

// AdminByID returns the account with the id.
func (s *Store) AdminByID(ctx context.Context, id int64) (Admin, error) {
	a, err := scanAdmin(s.r.QueryRowContext(ctx, `SELECT `+adminColumns+` FROM admins WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return Admin{}, fmt.Errorf("store: admin %d: %w", id, err)
	}
	return a, nil
}

// ChangePassword stores a new password hash, ends every session of the
// account except keepSession (the hash of the session that made the
// change; "" ends them all) and audits the change, in one transaction.
func (s *Store) ChangePassword(ctx context.Context, adminID int64, hash string, keepSession string, at time.Time, ip string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var email string
		err := tx.QueryRowContext(ctx, `UPDATE admins SET password_hash = $1, password_changed_at = $2 WHERE id = $3 RETURNING email`,
			hash, ms(at), adminID).Scan(&email)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM admin_sessions WHERE admin_id = $1 AND id_hash != $2`, adminID, keepSession)
		if err != nil {
			return err
		}
		ended, _ := res.RowsAffected()
		cancelled, err := cancelInvitesBy(ctx, tx, email)
		if err != nil {
			return err
		}
		return addAudit(ctx, tx, Audit{At: at, Actor: email, IP: ip, Action: ActionPasswordChange,
			Detail: fmt.Sprintf("other sessions ended=%d invitations cancelled=%d", ended, cancelled)})
	})
	if err != nil {
		return fmt.Errorf("store: change password of admin %d: %w", adminID, err)
	}
	return nil
}

// CreateSession stores a new session.
func (s *Store) CreateSession(ctx context.Context, se Session) error {
	_, err := s.w.ExecContext(ctx, `
		INSERT INTO admin_sessions (id_hash, admin_id, created_at, last_seen_at, ip, user_agent) VALUES ($1, $2, $3, $4, $5, $6)`,
		se.IDHash, se.AdminID, ms(se.CreatedAt), ms(se.LastSeenAt), se.IP, se.UserAgent)
	if err != nil {
		return fmt.Errorf("store: create session for admin %d: %w", se.AdminID, err)
	}
	return nil
}

// SessionByHash returns a session and its account.
func (s *Store) SessionByHash(ctx context.Context, idHash string) (Session, Admin, error) {
	var se Session
	var a Admin
	var created, seen int64
	row := s.r.QueryRowContext(ctx, `
		SELECT a.id, a.email, a.password_hash, a.created_at, a.password_changed_at, a.last_login_at,
		       s.id_hash, s.created_at, s.last_seen_at, s.ip, s.user_agent
		FROM admin_sessions s JOIN admins a ON a.id = s.admin_id WHERE s.id_hash = $1`, idHash)
	var ac, ap, al int64
	err := row.Scan(&a.ID, &a.Email, &a.PasswordHash, &ac, &ap, &al, &se.IDHash, &created, &seen, &se.IP, &se.UserAgent)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return Session{}, Admin{}, fmt.Errorf("store: session: %w", err)
	}
	a.CreatedAt, a.PasswordChangedAt, a.LastLoginAt = fromMS(ac), fromMS(ap), fromMS(al)
	se.AdminID, se.CreatedAt, se.LastSeenAt = a.ID, fromMS(created), fromMS(seen)
	return se, a, nil
}

// CountSessions returns how many sessions the admin has (some may have
// expired without being pruned yet).
func (s *Store) CountSessions(ctx context.Context, adminID int64) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM admin_sessions WHERE admin_id = $1`, adminID).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count sessions of admin %d: %w", adminID, err)
	}
	return n, nil
}

// TouchSession records activity on a session, for the idle timeout.
func (s *Store) TouchSession(ctx context.Context, idHash string, at time.Time) error {
	if _, err := s.w.ExecContext(ctx, `UPDATE admin_sessions SET last_seen_at = $1 WHERE id_hash = $2`, ms(at), idHash); err != nil {
		return fmt.Errorf("store: touch session: %w", err)
	}
	return nil
}

// DeleteSession ends one session; ending one that is gone is not an error.
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM admin_sessions WHERE id_hash = $1`, idHash); err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

// PruneSessions deletes sessions idle since before idleBefore or created
// before createdBefore, and returns how many it deleted.
func (s *Store) PruneSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM admin_sessions WHERE last_seen_at < $1 OR created_at < $2`, ms(idleBefore), ms(createdBefore))
	if err != nil {
		return 0, fmt.Errorf("store: prune sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
