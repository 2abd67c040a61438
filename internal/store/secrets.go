package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sendora/sendora/internal/identity"
)

// The store is the identity package's Store.
var _ identity.Store = (*Store)(nil)

// IdentityState returns the project's strict flag, accepted schemes,
// maximum token lifetime and sealed secrets, newest first. The verifier calls it on a cache miss.
func (s *Store) IdentityState(ctx context.Context, projectID int64) (identity.State, error) {
	st := identity.State{ProjectID: projectID}
	var schemes string
	var maxLifetime int64
	err := s.r.QueryRowContext(ctx, `SELECT strict, token_schemes, max_token_lifetime FROM projects WHERE id = $1`, projectID).
		Scan(&st.Strict, &schemes, &maxLifetime)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err == nil {
		// The column's CHECK admits only the policies' names.
		st.Schemes, err = identity.ParseSchemePolicy(schemes)
		st.MaxLifetime = time.Duration(maxLifetime) * time.Millisecond
	}
	if err != nil {
		return st, fmt.Errorf("store: identity state of project %d: %w", projectID, err)
	}
	rows, err := s.r.QueryContext(ctx, `
		SELECT version, status, sealed, fingerprint, created_at, created_by, valid_until, retired_at
		FROM identity_secrets WHERE project_id = $1 ORDER BY version DESC`, projectID)
	if err != nil {
		return st, fmt.Errorf("store: identity state of project %d: %w", projectID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var k identity.SealedKey
		var status string
		var created int64
		var until, retired sql.NullInt64
		if err := rows.Scan(&k.Version, &status, &k.Sealed, &k.Fingerprint, &created, &k.CreatedBy, &until, &retired); err != nil {
			return st, fmt.Errorf("store: identity state of project %d: %w", projectID, err)
		}
		k.Status = identity.KeyStatus(status)
		k.CreatedAt, k.ValidUntil, k.RetiredAt = fromMS(created), fromMS(until.Int64), fromMS(retired.Int64)
		st.Keys = append(st.Keys, k)
	}
	return st, rows.Err()
}

// RotateSecret applies a rotation in one transaction (see identity.Rotation)
// and returns the new version. Concurrent rotations, from this process or
// another, take turns on the project (BEGIN IMMEDIATE on SQLite, the
// project's row lock on PostgreSQL), so each sees the last one's result.
func (s *Store) RotateSecret(ctx context.Context, projectID int64, r identity.Rotation) (int, error) {
	var version int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// The project's row is held until commit, so rotations from several
		// instances take turns and each sees the last one's result.
		if err := tx.QueryRowContext(ctx, `SELECT id FROM projects WHERE id = $1`+s.d.forUpdate, projectID).Scan(new(int64)); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		if r.FromVersion != identity.AnyVersion {
			var cur int
			err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM identity_secrets WHERE project_id = $1 AND status = 'current'`, projectID).Scan(&cur)
			if err != nil {
				return err
			}
			if cur != r.FromVersion {
				return fmt.Errorf("current is v%d, asked against v%d: %w", cur, r.FromVersion, identity.ErrVersionChanged)
			}
		}
		at := ms(r.At)
		// An earlier overlap ends now: at most two secrets verify.
		if _, err := tx.ExecContext(ctx, `
			UPDATE identity_secrets SET status = 'retired'
			WHERE project_id = $1 AND status = 'previous'`, projectID); err != nil {
			return err
		}
		if r.Overlap > 0 {
			_, err := tx.ExecContext(ctx, `
				UPDATE identity_secrets SET status = 'previous', valid_until = $1, retired_at = $2
				WHERE project_id = $3 AND status = 'current'`, at+r.Overlap.Milliseconds(), at, projectID)
			if err != nil {
				return err
			}
		} else {
			_, err := tx.ExecContext(ctx, `
				UPDATE identity_secrets SET status = 'retired', retired_at = $1
				WHERE project_id = $2 AND status = 'current'`, at, projectID)
			if err != nil {
				return err
			}
		}
		if err := tx.QueryRowContext(ctx, `
			INSERT INTO identity_secrets (project_id, version, status, sealed, fingerprint, created_at, created_by)
			VALUES ($1, (SELECT COALESCE(MAX(version), 0) + 1 FROM identity_secrets WHERE project_id = $2), 'current', $3, $4, $5, $6)
			RETURNING version`,
			projectID, projectID, r.Sealed, r.Fingerprint, at, r.Actor.Name).Scan(&version); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `
			DELETE FROM identity_secrets WHERE project_id = $1 AND status = 'retired' AND version NOT IN (
				SELECT version FROM identity_secrets WHERE project_id = $2 AND status = 'retired'
				ORDER BY version DESC LIMIT $3)`, projectID, projectID, r.KeepRetired); err != nil {
			return err
		}
		if err := s.bumpChanges(ctx, tx); err != nil {
			return err
		}
		return addAudit(ctx, tx, Audit{
			At: r.At, Actor: r.Actor.Name, IP: r.Actor.IP, Action: ActionSecretRotate, ProjectID: projectID,
			Detail: fmt.Sprintf("version=%d fingerprint=%s overlap=%s", version, r.Fingerprint, r.Overlap),
		})
	})
	if err != nil {
		return 0, fmt.Errorf("store: rotate secret of project %d: %w", projectID, err)
	}
	return version, nil
}

// SetStrict turns strict mode on or off; on fails with identity.ErrNoSecret
// while the project has no current secret.
func (s *Store) SetStrict(ctx context.Context, projectID int64, c identity.StrictChange) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var hasSecret bool
		err := tx.QueryRowContext(ctx, `
			SELECT EXISTS (SELECT 1 FROM identity_secrets WHERE project_id = p.id AND status = 'current')
			FROM projects p WHERE p.id = $1`+s.d.forUpdate, projectID).Scan(&hasSecret)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if c.On && !hasSecret {
			return identity.ErrNoSecret
		}
		if _, err := tx.ExecContext(ctx, `UPDATE projects SET strict = $1 WHERE id = $2`, c.On, projectID); err != nil {
			return err
		}
		if err := s.bumpChanges(ctx, tx); err != nil {
			return err
		}
		action := ActionStrictOff
		if c.On {
			action = ActionStrictOn
		}
		return addAudit(ctx, tx, Audit{At: c.At, Actor: c.Actor.Name, IP: c.Actor.IP, Action: action, ProjectID: projectID})
	})
	if err != nil {
		return fmt.Errorf("store: set strict of project %d: %w", projectID, err)
	}
	return nil
}

// SetSchemes sets the project's accepted token schemes and maximum JWT
// lifetime (see identity.SchemesChange), audited, and counts the change so
// every server applies it within a second.
func (s *Store) SetSchemes(ctx context.Context, projectID int64, c identity.SchemesChange) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var before string
		var beforeLife int64
		err := tx.QueryRowContext(ctx, `SELECT token_schemes, max_token_lifetime FROM projects WHERE id = $1`+s.d.forUpdate, projectID).
			Scan(&before, &beforeLife)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE projects SET token_schemes = $1, max_token_lifetime = $2 WHERE id = $3`,
			c.Schemes.String(), c.MaxLifetime.Milliseconds(), projectID); err != nil {
			return err
		}
		if err := s.bumpChanges(ctx, tx); err != nil {
			return err
		}
		return addAudit(ctx, tx, Audit{
			At: c.At, Actor: c.Actor.Name, IP: c.Actor.IP, Action: ActionSchemesSet, ProjectID: projectID,
			Detail: fmt.Sprintf("schemes=%s max_lifetime=%s (was schemes=%s max_lifetime=%s)", c.Schemes, lifetimeText(c.MaxLifetime),
				before, lifetimeText(time.Duration(beforeLife)*time.Millisecond)),
		})
	})
	if err != nil {
		return fmt.Errorf("store: set token schemes of project %d: %w", projectID, err)
	}
	return nil
}

