package retention_test

import (
	"context"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/fakeclock"
	"github.com/sendora/sendora/internal/retention"
	"github.com/sendora/sendora/internal/store/storetest"
)

// TestSweepOnBothStores: retention deletes exactly the expired events, in
// bounded batches, on SQLite and on PostgreSQL alike (with an event that
// arrived late among the new ones).
func TestSweepOnBothStores(t *testing.T) {
	storetest.EachBackend(t, func(t *testing.T, b storetest.Backend) {
		ctx := context.Background()
		s := b.New(t)
		web := storetest.Project(t, s, "web")
		write(t, s, web.ID, "old", 1200, t0.Add(-10*24*time.Hour))
		write(t, s, web.ID, "new", 300, t0.Add(-time.Hour))
		write(t, s, web.ID, "late", 1, t0.Add(-10*24*time.Hour))
		n, err := retention.New(s, retention.Options{MaxAge: 24 * time.Hour, Now: fakeclock.New(t0).Now, Pause: -1}).Sweep(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n != 1201 {
			t.Errorf("swept %d, want 1201", n)
		}
		ids := stored(t, s, web.ID)
		if len(ids) != 300 {
			t.Fatalf("%d events left, want the 300 new ones", len(ids))
		}
		for _, id := range ids {
			if id[:4] != "new-" {
				t.Errorf("%s survived the sweep", id)
			}
		}
	})
}
