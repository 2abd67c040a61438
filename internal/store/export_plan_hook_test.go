package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// ExplainExportForTest returns the query plans of an export's three
// queries (a chunk, the last chunk, a chunk's end) for a project and since,
// as text by query.
func (s *Store) ExplainExportForTest(ctx context.Context, t *testing.T, projectID int64, since time.Time) map[string]string {
	t.Helper()
	from := ms(since)
	return map[string]string{
		"chunk":    s.explain(ctx, t, exportEventsSQL, projectID, from, 0, from+3_600_000, 1<<62),
		"tail":     s.explain(ctx, t, exportTailSQL, projectID, from, 0),
		"boundary": s.explain(ctx, t, exportBoundarySQL, projectID, from, 0, exportChunk-1),
	}
}

func (s *Store) explain(ctx context.Context, t *testing.T, query string, args ...any) string {
	t.Helper()
	q := "EXPLAIN QUERY PLAN " + query
	if s.pg != nil {
		q = "EXPLAIN " + query
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		t.Fatalf("explain: %v", err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&b, vals[len(vals)-1])
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// AnalyzeForTest refreshes the planner's statistics.
func (s *Store) AnalyzeForTest(ctx context.Context, t *testing.T) {
	t.Helper()
	if _, err := s.w.ExecContext(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
}
