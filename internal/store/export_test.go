package store

import (
	"context"
	"testing"
)

// ProfileForTest returns a profile's stored traits and verified flag.
func (s *Store) ProfileForTest(ctx context.Context, t *testing.T, projectID int64, userID string) (string, bool) {
	t.Helper()
	var traits string
	var verified bool
	if err := s.r.QueryRowContext(ctx, `SELECT traits, last_verified FROM profiles WHERE project_id = $1 AND user_id = $2`, projectID, userID).Scan(&traits, &verified); err != nil {
		t.Fatalf("profile %s: %v", userID, err)
	}
	return traits, verified
}

// CountsForTest sums a project's counters by "outcome/reason".
func (s *Store) CountsForTest(ctx context.Context, t *testing.T, projectID int64) map[string]int64 {
	t.Helper()
	rows, err := s.r.QueryContext(ctx, `SELECT outcome, reason, CAST(SUM(n) AS BIGINT) FROM event_counts WHERE project_id = $1 GROUP BY outcome, reason`, projectID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var o, r string
		var n int64
		if err := rows.Scan(&o, &r, &n); err != nil {
			t.Fatal(err)
		}
		out[o+"/"+r] = n
	}
	return out
}

// JSONPatchForTest runs the database's json_patch(target, patch), the
// merge the profile upsert uses.
func (s *Store) JSONPatchForTest(ctx context.Context, target, patch string) (string, error) {
	var out string
	err := s.r.QueryRowContext(ctx, `SELECT json_patch($1, $2)`, target, patch).Scan(&out)
	return out, err
}
