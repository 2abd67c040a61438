package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// EventRow is one event to store. Traits, Properties and Context are raw
// JSON (nil when absent), stored as sent.
type EventRow struct {
	ProjectID    int64
	MessageID    string
	Type         string
	Event        string
	UserID       string
	AnonymousID  string
	Timestamp    time.Time
	ReceivedAt   time.Time
	Verification string // "verified" or a reason
	Traits       []byte
	Properties   []byte
	Context      []byte
}

// RejectionRow is one refused (Enforced) or report-only event, for the
// Recent rejections viewer. It never holds the token.
type RejectionRow struct {
	ProjectID   int64
	At          time.Time
	Endpoint    string
	BatchIndex  int // -1 for POST /events
	EventType   string
	UserID      string
	AnonymousID string
	Reason      string
	Enforced    bool
	SourceIP    string
	UserAgent   string
}

// Outcomes counted per minute in event_counts.
const (
	OutcomeAccepted   = "accepted"
	OutcomeRejected   = "rejected"
	OutcomeReportOnly = "report_only"
)

// CountKey names one per-minute counter.
type CountKey struct {
	ProjectID int64
	Minute    int64 // Unix minutes
	Outcome   string
	Reason    string
}

// MinuteOf returns t's Unix minute, the counters' bucket.
func MinuteOf(t time.Time) int64 { return t.Unix() / 60 }

// Batch is one group commit: events from many requests, the rejections and
// counters that go with them.
type Batch struct {
	Events     []EventRow
	Rejections []RejectionRow
	// Counts are added to event_counts. WriteBatch itself counts each
	// inserted event as accepted (and as report_only by reason when it did
	// not verify), so a deduplicated retry is never counted twice.
	Counts map[CountKey]int64
}

// WriteBatch commits a batch in one transaction. Inserted[i] reports
// whether Events[i] was new: false means an event with its messageId was
// already stored for the project (a retry), which is not an error.
func (s *Store) WriteBatch(ctx context.Context, b *Batch, inserted []bool) error {
	counts := make(map[CountKey]int64, len(b.Counts)+4)
	for k, n := range b.Counts {
		counts[k] += n
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if len(b.Events) > 0 {
			if err := s.insertEvents(ctx, tx, b.Events, inserted, counts); err != nil {
				return err
			}
		}
		if len(b.Rejections) > 0 {
			if err := s.insertRejections(ctx, tx, b.Rejections); err != nil {
				return err
			}
		}
		return s.addCounts(ctx, tx, counts)
	})
	if err != nil {
		return fmt.Errorf("store: write batch of %d events: %w", len(b.Events), err)
	}
	return nil
}

func (s *Store) insertEvents(ctx context.Context, tx *sql.Tx, events []EventRow, inserted []bool, counts map[CountKey]int64) error {
	ins := tx.StmtContext(ctx, s.insertEvent)
	var profile *sql.Stmt
	for i := range events {
		e := &events[i]
		res, err := ins.ExecContext(ctx, e.ProjectID, e.MessageID, e.Type, nullString(e.Event), nullString(e.UserID),
			nullString(e.AnonymousID), ms(e.Timestamp), ms(e.ReceivedAt), e.Verification,
			nullJSON(e.Traits), nullJSON(e.Properties), nullJSON(e.Context))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if inserted != nil {
			inserted[i] = n == 1
		}
		if n != 1 {
			continue
		}
		minute := MinuteOf(e.ReceivedAt)
		counts[CountKey{e.ProjectID, minute, OutcomeAccepted, ""}]++
		if e.Verification != "verified" {
			counts[CountKey{e.ProjectID, minute, OutcomeReportOnly, e.Verification}]++
		}
		if e.Type == "identify" && e.UserID != "" {
			if profile == nil {
				profile = tx.StmtContext(ctx, s.upsertProfile)
			}
			traits := e.Traits
			if len(traits) == 0 {
				traits = []byte("{}")
			}
			if _, err := profile.ExecContext(ctx, e.ProjectID, e.UserID, string(traits), e.Verification == "verified", ms(e.ReceivedAt)); err != nil {
				return fmt.Errorf("merge profile: %w", err)
			}
		}
	}
	return nil
}

const insertEventSQL = `
	INSERT INTO events (project_id, message_id, type, event, user_id, anonymous_id, timestamp, received_at, verification, traits, properties, context)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (project_id, message_id) DO NOTHING`

// upsertProfileSQL merges traits into the profile with RFC 7396 JSON merge
// patch semantics: new keys are added, existing ones replaced, a null
// removes a key. json_patch is SQLite's; PostgreSQL would use jsonb ||.
const upsertProfileSQL = `
	INSERT INTO profiles (project_id, user_id, traits, last_verified, updated_at)
	VALUES (?1, ?2, json_patch('{}', ?3), ?4, ?5)
	ON CONFLICT (project_id, user_id) DO UPDATE SET
		traits = json_patch(profiles.traits, ?3),
		last_verified = excluded.last_verified,
		updated_at = excluded.updated_at`

func (s *Store) insertRejections(ctx context.Context, tx *sql.Tx, rows []RejectionRow) error {
	ins := tx.StmtContext(ctx, s.insertRejection)
	for i := range rows {
		r := &rows[i]
		idx := sql.NullInt64{Int64: int64(r.BatchIndex), Valid: r.BatchIndex >= 0}
		if _, err := ins.ExecContext(ctx, r.ProjectID, ms(r.At), r.Endpoint, idx, r.EventType, nullString(r.UserID),
			nullString(r.AnonymousID), r.Reason, r.Enforced, r.SourceIP, r.UserAgent); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) addCounts(ctx context.Context, tx *sql.Tx, counts map[CountKey]int64) error {
	if len(counts) == 0 {
		return nil
	}
	up := tx.StmtContext(ctx, s.addCount)
	for k, n := range counts {
		if _, err := up.ExecContext(ctx, k.ProjectID, k.Minute, k.Outcome, k.Reason, n); err != nil {
			return err
		}
	}
	return nil
}

const insertRejectionSQL = `
	INSERT INTO rejections (project_id, at, endpoint, batch_index, event_type, user_id, anonymous_id, reason, enforced, source_ip, user_agent)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const addCountSQL = `
	INSERT INTO event_counts (project_id, minute, outcome, reason, n) VALUES (?, ?, ?, ?, ?)
	ON CONFLICT (project_id, minute, outcome, reason) DO UPDATE SET n = event_counts.n + excluded.n`

func nullJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// PruneRejections deletes all but the newest keep rejections of a project
// and returns how many it deleted.
func (s *Store) PruneRejections(ctx context.Context, projectID int64, keep int) (int64, error) {
	res, err := s.w.ExecContext(ctx, `
		DELETE FROM rejections WHERE project_id = ?1 AND id <= (
			SELECT id FROM rejections WHERE project_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)`,
		projectID, keep)
	if err != nil {
		return 0, fmt.Errorf("store: prune rejections of project %d: %w", projectID, err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// PruneCounts deletes counters older than before.
func (s *Store) PruneCounts(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM event_counts WHERE minute < ?`, MinuteOf(before))
	if err != nil {
		return 0, fmt.Errorf("store: prune counters: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
