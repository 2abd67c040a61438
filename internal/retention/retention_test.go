package retention_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sendora/sendora/internal/fakeclock"
	"github.com/sendora/sendora/internal/ingest"
	"github.com/sendora/sendora/internal/retention"
	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// write stores n events received at recv, with messageIds prefix-0…
func write(t *testing.T, s *store.Store, projectID int64, prefix string, n int, recv time.Time) {
	t.Helper()
	b := &store.Batch{}
	for i := range n {
		b.Events = append(b.Events, store.EventRow{ProjectID: projectID, MessageID: fmt.Sprintf("%s-%d", prefix, i), Type: "track",
			Event: "E", UserID: "u", Timestamp: recv, ReceivedAt: recv, Verification: "verified"})
	}
	if err := s.WriteBatch(context.Background(), b, nil); err != nil {
		t.Fatal(err)
	}
}

// stored returns the project's messageIds, oldest first.
func stored(t *testing.T, s *store.Store, projectID int64) []string {
	t.Helper()
	var ids []string
	err := s.ExportEvents(context.Background(), projectID, time.Time{}, func(e *store.StoredEvent) error {
		ids = append(ids, e.MessageID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestSweepDeletesOnlyExpiredEvents(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	web := storetest.Project(t, s, "web")
	app := storetest.Project(t, s, "app")
	clk := fakeclock.New(t0)

	// 2,500 events ten days old (more than two batches), across two
	// projects; then 1,500 from an hour ago; then one more ten days old that
	// arrived out of order, after the new ones (its request was slow).
	write(t, s, web.ID, "old-web", 1500, t0.Add(-10*24*time.Hour))
	write(t, s, app.ID, "old-app", 1000, t0.Add(-10*24*time.Hour+time.Minute))
	write(t, s, web.ID, "new", 1500, t0.Add(-time.Hour))
	write(t, s, web.ID, "late", 1, t0.Add(-10*24*time.Hour))

	sw := retention.New(s, retention.Options{
		MaxAge: 7 * 24 * time.Hour, Batch: 1000, Now: clk.Now, Pause: -1,
	})
	n, err := sw.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2500 {
		t.Errorf("first sweep deleted %d, want 2500", n)
	}
	ids := stored(t, s, web.ID)
	// Export order is by receivedAt: the late one (received ten days
	// ago, stored last) comes first.
	if len(ids) != 1501 || ids[0] != "late-0" || ids[1] != "new-0" || ids[1500] != "new-1499" {
		t.Errorf("web keeps %d events (%v … %v), want the late one and new-0…new-1499", len(ids), ids[:min(2, len(ids))], ids[max(0, len(ids)-2):])
	}
	if ids := stored(t, s, app.ID); len(ids) != 0 {
		t.Errorf("app keeps %d expired events", len(ids))
	}

	// Nothing newly expired: a sweep deletes nothing and only reads.
	if n, err := sw.Sweep(ctx); err != nil || n != 0 {
		t.Errorf("second sweep = %d, %v; want 0", n, err)
	}

	// A week later everything left has expired, the straggler included.
	clk.Advance(7 * 24 * time.Hour)
	if n, err := sw.Sweep(ctx); err != nil || n != 1501 {
		t.Errorf("sweep a week later = %d, %v; want 1501", n, err)
	}
	if ids := stored(t, s, web.ID); len(ids) != 0 {
		t.Errorf("web keeps %d events after all expired", len(ids))
	}
	if n, err := sw.Sweep(ctx); err != nil || n != 0 {
		t.Errorf("sweep of an empty table = %d, %v", n, err)
	}
}

// TestDeleteEventsBeforeIsBounded checks that one statement never deletes
// more than its window, however much has expired: that bound is what keeps
// the writer's wait short.
func TestDeleteEventsBeforeIsBounded(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	p := storetest.Project(t, s, "web")
	write(t, s, p.ID, "old", 250, t0.Add(-48*time.Hour))

	var after int64
	var batches []int64
	for {
		n, last, err := s.DeleteEventsBefore(ctx, t0, after, 100)
		if err != nil {
			t.Fatal(err)
		}
		if last == 0 {
			break
		}
		batches = append(batches, n)
		after = last
	}
	if fmt.Sprint(batches) != "[100 100 50]" {
		t.Errorf("batches = %v, want [100 100 50]", batches)
	}
}

// TestRunReportsSweepsAndIngestionContinues runs the background loop over
// an expired backlog while the group-commit writer takes new events on
// the same database, and checks that every new event commits and every
// expired one goes.
func TestRunReportsSweepsAndIngestionContinues(t *testing.T) {
	s := storetest.New(t)
	p := storetest.Project(t, s, "web")
	clk := fakeclock.New(t0)
	write(t, s, p.ID, "old", 5000, t0.Add(-30*24*time.Hour))

	w := ingest.NewWriter(s, ingest.WriterOptions{Now: clk.Now})
	t.Cleanup(func() { w.Close(context.Background()) })

	type sweep struct {
		deleted int64
		err     error
	}
	swept := make(chan sweep, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		retention.New(s, retention.Options{
			MaxAge: 24 * time.Hour, Batch: 500, Every: time.Hour, Now: clk.Now,
			OnSweep: func(n int64, _ time.Duration, err error) {
				select {
				case swept <- sweep{n, err}:
				default:
				}
			},
		}).Run(ctx)
	}()

	// Ingest while the first sweep runs.
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				rows := []store.EventRow{{ProjectID: p.ID, MessageID: fmt.Sprintf("live-%d-%d", g, i), Type: "track", Event: "E",
					Timestamp: clk.Now(), ReceivedAt: clk.Now(), Verification: "verified"}}
				if err := w.Submit(context.Background(), rows, nil, make([]ingest.Result, 1)); err != nil {
					t.Errorf("submit during retention: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got := <-swept
	cancel()
	<-done
	if got.err != nil || got.deleted != 5000 {
		t.Errorf("first sweep = %d, %v; want 5000 deleted", got.deleted, got.err)
	}
	ids := stored(t, s, p.ID)
	if len(ids) != 200 {
		t.Errorf("%d events left, want the 200 live ones", len(ids))
	}
	for _, id := range ids {
		if id[:4] != "live" {
			t.Errorf("expired event %s survived", id)
			break
		}
	}
}

func TestNewRefusesNoAge(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New with MaxAge 0 did not panic")
		}
	}()
	retention.New(nil, retention.Options{})
}
