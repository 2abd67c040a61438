package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
)

// EventRow is one event to store. Traits, Properties and Context are raw
// JSON (nil when absent), stored as sent.
type EventRow struct {
	ProjectID int64
	MessageID string
	// ServerID says MessageID was assigned by the server (the client sent
	// none): it is unique by construction and never a dedup key, so the
	// event must be stored, never taken for a retry.
	ServerID     bool
	Type         string
	Event        string
	UserID       string
	AnonymousID  string
	Timestamp    time.Time
	ReceivedAt   time.Time
	Verification string // "verified" or a reason
	// Token is what the event's identity token was, for the token
	// counters; never the token itself.
	Token      TokenUse
	Traits     []byte
	Properties []byte
	Context    []byte
	// SignedTraits are the top-level keys of Traits whose values came from
	// the traits claim of the event's verified JWT (they override what the
	// client sent), so the profile records them as signed. Empty for
	// hmac_v1 events, unverified events and events without that claim.
	SignedTraits []string
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
	// SQLite's dedup index is read inside the transaction and learns the
	// new keys only once it has committed: hold it for the whole write.
	d, err := s.dedupIndex(ctx)
	if err != nil {
		return err
	}
	if d != nil {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.fresh.reset()
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
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
	if d != nil {
		d.apply()
	}
	return nil
}

// TryEvents writes events in a transaction and rolls it back: nil means
// they could be stored, an error is what storing them would fail with. The
// ingestion writer uses it to find which events of a failed group commit
// cause a deterministic error, without committing anything until it knows.
func (s *Store) TryEvents(ctx context.Context, events []EventRow) error {
	d, err := s.dedupIndex(ctx)
	if err != nil {
		return err
	}
	if d != nil { // the keys a rolled-back try inserts are forgotten
		d.mu.Lock()
		defer d.mu.Unlock()
		d.fresh.reset()
		defer d.fresh.reset()
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: try %d events: %w", len(events), err)
	}
	defer tx.Rollback()
	if err := s.insertEvents(ctx, tx, events, nil, map[CountKey]int64{}); err != nil {
		return fmt.Errorf("store: try %d events: %w", len(events), err)
	}
	return nil
}

// insertChunk is how many events one INSERT statement carries. Multi-row
// inserts pay the per-statement cost (bind, step, reset) once per chunk
// instead of once per event.
const insertChunk = 32

const eventColumns = 13

// insertEvents inserts events with the dialect's multi-row insert, which
// fills inserted, then counts the new ones and merges their traits into
// profiles.
func (s *Store) insertEvents(ctx context.Context, tx *sql.Tx, events []EventRow, inserted []bool, counts map[CountKey]int64) error {
	if inserted == nil {
		inserted = make([]bool, len(events))
	}
	if err := s.d.insertEvents(s, ctx, tx, events, inserted); err != nil {
		return err
	}

	// Profiles are merged in (project, user) order, each user's identifies
	// in arrival order, so two instances merging the same users lock their
	// rows in one order and never deadlock.
	var identifies []int
	var tokens tokenCounts
	for i := range events {
		e := &events[i]
		if !inserted[i] {
			continue
		}
		minute := MinuteOf(e.ReceivedAt)
		counts[CountKey{e.ProjectID, minute, OutcomeAccepted, ""}]++
		if e.Verification != "verified" {
			counts[CountKey{e.ProjectID, minute, OutcomeReportOnly, e.Verification}]++
		}
		tokens = tokens.add(e, minute)
		if e.Type == "identify" && e.UserID != "" {
			identifies = append(identifies, i)
		}
	}
	if err := s.addTokenCounts(ctx, tx, tokens); err != nil {
		return err
	}
	if len(identifies) == 0 {
		return nil
	}
	slices.SortStableFunc(identifies, func(a, b int) int {
		return cmp.Or(cmp.Compare(events[a].ProjectID, events[b].ProjectID), strings.Compare(events[a].UserID, events[b].UserID))
	})
	return s.mergeProfiles(ctx, tx, events, identifies)
}

// eventArgs appends the insert's arguments for the events of a chunk.
func eventArgs(args []any, chunk []EventRow) []any {
	for i := range chunk {
		e := &chunk[i]
		args = append(args, e.ProjectID, e.MessageID, e.Type, nullString(e.Event), nullString(e.UserID),
			nullString(e.AnonymousID), ms(e.Timestamp), ms(e.ReceivedAt), e.Verification,
			nullJSON(e.Traits), nullJSON(e.Properties), nullJSON(e.Context), signedTraitsArg(e))
	}
	return args
}

type eventKey struct {
	project int64
	id      string
}

// insertManySQL is the multi-row insert of size events, followed by the
// dialect's suffix.
func (s *Store) insertManySQL(size int) string {
	var b strings.Builder
	b.WriteString(insertEventHead)
	for i := range size {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for c := range eventColumns {
			if c > 0 {
				b.WriteByte(',')
			}
			if s.d == sqliteDialect {
				// Nameless: for each of a statement's parameters modernc
				// asks SQLite for its name, a walk of the statement's list
				// of names; with 384 "$N" names that was a fifth of the
				// insert's CPU. "?" parameters have no list to walk.
				b.WriteByte('?')
			} else {
				fmt.Fprintf(&b, "$%d", i*eventColumns+c+1)
			}
		}
		b.WriteByte(')')
	}
	b.WriteString(s.d.insertSuffix)
	return b.String()
}

const insertEventHead = `INSERT INTO events (project_id, message_id, type, event, user_id, anonymous_id, timestamp, received_at, verification, traits, properties, context, signed_traits) VALUES `

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
	// In key order, so that instances adding to the same counters lock
	// their rows in one order and never deadlock.
	keys := make([]CountKey, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b CountKey) int {
		return cmp.Or(cmp.Compare(a.ProjectID, b.ProjectID), cmp.Compare(a.Minute, b.Minute),
			strings.Compare(a.Outcome, b.Outcome), strings.Compare(a.Reason, b.Reason))
	})
	up := tx.StmtContext(ctx, s.addCount)
	for _, k := range keys {
		if _, err := up.ExecContext(ctx, k.ProjectID, k.Minute, k.Outcome, k.Reason, counts[k], s.countShard); err != nil {
			return err
		}
	}
	return nil
}

