package store

import (
	"context"
	"testing"
	"time"
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

// SetCountShardForTest sets the shard of the per-minute counters s adds to.
func (s *Store) SetCountShardForTest(shard int16) { s.countShard = shard }

// HoldCountsForTest adds one accepted event to a project's counter of the
// current minute in a transaction it keeps open, holding the counter's row
// as a commit in progress does, until release.
func (s *Store) HoldCountsForTest(ctx context.Context, t *testing.T, projectID int64) (release func()) {
	t.Helper()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.addCounts(ctx, tx, map[CountKey]int64{{ProjectID: projectID, Minute: MinuteOf(time.Now()), Outcome: OutcomeAccepted}: 1}); err != nil {
		tx.Rollback()
		t.Fatal(err)
	}
	return func() {
		if err := tx.Commit(); err != nil {
			t.Error(err)
		}
	}
}
