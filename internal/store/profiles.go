package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Profile is the traits identify events merged for one user.
type Profile struct {
	UserID       string
	Traits       []byte // a JSON object
	LastVerified bool   // whether the last identify carried a verified token
	UpdatedAt    time.Time
}

// Profile returns the profile of (project, userID).
func (s *Store) Profile(ctx context.Context, projectID int64, userID string) (Profile, error) {
	p := Profile{UserID: userID}
	var updated int64
	err := s.r.QueryRowContext(ctx, `SELECT traits, last_verified, updated_at FROM profiles WHERE project_id = $1 AND user_id = $2`,
		projectID, userID).Scan(&p.Traits, &p.LastVerified, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return p, fmt.Errorf("store: profile of %q in project %d: %w", userID, projectID, err)
	}
	p.UpdatedAt = fromMS(updated)
	return p, nil
}
