package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// StoredEvent is an event as stored, for export.
type StoredEvent struct {
	ID           int64
	MessageID    string
	Type         string
	Event        string
	UserID       string
	AnonymousID  string
	Timestamp    time.Time
	ReceivedAt   time.Time
	Verification string
	Traits       []byte
	Properties   []byte
	Context      []byte
}

// exportChunk is how many rows one read transaction covers. Short reads let
// WAL checkpoints proceed while a long export runs beside ingestion.
const exportChunk = 5_000

// ExportEvents calls fn for each of the project's events received at or
// after since, in the order they were stored. It reads in chunks, so memory
// stays constant however many events there are. The *StoredEvent and its
// byte slices are reused: fn must copy what it keeps.
func (s *Store) ExportEvents(ctx context.Context, projectID int64, since time.Time, fn func(*StoredEvent) error) error {
	var after int64
	var e StoredEvent
	for {
		n := 0
		err := func() error {
			rows, err := s.r.QueryContext(ctx, `
				SELECT id, message_id, type, COALESCE(event, ''), COALESCE(user_id, ''), COALESCE(anonymous_id, ''),
				       timestamp, received_at, verification, traits, properties, context
				FROM events WHERE project_id = $1 AND id > $2 AND received_at >= $3
				ORDER BY id LIMIT $4`, projectID, after, ms(since), exportChunk)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var ts, recv int64
				var traits, props, ctxt sql.RawBytes
				if err := rows.Scan(&e.ID, &e.MessageID, &e.Type, &e.Event, &e.UserID, &e.AnonymousID,
					&ts, &recv, &e.Verification, &traits, &props, &ctxt); err != nil {
					return err
				}
				// Not fromMS: 0 is a real time here, 1970-01-01, the
				// earliest an event's time is clamped to.
				e.Timestamp, e.ReceivedAt = time.UnixMilli(ts).UTC(), time.UnixMilli(recv).UTC()
				e.Traits, e.Properties, e.Context = traits, props, ctxt
				after = e.ID
				n++
				if err := fn(&e); err != nil {
					return err
				}
			}
			return rows.Err()
		}()
		if err != nil {
			return fmt.Errorf("store: export events of project %d: %w", projectID, err)
		}
		if n < exportChunk {
			return nil
		}
	}
}

// CountEvents returns how many events the project has stored.
func (s *Store) CountEvents(ctx context.Context, projectID int64) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM events WHERE project_id = $1`, projectID).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count events of project %d: %w", projectID, err)
	}
	return n, nil
}
