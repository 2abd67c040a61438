package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The Events page reads the events table without an index of its own.
//
// The table is append-only by design (dedup_sqlite.go): every index on it
// costs every insert, and one keyed by user_id, type or verification takes
// a random page write per event, the collapse the dedup index removed. So
// every listing walks the primary key (ids grow with arrival) newest first,
// inside a window of at most EventScanWindow ids: a page costs at most that
// many rows whatever the filters and however large the table, and when the
// window ends before the page is full the caller says so ("searched the
// newest N events") and offers the next window.

// EventScanWindow is how many event ids one listing examines at most.
const EventScanWindow = 100_000

// VerificationReportOnly filters the events that did not verify, whatever
// the reason.
const VerificationReportOnly = "report_only"

// EventFilter selects a page of a project's events, newest first.
type EventFilter struct {
	ProjectID int64
	UserID    string // "" for any
	Type      string // "" for any
	// Verification is "" for any, "verified", VerificationReportOnly, or
	// one reason.
	Verification string
	MessageID    string // "" for any
	// BeforeID is an exclusive upper bound on ids: 0 for the newest events,
	// else the previous page's last id or the previous window's start.
	BeforeID int64
	// Window bounds the ids examined (EventScanWindow when 0).
	Window int64
	Limit  int
}

// EventSummary is one row of the Events page.
type EventSummary struct {
	ID           int64
	MessageID    string
	Type         string
	Event        string
	UserID       string
	AnonymousID  string
	Timestamp    time.Time
	ReceivedAt   time.Time
	Verification string
}

// EventPage is what one window of the events table held.
type EventPage struct {
	Events []EventSummary
	// From and Before are the window examined: ids from From (inclusive)
	// to Before (exclusive). When the page has fewer than Limit events,
	// every event of the window was examined.
	From, Before int64
	// FromTime is the receive time of the oldest event of the window.
	FromTime time.Time
	// Older reports that events older than the window exist.
	Older bool
}

const eventSummaryColumns = `id, message_id, type, COALESCE(event, ''), COALESCE(user_id, ''), COALESCE(anonymous_id, ''), timestamp, received_at, verification`

// Events returns up to f.Limit of a project's events matching f, newest
// first, from the window of ids below f.BeforeID.
func (s *Store) Events(ctx context.Context, f EventFilter) (EventPage, error) {
	var page EventPage
	fail := func(err error) (EventPage, error) {
		return EventPage{}, fmt.Errorf("store: events of project %d: %w", f.ProjectID, err)
	}
	window := f.Window
	if window <= 0 {
		window = EventScanWindow
	}
	before := f.BeforeID
	if before <= 0 {
		var last sql.NullInt64
		if err := s.r.QueryRowContext(ctx, `SELECT max(id) FROM events`).Scan(&last); err != nil {
			return fail(err)
		}
		if !last.Valid {
			return page, nil
		}
		before = last.Int64 + 1
	}
	page.Before, page.From = before, max(before-window, 0)
	// A value PostgreSQL cannot hold (typed into the dashboard) matches
	// nothing stored: the window is searched all the same, in no time.
	if s.canHold(f.UserID) && s.canHold(f.Type) && s.canHold(f.Verification) && s.canHold(f.MessageID) {
		if err := s.eventRows(ctx, f, &page); err != nil {
			return fail(err)
		}
	}
	var first sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT received_at FROM events WHERE id >= $1 ORDER BY id LIMIT 1`, page.From).Scan(&first); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fail(err)
	}
	page.FromTime = fromMS(first.Int64)
	var older int
	err := s.r.QueryRowContext(ctx, `SELECT 1 FROM events WHERE id < $1 ORDER BY id DESC LIMIT 1`, page.From).Scan(&older)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fail(err)
	}
	page.Older = err == nil
	return page, nil
}

// eventRows reads the window's matching events into page.
func (s *Store) eventRows(ctx context.Context, f EventFilter, page *EventPage) error {
	q, args := eventsQuery(f, page.From, page.Before)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var e EventSummary
		var ts, at int64
		if err := rows.Scan(&e.ID, &e.MessageID, &e.Type, &e.Event, &e.UserID, &e.AnonymousID, &ts, &at, &e.Verification); err != nil {
			return err
		}
		e.Timestamp, e.ReceivedAt = fromMS(ts), fromMS(at)
		page.Events = append(page.Events, e)
	}
	return rows.Err()
}

// eventsQuery is the SQL of one window of Events: a range of the primary
// key, newest first, the filters applied to the rows it reads.
func eventsQuery(f EventFilter, from, before int64) (string, []any) {
	q := `SELECT ` + eventSummaryColumns + ` FROM events WHERE id >= $1 AND id < $2 AND project_id = $3`
	args := []any{from, before, f.ProjectID}
	add := func(cond string, v any) {
		args = append(args, v)
		q += fmt.Sprintf(" AND "+cond, len(args))
	}
	if f.UserID != "" {
		add("user_id = $%d", f.UserID)
	}
	if f.Type != "" {
		add("type = $%d", f.Type)
	}
	switch f.Verification {
	case "":
	case VerificationReportOnly:
		q += ` AND verification <> 'verified'`
	default:
		add("verification = $%d", f.Verification)
	}
	if f.MessageID != "" {
		add("message_id = $%d", f.MessageID)
	}
	args = append(args, f.Limit)
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT $%d", len(args))
	return q, args
}

// EventIDAt returns the smallest id at which every event stored from there
// on was received at or after t, as far as a binary search over the ids
// (which grow with arrival) can tell: about 30 lookups of the primary key
// whatever the table's size. It returns the next id to be assigned when no
// stored event was received at or after t.
func (s *Store) EventIDAt(ctx context.Context, t time.Time) (int64, error) {
	var lo, hi sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT min(id), max(id) FROM events`).Scan(&lo, &hi); err != nil {
		return 0, fmt.Errorf("store: event at %s: %w", t, err)
	}
	if !lo.Valid {
		return 1, nil
	}
	want := ms(t)
	// P(x): the first event with an id of at least x was received at or
	// after t (or there is none). Find the least x where P holds.
	l, h := lo.Int64, hi.Int64+1
	for l < h {
		mid := l + (h-l)/2
		var at int64
		err := s.r.QueryRowContext(ctx, `SELECT received_at FROM events WHERE id >= $1 ORDER BY id LIMIT 1`, mid).Scan(&at)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("store: event at %s: %w", t, err)
		}
		if err != nil || at >= want {
			h = mid
		} else {
			l = mid + 1
		}
	}
	return l, nil
}

// LoggedEvent is one event with everything stored of it.
type LoggedEvent struct {
	EventSummary
	Traits, Properties, Context string // raw JSON, "" when absent
}

// Event returns the event with id in the project.
func (s *Store) Event(ctx context.Context, projectID, id int64) (LoggedEvent, error) {
	var e LoggedEvent
	var ts, at int64
	var traits, props, evctx sql.NullString
	err := s.r.QueryRowContext(ctx, `SELECT `+eventSummaryColumns+`, traits, properties, context FROM events WHERE id = $1 AND project_id = $2`,
		id, projectID).Scan(&e.ID, &e.MessageID, &e.Type, &e.Event, &e.UserID, &e.AnonymousID, &ts, &at, &e.Verification, &traits, &props, &evctx)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return e, fmt.Errorf("store: event %d of project %d: %w", id, projectID, err)
	}
	e.Timestamp, e.ReceivedAt = fromMS(ts), fromMS(at)
	e.Traits, e.Properties, e.Context = traits.String, props.String, evctx.String
	return e, nil
}
