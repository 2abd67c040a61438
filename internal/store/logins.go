package store

import (
	"context"
	"fmt"
	"time"
)

// Setup links and login throttling live in the database, not in a
// server's memory, so that every instance sharing it honours the same
// first-run link and counts the same failed sign-ins.

// CreateSetupLink stores a first-run setup link by the SHA-256 of its
// token, until expires. Any instance accepts it; creating an admin ends
// every link.
func (s *Store) CreateSetupLink(ctx context.Context, tokenHash []byte, expires time.Time) error {
	if _, err := s.w.ExecContext(ctx, `INSERT INTO setup_links (token_hash, expires_at) VALUES ($1, $2)`, tokenHash, ms(expires)); err != nil {
		return fmt.Errorf("store: create setup link: %w", err)
	}
	return nil
}

// SetupLinkValid reports whether tokenHash is a setup link's that has not
// expired at now. The lookup is by the hash, never by the token.
func (s *Store) SetupLinkValid(ctx context.Context, tokenHash []byte, now time.Time) (bool, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM setup_links WHERE token_hash = $1 AND expires_at > $2`, tokenHash, ms(now)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: check setup link: %w", err)
	}
	return n > 0, nil
}

// DeleteSetupLinks ends every setup link.
func (s *Store) DeleteSetupLinks(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM setup_links`); err != nil {
		return fmt.Errorf("store: delete setup links: %w", err)
	}
	return nil
}

// ThrottleTake is the outcome of one counted sign-in attempt.
type ThrottleTake struct {
	// Refused: the key was over its limit in the current window; the
	// attempt was not counted.
	Refused bool
	// FirstRefusal: this is the window's first refusal (audit it once).
	FirstRefusal bool
	// WindowStart is the window the attempt was counted in (for
	// GiveBackThrottle); WindowEnd is when the window ends.
	WindowStart, WindowEnd time.Time
}

// TakeThrottle counts one failed sign-in for (scope, key) in fixed windows
// of length window, unless the key already has limit failures in the
// current window, in which case it refuses without counting. It is one
// statement, so instances racing on one key count every attempt exactly
// once.
func (s *Store) TakeThrottle(ctx context.Context, scope, key string, now time.Time, window time.Duration, limit int) (ThrottleTake, error) {
	var t ThrottleTake
	var start, end int64
	var refusals int
	// A window that started at or before ended ($4) is over: start afresh.
	// Every SET expression reads the row as it was before the update.
	err := s.w.QueryRowContext(ctx, `
		INSERT INTO login_throttle (scope, throttle_key, window_start, expires_at, failures, refused, refusals)
		VALUES ($1, $2, $3, $6, 1, $7, 0)
		ON CONFLICT (scope, throttle_key) DO UPDATE SET
			refused = (login_throttle.window_start > $4 AND login_throttle.failures >= $5),
			refusals = CASE WHEN login_throttle.window_start <= $4 THEN 0
				WHEN login_throttle.failures >= $5 THEN login_throttle.refusals + 1
				ELSE login_throttle.refusals END,
			failures = CASE WHEN login_throttle.window_start <= $4 THEN 1
				WHEN login_throttle.failures >= $5 THEN login_throttle.failures
				ELSE login_throttle.failures + 1 END,
			window_start = CASE WHEN login_throttle.window_start <= $4 THEN excluded.window_start ELSE login_throttle.window_start END,
			expires_at = CASE WHEN login_throttle.window_start <= $4 THEN excluded.expires_at ELSE login_throttle.expires_at END
		RETURNING refused, refusals, window_start, expires_at`,
		scope, key, ms(now), ms(now.Add(-window)), limit, ms(now.Add(window)), false).Scan(&t.Refused, &refusals, &start, &end)
	if err != nil {
		return t, fmt.Errorf("store: count a sign-in for %s: %w", scope, err)
	}
	t.FirstRefusal = t.Refused && refusals == 1
	t.WindowStart, t.WindowEnd = fromMS(start), fromMS(end)
	return t, nil
}

// GiveBackThrottle uncounts one failure TakeThrottle counted in the window
// that started at windowStart; nothing when that window has ended since.
func (s *Store) GiveBackThrottle(ctx context.Context, scope, key string, windowStart time.Time) error {
	_, err := s.w.ExecContext(ctx, `
		UPDATE login_throttle SET failures = failures - 1
		WHERE scope = $1 AND throttle_key = $2 AND window_start = $3 AND failures > 0`, scope, key, ms(windowStart))
	if err != nil {
		return fmt.Errorf("store: take back a sign-in for %s: %w", scope, err)
	}
	return nil
}

// ResetThrottle forgets (scope, key)'s failures.
func (s *Store) ResetThrottle(ctx context.Context, scope, key string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM login_throttle WHERE scope = $1 AND throttle_key = $2`, scope, key); err != nil {
		return fmt.Errorf("store: reset sign-in failures for %s: %w", scope, err)
	}
	return nil
}

// SweepExpired deletes up to limit expired throttle windows, setup links
// and admin invitations each, and returns how many it deleted: small
// batches, so a sweep never holds the write lock for long.
func (s *Store) SweepExpired(ctx context.Context, now time.Time, limit int) (int64, error) {
	res, err := s.w.ExecContext(ctx, `
		DELETE FROM login_throttle WHERE (scope, throttle_key) IN (
			SELECT scope, throttle_key FROM login_throttle WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)`, ms(now), limit)
	if err != nil {
		return 0, fmt.Errorf("store: sweep sign-in windows: %w", err)
	}
	n, _ := res.RowsAffected()
	res, err = s.w.ExecContext(ctx, `
		DELETE FROM setup_links WHERE token_hash IN (
			SELECT token_hash FROM setup_links WHERE expires_at <= $1 LIMIT $2)`, ms(now), limit)
	if err != nil {
		return n, fmt.Errorf("store: sweep setup links: %w", err)
	}
	m, _ := res.RowsAffected()
	res, err = s.w.ExecContext(ctx, `
		DELETE FROM admin_invites WHERE token_hash IN (
			SELECT token_hash FROM admin_invites WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)`, ms(now), limit)
	if err != nil {
		return n + m, fmt.Errorf("store: sweep admin invitations: %w", err)
	}
	k, _ := res.RowsAffected()
	return n + m + k, nil
}
