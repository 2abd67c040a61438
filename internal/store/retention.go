package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// OldestEventReceivedAt returns when the oldest stored event (the lowest
// id) was received, and false when there are no events. It reads, so a
// retention pass with nothing to delete never takes the write lock.
func (s *Store) OldestEventReceivedAt(ctx context.Context) (time.Time, bool, error) {
	var recv int64
	err := s.r.QueryRowContext(ctx, `SELECT received_at FROM events ORDER BY id LIMIT 1`).Scan(&recv)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("store: oldest event: %w", err)
	}
	return fromMS(recv), true, nil
}

// DeleteEventsBefore looks at the window of the limit events with the
// lowest ids above afterID and deletes those received before cutoff. It
// returns how many it deleted and the window's last id (0 when there are no
// events above afterID), so a caller walks the table from the oldest a
// window at a time.
//
// It walks the primary key because events has no received_at index, on
// purpose: ids grow with arrival, so the oldest events are the lowest ids,
// and an index would cost every insert on the hot path. Each call is one
// short write transaction on the writer connection, which the group-commit
// writer gets back as soon as it ends.
func (s *Store) DeleteEventsBefore(ctx context.Context, cutoff time.Time, afterID int64, limit int) (deleted, lastID int64, err error) {
	var last sql.NullInt64
	err = s.r.QueryRowContext(ctx, `SELECT max(id) FROM (SELECT id FROM events WHERE id > $1 ORDER BY id LIMIT $2) AS w`,
		afterID, limit).Scan(&last)
	if err != nil {
		return 0, 0, fmt.Errorf("store: delete old events: find window after id %d: %w", afterID, err)
	}
	if !last.Valid {
		return 0, 0, nil
	}
	res, err := s.w.ExecContext(ctx, `DELETE FROM events WHERE id > $1 AND id <= $2 AND received_at < $3`,
		afterID, last.Int64, ms(cutoff))
	if err != nil {
		return 0, afterID, fmt.Errorf("store: delete events received before %s (ids %d to %d): %w",
			cutoff.UTC().Format(time.RFC3339), afterID+1, last.Int64, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, afterID, fmt.Errorf("store: delete old events: %w", err)
	}
	return n, last.Int64, nil
}
