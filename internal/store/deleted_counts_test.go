package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

// TestCountersOfADeletedProject: requests for a project keep arriving for
// up to a second after it is deleted (another instance's key cache, a
// running server after a CLI delete), and in strict mode they are refused:
// the writer queues their rejections and counters for its next commit. By
// then the purge may have removed the project's row. The commit must not
// fail on the foreign key, which would answer 503 to every request it
// carries, of every project, and be retried with the same counters: those
// of a project that is gone are dropped, the rest is committed.
func TestCountersOfADeletedProject(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		live := storetest.Project(t, s, "blog")
		gone := storetest.Project(t, s, "shop")
		now := time.Now()
		if err := s.DeleteProject(ctx, gone.ID, "shop", byAdmin(now)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PurgeDeletedProjects(ctx, 100, func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
		minute := store.MinuteOf(now)
		refused := func(p int64) store.RejectionRow {
			return store.RejectionRow{ProjectID: p, At: now, Endpoint: "/events", BatchIndex: -1, EventType: "track", Reason: "missing_token", Enforced: true}
		}
		b := &store.Batch{
			Events:     []store.EventRow{trackRow(live.ID, uuid4(), now)},
			Rejections: []store.RejectionRow{refused(gone.ID), refused(live.ID)},
			Counts: map[store.CountKey]int64{
				{ProjectID: gone.ID, Minute: minute, Outcome: store.OutcomeRejected, Reason: "missing_token"}: 3,
				{ProjectID: live.ID, Minute: minute, Outcome: store.OutcomeRejected, Reason: "missing_token"}: 2,
			},
		}
		inserted := make([]bool, 1)
		if err := s.WriteBatch(ctx, b, inserted); err != nil {
			t.Fatalf("a commit carrying a deleted project's counters: %v", err)
		}
		if !inserted[0] || countEvents(t, s, live.ID) != 1 {
			t.Error("the live project's event was not stored")
		}
		got := s.CountsForTest(ctx, t, live.ID)
		if got["accepted/"] != 1 || got["rejected/missing_token"] != 2 {
			t.Errorf("the live project's counters = %v, want accepted 1 and rejected/missing_token 2", got)
		}
		if got := s.CountsForTest(ctx, t, gone.ID); len(got) != 0 {
			t.Errorf("counters of the deleted project were written: %v", got)
		}
		rows, err := s.Rejections(ctx, store.RejectionFilter{ProjectID: live.ID, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || !rows[0].Enforced || rows[0].Reason != "missing_token" {
			t.Errorf("the live project's rejections = %+v, want the one refused event", rows)
		}
	})
}