// The rejections and counters of a commit are written only while their
// project's row exists (SELECT … FROM projects): a project deleted while
// requests for it were in flight (its key still cached for up to a second
// on another instance) must not fail the foreign key, and with it every
// group commit its queued counters join (TestCountersOfADeletedProject).
// The casts give PostgreSQL the parameters' types, which a SELECT list
// does not infer from the target columns.
const insertRejectionSQL = `
	INSERT INTO rejections (project_id, at, endpoint, batch_index, event_type, user_id, anonymous_id, reason, enforced, source_ip, user_agent)
	SELECT id, CAST($2 AS BIGINT), CAST($3 AS TEXT), CAST($4 AS INTEGER), CAST($5 AS TEXT), CAST($6 AS TEXT), CAST($7 AS TEXT),
	       CAST($8 AS TEXT), CAST($9 AS BOOLEAN), CAST($10 AS TEXT), CAST($11 AS TEXT)
	FROM projects WHERE id = $1`

const addCountSQL = `
	INSERT INTO event_counts (project_id, minute, outcome, reason, n, shard)
	SELECT id, CAST($2 AS BIGINT), CAST($3 AS TEXT), CAST($4 AS TEXT), CAST($5 AS BIGINT), CAST($6 AS SMALLINT)
	FROM projects WHERE id = $1
	ON CONFLICT (project_id, minute, outcome, reason, shard) DO UPDATE SET n = event_counts.n + excluded.n`

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
		DELETE FROM rejections WHERE project_id = $1 AND id <= (
			SELECT id FROM rejections WHERE project_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)`,
		projectID, keep)
	if err != nil {
		return 0, fmt.Errorf("store: prune rejections of project %d: %w", projectID, err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// PruneCounts deletes counters older than before.
func (s *Store) PruneCounts(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	for _, table := range []string{"event_counts", "token_counts"} {
		res, err := s.w.ExecContext(ctx, `DELETE FROM `+table+` WHERE minute < $1`, MinuteOf(before))
		if err != nil {
			return n, fmt.Errorf("store: prune counters: %w", err)
		}
		d, _ := res.RowsAffected()
		n += d
	}
	return n, nil
}
