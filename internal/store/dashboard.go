package store

import (
	"context"
	"fmt"
	"time"
)

// Rejection is one row of the Recent rejections viewer.
type Rejection struct {
	ID          int64
	At          time.Time
	Endpoint    string
	BatchIndex  int // -1 for POST /events
	EventType   string
	UserID      string
	AnonymousID string
	Reason      string
	Enforced    bool
}

// RejectionFilter selects a page of a project's rejections, newest first.
type RejectionFilter struct {
	ProjectID int64
	Reason    string // "" for every reason
	BeforeID  int64  // 0 for the newest; else rows with a smaller id
	Limit     int
}

// Rejections returns a page of a project's rejections, newest first. The
// pages are keyed by id, so rows arriving while an admin pages through do
// not shift the older pages.
func (s *Store) Rejections(ctx context.Context, f RejectionFilter) ([]Rejection, error) {
	before := f.BeforeID
	if before <= 0 {
		before = 1<<63 - 1
	}
	q := `SELECT id, at, endpoint, COALESCE(batch_index, -1), event_type, COALESCE(user_id, ''), COALESCE(anonymous_id, ''), reason, enforced
		FROM rejections WHERE project_id = $1 AND id < $2`
	args := []any{f.ProjectID, before}
	if f.Reason != "" {
		args = append(args, f.Reason)
		q += fmt.Sprintf(` AND reason = $%d`, len(args))
	}
	args = append(args, f.Limit)
	q += fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args))
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: rejections of project %d: %w", f.ProjectID, err)
	}
	defer rows.Close()
	var out []Rejection
	for rows.Next() {
		var r Rejection
		var at int64
		if err := rows.Scan(&r.ID, &at, &r.Endpoint, &r.BatchIndex, &r.EventType, &r.UserID, &r.AnonymousID, &r.Reason, &r.Enforced); err != nil {
			return nil, fmt.Errorf("store: rejections of project %d: %w", f.ProjectID, err)
		}
		r.At = fromMS(at)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: rejections of project %d: %w", f.ProjectID, err)
	}
	return out, nil
}

// HourCounts is one hour of a project's event counters.
type HourCounts struct {
	Hour       time.Time // the start of the hour, UTC
	Accepted   int64     // every stored event, verified or report-only
	ReportOnly int64     // accepted events that would be rejected in strict mode
	Rejected   int64     // events refused in strict mode
}

// HourlyCounts returns one entry per hour from the hour holding since up to
// and including the hour holding until, oldest first; hours without events
// are there with zeros.
func (s *Store) HourlyCounts(ctx context.Context, projectID int64, since, until time.Time) ([]HourCounts, error) {
	first := since.UTC().Truncate(time.Hour)
	last := until.UTC().Truncate(time.Hour)
	var out []HourCounts
	for h := first; !h.After(last); h = h.Add(time.Hour) {
		out = append(out, HourCounts{Hour: h})
	}
	if len(out) == 0 {
		return nil, nil
	}
	rows, err := s.r.QueryContext(ctx, `
		SELECT minute / 60, outcome, CAST(SUM(n) AS BIGINT) FROM event_counts
		WHERE project_id = $1 AND minute >= $2 AND minute < $3
		GROUP BY minute / 60, outcome`,
		projectID, MinuteOf(first), MinuteOf(last.Add(time.Hour)))
	if err != nil {
		return nil, fmt.Errorf("store: hourly counts of project %d: %w", projectID, err)
	}
	defer rows.Close()
	firstHour := first.Unix() / 3600
	for rows.Next() {
		var hour, n int64
		var outcome string
		if err := rows.Scan(&hour, &outcome, &n); err != nil {
			return nil, fmt.Errorf("store: hourly counts of project %d: %w", projectID, err)
		}
		i := hour - firstHour
		if i < 0 || i >= int64(len(out)) {
			continue
		}
		switch outcome {
		case OutcomeAccepted:
			out[i].Accepted += n
		case OutcomeReportOnly:
			out[i].ReportOnly += n
		case OutcomeRejected:
			out[i].Rejected += n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: hourly counts of project %d: %w", projectID, err)
	}
	return out, nil
}

// OutcomeCount is a total of one outcome and reason.
type OutcomeCount struct {
	Outcome string
	Reason  string // "" for accepted
	N       int64
}

// OutcomeTotals sums a project's counters since a time by outcome and
// reason, largest first: what the strict-mode preview is computed from.
func (s *Store) OutcomeTotals(ctx context.Context, projectID int64, since time.Time) ([]OutcomeCount, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT outcome, reason, CAST(SUM(n) AS BIGINT) AS total FROM event_counts
		WHERE project_id = $1 AND minute >= $2
		GROUP BY outcome, reason ORDER BY total DESC, outcome, reason`, projectID, MinuteOf(since))
	if err != nil {
		return nil, fmt.Errorf("store: outcome totals of project %d: %w", projectID, err)
	}
	defer rows.Close()
	var out []OutcomeCount
	for rows.Next() {
		var c OutcomeCount
		if err := rows.Scan(&c.Outcome, &c.Reason, &c.N); err != nil {
			return nil, fmt.Errorf("store: outcome totals of project %d: %w", projectID, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: outcome totals of project %d: %w", projectID, err)
	}
	return out, nil
}