func lifetimeText(d time.Duration) string {
	if d <= 0 {
		return "none"
	}
	return d.String()
}

// EndOverlap retires the project's previous secret while it is still inside
// its overlap (see identity.OverlapEnd) and returns its version, audited,
// and counts the change so every server stops accepting it within a
// second. Ending an overlap that already ended (twice, from two admins or
// instances at once) fails with identity.ErrNoOverlap and changes nothing:
// the project's row serialises them.
func (s *Store) EndOverlap(ctx context.Context, projectID int64, e identity.OverlapEnd) (int, error) {
	var version int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT id FROM projects WHERE id = $1`+s.d.forUpdate, projectID).Scan(new(int64)); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		at := ms(e.At)
		var fingerprint string
		var until int64
		err := tx.QueryRowContext(ctx, `
			SELECT version, fingerprint, valid_until FROM identity_secrets
			WHERE project_id = $1 AND status = 'previous' AND valid_until > $2`, projectID, at).Scan(&version, &fingerprint, &until)
		if errors.Is(err, sql.ErrNoRows) {
			return identity.ErrNoOverlap
		}
		if err != nil {
			return err
		}
		if e.Version != identity.AnyVersion && e.Version != version {
			return fmt.Errorf("v%d is the previous secret now, asked to end v%d's overlap: %w", version, e.Version, identity.ErrVersionChanged)
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE identity_secrets SET status = 'retired', valid_until = $1
			WHERE project_id = $2 AND version = $3`, at, projectID, version); err != nil {
			return err
		}
		// The rotation kept KeepRetired retired secrets beside this one:
		// the next rotation trims them.
		if err := s.bumpChanges(ctx, tx); err != nil {
			return err
		}
		return addAudit(ctx, tx, Audit{
			At: e.At, Actor: e.Actor.Name, IP: e.Actor.IP, Action: ActionOverlapEnd, ProjectID: projectID,
			Detail: fmt.Sprintf("version=%d fingerprint=%s ended %s before its overlap ran out", version, fingerprint,
				time.Duration(until-at)*time.Millisecond),
		})
	})
	if err != nil {
		return 0, fmt.Errorf("store: end the overlap of project %d: %w", projectID, err)
	}
	return version, nil
}
